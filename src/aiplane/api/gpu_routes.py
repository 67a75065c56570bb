"""GET /api/v1/gpu and /api/v1/gpu/layout: the GPU pool, scoped to the caller."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from aiplane.api import guarding
from aiplane.api.services import Services
from aiplane.control.gpu import PoolStatus
from aiplane.domain.gpu import visibility
from aiplane.domain.gpu.pool import Gpu, Instance
from aiplane.domain.policy import Principal


def build_router(svc: Services) -> APIRouter:
    who = guarding.guard(svc.cache)
    router = APIRouter(prefix=guarding.PREFIX, dependencies=[Depends(who)])

    @router.get("/gpu", tags=["gpu"])
    def gpu_status(p: Principal = Depends(who)) -> dict[str, Any]:
        """Each GPU, its MIG instances and their owners (a tenant key sees its own; others' only as taken)."""
        return status_document(svc.gpu.status(p))

    @router.get("/gpu/layout", tags=["gpu"], response_class=PlainTextResponse)
    def gpu_layout(format: Literal["mig-parted"] = "mig-parted", p: Principal = Depends(who)) -> str:
        """The pool's current MIG layout as a mig-parted config (one config per node)."""
        return svc.gpu.mig_parted(p)

    return router


def status_document(s: PoolStatus) -> dict[str, Any]:
    if s.pool is None:
        return {"pool": None, "simulated": False, "gpus": [], "summary": None,
                "note": "no GPU pool: start aiplane with --gpu-inventory FILE, or on a machine with NVIDIA GPUs."}
    gpus = [_gpu(g, s.pool.simulated) for g in s.gpus]
    total = sum(g["compute_slices"]["total"] for g in gpus)
    allocated = sum(g["compute_slices"]["allocated"] for g in gpus)
    return {"pool": s.pool.source, "simulated": s.pool.simulated, "gpus": gpus,
            "summary": {"gpus": len(gpus), "gpus_in_use": sum(1 for g in s.gpus if g.busy),
                        "compute_slices": {"allocated": allocated, "total": total},
                        "allocated_percent": round(100 * allocated / total, 1) if total else 0.0}}


def _gpu(g: Gpu, simulated: bool) -> dict[str, Any]:
    m = g.model
    owned = [i for i in g.instances if i.owner is not None]
    compute = m.compute if owned and not g.mig else sum(m.profiles[i.profile].compute for i in owned)
    covered = sum(m.profiles[i.profile].size for i in g.instances if g.mig)
    return {"node": g.id.node, "index": g.id.index, "model": m.name, "mig": g.mig,
            "instances": [_instance(i, simulated) for i in g.instances],
            "compute_slices": {"allocated": compute, "total": m.compute},
            "memory_slices_free": (m.slices - covered) if g.mig else (0 if owned else m.slices)}


def _instance(i: Instance, simulated: bool) -> dict[str, Any]:
    if i.owner is None:
        return {"profile": i.profile, "start": i.start, "state": "free", "owner": None}
    if i.owner == visibility.TAKEN:
        return {"profile": i.profile, "start": i.start, "state": "taken", "owner": None}
    return {"profile": i.profile, "start": i.start, "state": "allocated",
            "owner": {"tenant": i.owner.tenant, "deployment": i.owner.deployment, "replica": i.owner.replica},
            "runs_on": "cpu (simulated pool)" if simulated else "gpu"}

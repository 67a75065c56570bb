"""GPU placement under contention: tenants racing for the last MIG slices of a pool, on SQLite
and on PostgreSQL (real databases, real threads, the real services): never two on one slice."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from aiplane.control.deployments import DeploymentService
from aiplane.control.supervisor import Supervisor
from aiplane.control.tenants import TenantService
from aiplane.domain.clock import SystemClock
from aiplane.domain.errors import Conflict
from aiplane.domain.gpu import inventory
from aiplane.domain.gpu.pool import violations
from aiplane.domain.policy import Principal
from aiplane.domain.registry import ModelVersion, Signature, TensorSpec
from aiplane.domain.roles import Role
from aiplane.store import gpu_allocations, models
from aiplane.store.database import Database

ADMIN = Principal("race-admin", Role.PLATFORM_ADMIN, None)
SIG = Signature((TensorSpec("input", "FP32", (-1, 4)),), (TensorSpec("label", "INT64", (-1,)),))
POOL = inventory.parse("simulated: true\nnodes: [{name: n, gpus: [{model: A100-80GB, count: 2}]}]\n", "pool")
TENANTS, EACH = ("a", "b", "c"), 8  # 24 one-slice deployments race for 14 slices


def test_racing_tenants_take_exactly_the_free_slices_and_never_share_one(db: Database, tmp_path: Path):
    clock = SystemClock()
    supervisor = Supervisor(tmp_path / "data", lambda digest: tmp_path / digest, 60.0, 1 << 20, lambda *_: None)
    tenants = TenantService(db, clock, lambda: None)
    deployments = DeploymentService(db, clock, supervisor, lambda: None, 60.0, POOL)
    for t in TENANTS:
        tenants.create(ADMIN, t, {"cpus": 100, "memory": "1Ti", "mig": {"1g.10gb": 100}})
        with db.write() as conn:
            models.add_version(conn, ModelVersion(t, "m", 0, "ab" * 32, 10, "onnx", SIG, {}, None),
                               datetime.now(timezone.utc))
    outcomes: dict[str, list[str]] = {"ok": [], "full": [], "other": []}
    start = threading.Barrier(len(TENANTS) * EACH)

    def attempt(tenant: str, i: int) -> None:
        start.wait()
        try:
            deployments.admit(ADMIN, tenant, f"d{i}", "m:1", {"device": "mig-1g.10gb"})
            outcomes["ok"].append(f"{tenant}{i}")
        except Conflict as exc:
            assert exc.message.startswith("not admitted to the GPU pool: mig-1g.10gb for ")
            outcomes["full"].append(f"{tenant}{i}")
        except Exception as exc:  # noqa: BLE001 - any other failure is a bug; report it below
            outcomes["other"].append(f"{tenant}{i}: {exc!r}")

    threads = [threading.Thread(target=attempt, args=(t, i)) for t in TENANTS for i in range(EACH)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == 14 and len(outcomes["full"]) == len(threads) - 14
    with db.read() as conn:
        layout = gpu_allocations.layout(conn, POOL)
        rows = gpu_allocations.all_allocations(conn)
    assert [v for g in layout for v in violations(g)] == []
    assert len(rows) == 14 and len({(a.gpu, a.start) for a in rows}) == 14
    assert sum(len(deployments.list(ADMIN, t)) for t in TENANTS) == 14  # a refusal left no deployment behind

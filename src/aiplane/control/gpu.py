"""GPU pool use-cases: the pool's status (scoped to the caller) and its layout as a mig-parted config."""

from __future__ import annotations

from dataclasses import dataclass

from aiplane.domain.gpu import visibility
from aiplane.domain.gpu.inventory import Inventory
from aiplane.domain.gpu.pool import Gpu
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.reporting import gpu_pool
from aiplane.store import gpu_allocations as gpu_rows
from aiplane.store.database import Database


@dataclass(frozen=True, slots=True)
class PoolStatus:
    pool: Inventory | None
    gpus: tuple[Gpu, ...]  # as the caller may see them


class GpuService:
    def __init__(self, db: Database, pool: Inventory | None) -> None:
        self.db, self.pool = db, pool

    def layout(self) -> tuple[Gpu, ...]:
        if self.pool is None:
            return ()
        with self.db.read() as conn:
            return gpu_rows.layout(conn, self.pool)

    def status(self, who: Principal) -> PoolStatus:
        authorize(who, Action.GPU_READ)
        return PoolStatus(self.pool, visibility.seen_by(self.layout(), who.tenant))

    def mig_parted(self, who: Principal) -> str:
        """The current layout as a mig-parted config; it names no tenant, so every reader may have it."""
        authorize(who, Action.GPU_READ)
        return gpu_pool.mig_parted(self.layout())

    def replica_device(self, deployment_id: int, replica: int) -> tuple[dict[str, str], list[str]]:
        """The environment and serve-model flags of a replica: nothing for a CPU replica; on a
        simulated pool the CPU, saying so; on a real GPU, CUDA_VISIBLE_DEVICES and the CUDA provider."""
        if self.pool is None:
            return {}, []
        with self.db.read() as conn:
            found = [a for a in gpu_rows.all_allocations(conn, deployment_id) if a.replica == replica]
        if not found:
            return {}, []
        alloc = found[0]
        gpu = self.pool.gpu(alloc.gpu)
        if alloc.simulated or gpu is None or gpu.uuid is None:
            return {"CUDA_VISIBLE_DEVICES": ""}, ["--device", "cpu", "--simulated"]
        visible = gpu.uuid
        if alloc.start is not None:
            from aiplane.runtime import nvml  # the NVML adapter, only on a real GPU

            visible = nvml.mig_device_uuid(gpu.uuid, alloc.start) or ""
        return {"CUDA_VISIBLE_DEVICES": visible}, ["--device", "cuda" if visible else "cpu"]

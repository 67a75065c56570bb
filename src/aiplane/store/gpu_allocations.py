"""GPU allocations: the pool's live layout (the inventory plus who holds what), placing replicas
in it and releasing them. Placing runs inside the admitting transaction, under the pool lock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa

from aiplane.domain.errors import Conflict
from aiplane.domain.gpu import placement
from aiplane.domain.gpu.inventory import Inventory
from aiplane.domain.gpu.pool import Demand, Gpu, GpuId, Instance, Owner
from aiplane.store.tables import deployments, gpu_allocations


@dataclass(frozen=True, slots=True)
class GpuAsk:
    """What `store.deployments.admit` places besides the quota check: these replicas of one
    deployment, each on one instance of `profile` (a MIG profile name, or "gpu")."""

    pool: Inventory
    deployment_id: int
    deployment: str
    profile: str
    replicas: tuple[int, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Allocation:
    deployment_id: int
    replica: int
    tenant: str
    gpu: GpuId
    gpu_model: str
    profile: str
    start: int | None
    simulated: bool
    started_at: datetime


def all_allocations(conn: sa.Connection, deployment_id: int | None = None) -> list[Allocation]:
    query = sa.select(gpu_allocations).order_by(gpu_allocations.c.node, gpu_allocations.c.gpu_index,
                                                gpu_allocations.c.start)
    if deployment_id is not None:
        query = query.where(gpu_allocations.c.deployment_id == deployment_id)
    return [Allocation(r["deployment_id"], r["replica"], r["tenant"], GpuId(r["node"], r["gpu_index"]),
                       r["gpu_model"], r["profile"], r["start"], bool(r["simulated"]), r["started_at"])
            for r in conn.execute(query).mappings()]


def layout(conn: sa.Connection, pool: Inventory) -> tuple[Gpu, ...]:
    """The inventory's GPUs with every allocation as an owned instance. An allocation on an
    instance the inventory declares (free) takes that instance; others are instances of their own."""
    names = {row.id: row.name for row in conn.execute(sa.select(deployments.c.id, deployments.c.name))}
    owned: dict[GpuId, list[Instance]] = {}
    for a in all_allocations(conn):
        owner = Owner(a.tenant, names.get(a.deployment_id, f"#{a.deployment_id}"), a.replica)
        owned.setdefault(a.gpu, []).append(Instance(a.profile, a.start, owner))
    out = []
    for g in pool.gpus:
        mine = owned.get(g.id, [])
        taken = {(i.profile, i.start) for i in mine}
        free = [i for i in g.instances if (i.profile, i.start) not in taken] if mine else list(g.instances)
        out.append(replace(g, instances=tuple(free + mine)) if mine else g)
    return tuple(out)


def place(conn: sa.Connection, tenant: str, ask: GpuAsk) -> list[Allocation]:
    """Place the asked replicas (nothing that runs moves) and record them, or refuse them all."""
    gpus = layout(conn, ask.pool)
    demands = [Demand(tenant, ask.deployment, ask.profile, r) for r in ask.replicas]
    result = placement.pack(gpus, demands)
    if result.refused:
        many = f"{len(result.refused)} of the {len(demands)} replicas asked for cannot be placed; the first: " \
            if len(demands) > 1 else ""
        raise Conflict(f"not admitted to the GPU pool: {many}{result.refused[0].reason} Free slices (scale down or delete "
                       "a deployment) or add GPUs to the inventory.")
    models = {g.id: g.model.name for g in gpus}
    made = [Allocation(ask.deployment_id, p.demand.replica, tenant, p.gpu, models[p.gpu], p.profile, p.start,
                       ask.pool.simulated, ask.at) for p in result.placed]
    conn.execute(gpu_allocations.insert(), [
        {"deployment_id": a.deployment_id, "replica": a.replica, "tenant": a.tenant, "node": a.gpu.node,
         "gpu_index": a.gpu.index, "gpu_model": a.gpu_model, "profile": a.profile, "start": a.start,
         "simulated": a.simulated, "started_at": a.started_at} for a in made])
    return made


def release(conn: sa.Connection, deployment_id: int, keep: int = 0) -> None:
    """Free the slices of the deployment's replicas numbered `keep` and above (all by default)."""
    conn.execute(gpu_allocations.delete().where(gpu_allocations.c.deployment_id == deployment_id,
                                                gpu_allocations.c.replica >= keep))

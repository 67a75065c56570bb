"""Deployment rows: desired state, admitted against the tenant's quota in the same transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from aiplane.domain import admission
from aiplane.domain.deployments import Canary, Deployment, DeploymentSpec
from aiplane.domain.errors import Conflict, NotFound
from aiplane.domain.gpu.inventory import Inventory
from aiplane.store import gpu_allocations as gpu_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.database import Database, inserted_id
from aiplane.store.tables import deployments, model_versions, models

_canary_versions = model_versions.alias("canary_versions")
_canary_models = models.alias("canary_models")
_JOINED = sa.select(
    deployments, model_versions.c.version.label("model_version"), model_versions.c.digest,
    models.c.name.label("model"), _canary_versions.c.version.label("canary_version"),
    _canary_versions.c.digest.label("canary_digest"), _canary_models.c.name.label("canary_model"),
).join(model_versions, model_versions.c.id == deployments.c.model_version_id).join(
    models, models.c.id == model_versions.c.model_id
).outerjoin(_canary_versions, _canary_versions.c.id == deployments.c.canary_model_version_id).outerjoin(
    _canary_models, _canary_models.c.id == _canary_versions.c.model_id
)


def to_deployment(row: sa.RowMapping) -> Deployment:
    spec = DeploymentSpec(
        model=row["model"], model_version=row["model_version"], device=row["device"],
        cpus_milli=row["cpus_milli"], memory_bytes=row["memory_bytes"],
        min_replicas=row["min_replicas"], max_replicas=row["max_replicas"],
        target_concurrency=row["target_concurrency"], max_batch_size=row["max_batch_size"],
        max_batch_delay_ms=row["max_batch_delay_ms"], payload_logging=bool(row["payload_logging"]),
        allow_non_finite=bool(row["allow_non_finite"]),
    )
    canary = None
    if row["canary_model_version_id"] is not None:
        canary = Canary(model=row["canary_model"], model_version=row["canary_version"],
                        artifact_digest=row["canary_digest"], percent=row["canary_percent"],
                        auto_rollback=bool(row["canary_auto_rollback"]), replicas=row["canary_replicas"])
    return Deployment(
        id=row["id"], tenant=row["tenant"], name=row["name"], spec=spec, artifact_digest=row["digest"],
        created_at=row["created_at"], created_by=row["created_by"], replicas=row["replicas"],
        canary=canary, rollout_note=row["rollout_note"],
    )


def usage(conn: sa.Connection, tenant: str) -> admission.Resources:
    total = admission.Resources()
    for d in list_all(conn, tenant):
        total = total.plus(d.reserved())
    return total


def admit(db: Database, conn: sa.Connection, tenant: str, asked: admission.Resources,
          gpu: gpu_rows.GpuAsk | None = None) -> list[gpu_rows.Allocation]:
    """The one admission point for every change that takes capacity (deploy, scale, update, and the
    canary and autoscaler when they come): lock the tenant's row, then check what is asked
    against the quota and what the tenant's deployments use; for GPU replicas, also place them
    on the pool (`gpu`) and record where. The lock lasts until the caller's transaction ends, so
    two racing changes can never both take the last unit or the last slice (SQLite: BEGIN
    IMMEDIATE already serialises writers; PostgreSQL: SELECT ... FOR UPDATE of the tenant, and of
    the pool for GPUs). Call it before the deployment row records the growth: what is asked is
    checked on top of what the rows say is in use."""
    row = db.lock_tenant(conn, tenant)
    if row is None:
        raise NotFound(f"tenant {tenant!r} does not exist; see 'aiplane tenant list'.")
    admission.check(tenant, tenant_rows.to_tenant(row).quota, usage(conn, tenant), asked)
    if gpu is None:
        return []
    db.lock_pool(conn)
    return gpu_rows.place(conn, tenant, gpu)


def _gpu_ask(pool: Inventory | None, deployment_id: int, name: str, spec: DeploymentSpec, replicas: range,
             at: datetime) -> gpu_rows.GpuAsk | None:
    profile = spec.gpu_profile
    if profile is None or not replicas:
        return None
    if pool is None:  # checked by the service first; a store on its own must not place either
        raise Conflict(f"device {spec.device!r} needs a GPU pool, and this aiplane has none.")
    return gpu_rows.GpuAsk(pool, deployment_id, name, profile, tuple(replicas), at)


def insert(db: Database, conn: sa.Connection, tenant: str, name: str, spec: DeploymentSpec,
           model_version_id: int, created_by: str | None, created_at: datetime,
           pool: Inventory | None = None) -> int:
    """Admit (and place, on a GPU device) and insert; the tenant row stays locked until the
    caller's transaction ends. The row is written first with no replicas, so its GPU
    allocations can name it; a refusal rolls the whole transaction back."""
    if db.lock_tenant(conn, tenant) is None:
        raise NotFound(f"tenant {tenant!r} does not exist; see 'aiplane tenant list'.")
    exists = conn.execute(
        sa.select(deployments.c.id).where(deployments.c.tenant == tenant, deployments.c.name == name)
    ).first()
    if exists:
        raise Conflict(f"deployment {tenant}/{name} already exists; delete it first or choose another name.")
    replicas = spec.desired_replicas
    result = conn.execute(
        deployments.insert().values(
            tenant=tenant, name=name, model_version_id=model_version_id, device=spec.device,
            cpus_milli=spec.cpus_milli, memory_bytes=spec.memory_bytes, min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas, replicas=0, target_concurrency=spec.target_concurrency,
            max_batch_size=spec.max_batch_size, max_batch_delay_ms=spec.max_batch_delay_ms,
            payload_logging=spec.payload_logging, allow_non_finite=spec.allow_non_finite, created_by=created_by,
            created_at=created_at,
        )
    )
    deployment_id = inserted_id(result)
    admit(db, conn, tenant, spec.per_replica().times(replicas),
          _gpu_ask(pool, deployment_id, name, spec, range(replicas), created_at))
    conn.execute(deployments.update().where(deployments.c.id == deployment_id).values(replicas=replicas))
    return deployment_id


def get_locked(db: Database, conn: sa.Connection, tenant: str, name: str) -> Deployment:
    """The deployment, read after locking its tenant's row, so no other change can move it (or
    the tenant's use) until the caller's transaction ends."""
    if db.lock_tenant(conn, tenant) is None:
        raise NotFound(f"tenant {tenant!r} does not exist; see 'aiplane tenant list'.")
    return get(conn, tenant, name)


def update(db: Database, conn: sa.Connection, current: Deployment, spec: DeploymentSpec,
           replicas: int, pool: Inventory | None = None, at: datetime | None = None) -> Deployment:
    """Admit what `spec` at `replicas` asks beyond what `current` holds (per resource, so a change
    that shrinks one resource and grows another is checked on the growth), placing added GPU
    replicas, then record it. `current` must come from `get_locked` in the same transaction."""
    canary = current.canary.replicas if current.canary is not None else 0  # runs with the same resources
    admit(db, conn, current.tenant, spec.per_replica().times(replicas + canary).minus(current.reserved()),
          _gpu_ask(pool, current.id, current.name, spec, range(current.replicas, replicas), at or current.created_at))
    return record(conn, current, spec, replicas)


def record(conn: sa.Connection, current: Deployment, spec: DeploymentSpec, replicas: int) -> Deployment:
    """Write `spec` and `replicas` over `current` without admission: only for putting back what
    was admitted and ran before (a change whose replicas could not start). Replicas beyond
    `replicas` give their GPU slices back."""
    gpu_rows.release(conn, current.id, keep=replicas)
    conn.execute(deployments.update().where(deployments.c.id == current.id).values(
        cpus_milli=spec.cpus_milli, memory_bytes=spec.memory_bytes, min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas, replicas=replicas, target_concurrency=spec.target_concurrency,
        max_batch_size=spec.max_batch_size, max_batch_delay_ms=spec.max_batch_delay_ms,
    ))
    return get(conn, current.tenant, current.name)


def scale(db: Database, conn: sa.Connection, tenant: str, name: str, replicas: int,
          pool: Inventory | None = None, at: datetime | None = None) -> Deployment:
    """Admit (and place) the growth, or free the slices of the replicas a shrink stops, and record
    `replicas` as the deployment's admitted count."""
    current = get_locked(db, conn, tenant, name)  # read after the lock, so the count cannot move under us
    growth = replicas - current.replicas
    if growth > 0:
        admit(db, conn, tenant, current.spec.per_replica().times(growth),
              _gpu_ask(pool, current.id, name, current.spec, range(current.replicas, replicas),
                       at or current.created_at))
    else:
        gpu_rows.release(conn, current.id, keep=replicas)
    conn.execute(deployments.update().where(deployments.c.id == current.id).values(replicas=replicas))
    return get(conn, tenant, name)


def set_canary(db: Database, conn: sa.Connection, current: Deployment, model_version_id: int, percent: int,
               auto_rollback: bool, replicas: int) -> Deployment:
    """Admit the canary's replicas (growth beyond what it holds) and record it. `current` was read
    with `get_locked` in this transaction."""
    if current.spec.gpu_profile is not None:
        raise Conflict(f"{current.tenant}/{current.name} runs on the GPU pool ({current.spec.device}), and canary "
                       "replicas are not placed on it yet; deploy the new version as a deployment of its own.")
    held = current.canary.replicas if current.canary is not None else 0
    if replicas > held:
        admit(db, conn, current.tenant, current.spec.per_replica().times(replicas - held))
    conn.execute(deployments.update().where(deployments.c.id == current.id).values(
        canary_model_version_id=model_version_id, canary_percent=percent, canary_replicas=replicas,
        canary_auto_rollback=auto_rollback))
    return get(conn, current.tenant, current.name)


def canary_version_id(conn: sa.Connection, deployment_id: int) -> int:
    value = conn.execute(sa.select(deployments.c.canary_model_version_id).where(
        deployments.c.id == deployment_id)).scalar_one()
    return int(value)


def end_canary(conn: sa.Connection, current: Deployment, promote: bool, note: str | None) -> Deployment:
    """Forget the canary (its capacity is freed); with `promote` its version becomes the stable
    one and its replicas the stable replicas."""
    values: dict[str, object] = dict(canary_model_version_id=None, canary_percent=0, canary_replicas=0,
                                     canary_auto_rollback=False, rollout_note=note)
    if promote:
        assert current.canary is not None
        # SET reads the row as it was, so the stable version becomes the canary's (SQLite, PostgreSQL).
        values.update(model_version_id=deployments.c.canary_model_version_id, replicas=current.canary.replicas)
    conn.execute(deployments.update().where(deployments.c.id == current.id).values(**values))
    return get(conn, current.tenant, current.name)


def get(conn: sa.Connection, tenant: str, name: str) -> Deployment:
    row = conn.execute(
        _JOINED.where(deployments.c.tenant == tenant, deployments.c.name == name)
    ).mappings().first()
    if row is None:
        raise NotFound(f"deployment {tenant}/{name} does not exist; see 'aiplane deploy list {tenant}'.")
    return to_deployment(row)


def list_all(conn: sa.Connection, tenant: str | None = None) -> list[Deployment]:
    query = _JOINED.order_by(deployments.c.tenant, deployments.c.name)
    if tenant is not None:
        query = query.where(deployments.c.tenant == tenant)
    return [to_deployment(r) for r in conn.execute(query).mappings()]


def delete(conn: sa.Connection, deployment_id: int) -> None:
    gpu_rows.release(conn, deployment_id)  # also by ON DELETE CASCADE; explicit, so no store relies on it
    conn.execute(deployments.delete().where(deployments.c.id == deployment_id))

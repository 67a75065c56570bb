"""Tenant rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from aiplane.domain.errors import Conflict, NotFound
from aiplane.domain.tenancy import Compliance, Quota, Tenant
from aiplane.store.tables import tenants


def to_tenant(row: sa.RowMapping) -> Tenant:
    return Tenant(
        name=row["name"],
        cost_center=row["cost_center"],
        compliance=tuple(Compliance(c) for c in row["compliance"]),
        created_at=row["created_at"],
        quota=Quota(
            cpus_milli=row["quota_cpus_milli"],
            memory_bytes=row["quota_memory_bytes"],
            gpus=row["quota_gpus"],
            mig=dict(row["quota_mig"] or {}),
            replicas=row["quota_replicas"],
            rate_limit=row["rate_limit"],
        ),
    )


def _quota_columns(q: Quota) -> dict[str, Any]:
    return {
        "quota_cpus_milli": q.cpus_milli,
        "quota_memory_bytes": q.memory_bytes,
        "quota_gpus": q.gpus,
        "quota_mig": dict(q.mig),
        "quota_replicas": q.replicas,
        "rate_limit": q.rate_limit,
    }


def insert(conn: sa.Connection, t: Tenant) -> None:
    if conn.execute(sa.select(tenants.c.name).where(tenants.c.name == t.name)).first():
        raise Conflict(f"tenant {t.name!r} already exists; choose another name or use 'tenant set-quota'.")
    conn.execute(
        tenants.insert().values(
            name=t.name,
            cost_center=t.cost_center,
            compliance=[c.value for c in t.compliance],
            created_at=t.created_at,
            **_quota_columns(t.quota),
        )
    )


def get(conn: sa.Connection, name: str) -> Tenant:
    row = conn.execute(sa.select(tenants).where(tenants.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"tenant {name!r} does not exist; see 'aiplane tenant list'.")
    return to_tenant(row)


def list_all(conn: sa.Connection) -> list[Tenant]:
    rows = conn.execute(sa.select(tenants).order_by(tenants.c.name)).mappings()
    return [to_tenant(r) for r in rows]


def update(conn: sa.Connection, name: str, quota: Quota, cost_center: str | None,
           compliance: tuple[Compliance, ...]) -> None:
    conn.execute(
        tenants.update().where(tenants.c.name == name).values(
            cost_center=cost_center, compliance=[c.value for c in compliance], **_quota_columns(quota)
        )
    )


def delete(conn: sa.Connection, name: str) -> None:
    conn.execute(tenants.delete().where(tenants.c.name == name))

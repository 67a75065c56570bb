"""Rows of the SSO mapping table (claim value -> tenant, role)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from aiplane.domain.identity import ClaimMapping, Grant
from aiplane.domain.roles import Role
from aiplane.store.tables import sso_mappings

_ORDER = (sso_mappings.c.id,)


def _mapping(row: Any) -> ClaimMapping:
    return ClaimMapping(row["id"], row["claim"], row["value"], Grant(row["tenant"], Role(row["role"])))


def list_all(conn: sa.Connection, tenant: str | None = None) -> list[ClaimMapping]:
    query = sa.select(sso_mappings).order_by(*_ORDER)
    if tenant is not None:
        query = query.where(sso_mappings.c.tenant == tenant)
    return [_mapping(r) for r in conn.execute(query).mappings()]


def find(conn: sa.Connection, claim: str, value: str, grant: Grant) -> ClaimMapping | None:
    c = sso_mappings.c
    tenant = c.tenant.is_(None) if grant.tenant is None else c.tenant == grant.tenant
    row = conn.execute(sa.select(sso_mappings).where(c.claim == claim, c.value == value, tenant,
                                                     c.role == grant.role.value)).mappings().first()
    return _mapping(row) if row is not None else None


def insert(conn: sa.Connection, claim: str, value: str, grant: Grant, now: datetime, created_by: str) -> ClaimMapping:
    result = conn.execute(sso_mappings.insert().values(claim=claim, value=value, tenant=grant.tenant,
                                                       role=grant.role.value, created_at=now, created_by=created_by[:32]))
    key: Any = result.inserted_primary_key
    return ClaimMapping(int(key[0]), claim, value, grant)


def delete(conn: sa.Connection, mapping_id: int) -> bool:
    return conn.execute(sso_mappings.delete().where(sso_mappings.c.id == mapping_id)).rowcount > 0


def delete_tenant(conn: sa.Connection, tenant: str) -> None:
    conn.execute(sso_mappings.delete().where(sso_mappings.c.tenant == tenant))

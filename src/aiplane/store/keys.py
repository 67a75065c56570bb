"""API key rows (hashes only; the secret is never stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

import sqlalchemy as sa

from aiplane.domain.errors import NotFound
from aiplane.domain.keys import KeyRecord
from aiplane.domain.roles import Role
from aiplane.store.tables import api_keys


def to_record(row: sa.RowMapping) -> KeyRecord:
    return KeyRecord(
        key_id=row["key_id"],
        hash=row["hash"],
        role=Role(row["role"]),
        tenant=row["tenant"],
        name=row["name"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        rate_limit=row["rate_limit"],
    )


def insert(conn: sa.Connection, k: KeyRecord, created_by: str | None) -> None:
    conn.execute(
        api_keys.insert().values(
            key_id=k.key_id, hash=k.hash, role=k.role.value, tenant=k.tenant, name=k.name,
            created_at=k.created_at, expires_at=k.expires_at, revoked_at=None, created_by=created_by,
            rate_limit=k.rate_limit,
        )
    )


def list_all(conn: sa.Connection, tenant: str | None = None) -> list[KeyRecord]:
    query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
    if tenant is not None:
        query = query.where(api_keys.c.tenant == tenant)
    return [to_record(r) for r in conn.execute(query).mappings()]


def get(conn: sa.Connection, key_id: str) -> KeyRecord:
    row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
    if row is None:
        raise NotFound(f"key {key_id!r} does not exist; see 'aiplane key list'.")
    return to_record(row)


def revoke(conn: sa.Connection, key_id: str, when: datetime) -> None:
    conn.execute(
        api_keys.update().where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=when)
    )


def active_admins(conn: sa.Connection, now: datetime, lock: bool = False) -> list[str]:
    """Ids of the platform-admin keys usable at `now`; `lock` holds their rows (PostgreSQL) so two
    revocations cannot each see the other's key as the one left."""
    c = api_keys.c
    query = sa.select(c.key_id).where(c.role == Role.PLATFORM_ADMIN.value, c.revoked_at.is_(None),
                                      sa.or_(c.expires_at.is_(None), c.expires_at > now))
    return [r[0] for r in conn.execute(query.with_for_update() if lock else query)]


def count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(api_keys)).scalar_one())


def touch(conn: sa.Connection, used: Mapping[str, datetime]) -> None:
    """Record when each key was last used (keys deleted meanwhile are simply not matched)."""
    for key_id, when in used.items():
        conn.execute(api_keys.update().where(api_keys.c.key_id == key_id).values(last_used_at=when))

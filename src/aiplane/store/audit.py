"""Audit log rows: read entries back for queries, proofs and verification, signed checkpoints,
tenant data keys and retention. Appending is `audit_appender`'s alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generator

import sqlalchemy as sa

from aiplane.domain.audit import Columns
from aiplane.domain.merkle import Frontier
from aiplane.store.database import Database
from aiplane.store.tables import audit_checkpoints, audit_data_keys, audit_head, audit_log, audit_retention


@dataclass(frozen=True, slots=True)
class Filters:
    tenant: str | None = None
    actor: str | None = None
    action: str | None = None
    deployment: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    last_hash: bytes
    frontier: Frontier


def lock_head(db: Database, conn: sa.Connection) -> Head:
    """The tree's head, locked until the transaction ends (SQLite: BEGIN IMMEDIATE already is)."""
    query = sa.select(audit_head.c.size, audit_head.c.last_hash, audit_head.c.frontier).where(audit_head.c.id == 1)
    if not db.is_sqlite:
        query = query.with_for_update()
    size, last, packed = conn.execute(query).one()
    return Head(int(size), bytes(last), Frontier.decode(int(size), bytes(packed)))


def head(conn: sa.Connection) -> Head:
    size, last, packed = conn.execute(
        sa.select(audit_head.c.size, audit_head.c.last_hash, audit_head.c.frontier)).one()
    return Head(int(size), bytes(last), Frontier.decode(int(size), bytes(packed)))


def stream(conn: sa.Connection, chunk: int = 20000,
           columns: bool = False) -> Generator[tuple[int, bytes, bytes | None, Columns | None], None, None]:
    """(position, leaf hash, entry or None, indexed columns or None) of every row in position
    order; the columns (audit.COLUMN_NAMES, for verification) only when asked for."""
    # The driver's own cursor: verification reads every row, and this is about 3x faster than
    # SQLAlchemy's rows. On PostgreSQL a named (server-side) cursor, so the log is never held in
    # memory whole, in binary format, so the hashes and entries arrive as bytes instead of hex text.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    sqlite = conn.dialect.name == "sqlite"
    cursor = dbapi.cursor() if sqlite else dbapi.cursor(name="aiplane_audit_stream", binary=True)
    extra = ", audit_id, tenant, actor, action, deployment, created_at" if columns else ""
    try:
        cursor.execute(f"SELECT seq, leaf_hash, entry{extra} FROM audit_log ORDER BY seq")
        while True:
            part = cursor.fetchmany(chunk)
            if not part:
                return
            if not columns:
                for seq, leaf, entry in part:
                    yield seq, leaf, entry, None
                continue
            for seq, leaf, entry, audit_id, tenant, actor, action, deployment, created in part:
                yield seq, leaf, entry, (audit_id, tenant, actor, action, deployment, created)
    finally:
        cursor.close()


def leaf_hashes(conn: sa.Connection, size: int) -> list[bytes]:
    rows = conn.execute(sa.select(audit_log.c.leaf_hash).where(audit_log.c.seq < size).order_by(audit_log.c.seq))
    return [bytes(r[0]) for r in rows]


def _where(query: Any, f: Filters) -> Any:
    c = audit_log.c
    for column, value in ((c.tenant, f.tenant), (c.actor, f.actor), (c.action, f.action),
                          (c.deployment, f.deployment)):
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(c.created_at >= f.since)
    if f.until is not None:
        query = query.where(c.created_at < f.until)
    return query


def query(conn: sa.Connection, f: Filters, limit: int, after: int = -1, newest_first: bool = False,
          platform_only: bool = False) -> list[tuple[int, bytes | None, bool]]:
    """(position, entry, payload kept?) of matching rows; pruned rows have no entry."""
    q = _where(sa.select(audit_log.c.seq, audit_log.c.entry, audit_log.c.payload.is_not(None)), f)
    if platform_only:
        q = q.where(audit_log.c.tenant.is_(None))
    q = q.where(audit_log.c.seq > after)
    q = q.order_by(audit_log.c.seq.desc() if newest_first else audit_log.c.seq).limit(limit)
    return [(int(s), bytes(e) if e is not None else None, bool(p)) for s, e, p in conn.execute(q)]


def matching_positions(conn: sa.Connection, f: Filters) -> set[int]:
    return {int(r[0]) for r in conn.execute(_where(sa.select(audit_log.c.seq), f))}


def find(conn: sa.Connection, audit_id: str) -> Any:
    return conn.execute(sa.select(audit_log).where(audit_log.c.audit_id == audit_id)).mappings().first()


# Checkpoints

def checkpoints(conn: sa.Connection) -> list[str]:
    return [r[0] for r in conn.execute(sa.select(audit_checkpoints.c.text).order_by(audit_checkpoints.c.size))]


def latest_checkpoint(conn: sa.Connection) -> str | None:
    return conn.execute(sa.select(audit_checkpoints.c.text).order_by(
        audit_checkpoints.c.size.desc()).limit(1)).scalar_one_or_none()


def checkpoint_at(conn: sa.Connection, size: int) -> str | None:
    return conn.execute(sa.select(audit_checkpoints.c.text).where(
        audit_checkpoints.c.size == size)).scalar_one_or_none()


def insert_checkpoint(conn: sa.Connection, size: int, text: str, now: datetime) -> None:
    conn.execute(audit_checkpoints.insert().values(size=size, text=text, created_at=now))


# Tenant data keys (payload logging)

def data_key(conn: sa.Connection, key_id: int) -> bytes | None:
    value = conn.execute(sa.select(audit_data_keys.c.wrapped).where(audit_data_keys.c.id == key_id)).scalar_one_or_none()
    return bytes(value) if value is not None else None


def destroy_data_keys(conn: sa.Connection, tenant: str, now: datetime) -> int:
    result = conn.execute(audit_data_keys.update().where(
        audit_data_keys.c.tenant == tenant, audit_data_keys.c.wrapped.is_not(None)).values(wrapped=None, destroyed_at=now))
    return int(result.rowcount)


# Retention

def retention(conn: sa.Connection) -> dict[str, int]:
    return {t: int(d) for t, d in conn.execute(sa.select(audit_retention.c.tenant, audit_retention.c.days))}


def set_retention(conn: sa.Connection, tenant: str, days: int) -> None:
    conn.execute(audit_retention.delete().where(audit_retention.c.tenant == tenant))
    conn.execute(audit_retention.insert().values(tenant=tenant, days=days))


def tenants_in_log(conn: sa.Connection) -> list[str | None]:
    return [r[0] for r in conn.execute(sa.select(audit_log.c.tenant).distinct())]


def prune(conn: sa.Connection, tenant: str | None, before: datetime) -> int:
    """Drop the content of a tenant's entries older than `before`; leaf hashes stay."""
    c = audit_log.c
    owner = c.tenant.is_(None) if tenant is None else c.tenant == tenant
    result = conn.execute(audit_log.update().where(owner, c.created_at < before, c.entry.is_not(None)).values(
        entry=None, payload=None, actor=None, deployment=None))
    return int(result.rowcount)

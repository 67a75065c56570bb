"""Rows of ready replica sockets per deployment: replaced by the supervising process, read by
gateway workers when the state generation moves."""

from __future__ import annotations

from typing import Mapping, Sequence

import sqlalchemy as sa

from aiplane.store.tables import replica_endpoints


def replace(conn: sa.Connection, changes: Mapping[int, Sequence[str]]) -> None:
    """Make the ready sockets of each deployment in `changes` exactly the ones given."""
    for deployment_id, sockets in changes.items():
        conn.execute(replica_endpoints.delete().where(replica_endpoints.c.deployment_id == deployment_id))
        if sockets:
            conn.execute(replica_endpoints.insert(),
                         [{"deployment_id": deployment_id, "socket": s} for s in sockets])


def clear(conn: sa.Connection) -> None:
    """Forget every endpoint (at start: the sockets of a previous run are gone)."""
    conn.execute(replica_endpoints.delete())


def list_all(conn: sa.Connection) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    query = sa.select(replica_endpoints.c.deployment_id, replica_endpoints.c.socket).order_by(
        replica_endpoints.c.deployment_id, replica_endpoints.c.socket)
    for deployment_id, socket in conn.execute(query):
        out.setdefault(int(deployment_id), []).append(str(socket))
    return out

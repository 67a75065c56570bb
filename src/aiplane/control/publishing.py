"""Publishing the ready replicas to the store, for gateway workers in other processes.

The supervisor announces readiness changes on the event loop; the store write must not run
there (it may wait for another process's transaction), so changes are coalesced and written
by one owned task, newest state winning. Each write bumps the state generation, which the
workers poll, so a worker routes only to replicas the supervisor last saw ready.
"""

from __future__ import annotations

import asyncio
import logging

from aiplane.store import replica_endpoints
from aiplane.store.database import Database

log = logging.getLogger("aiplane.supervisor")


class EndpointPublisher:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[int, list[str]] = {}
        self._wake = asyncio.Event()

    def changed(self, deployment_id: int, sockets: list[str]) -> None:
        """Record the ready sockets of a deployment (called on the event loop; never blocks)."""
        self._pending[deployment_id] = list(sockets)
        self._wake.set()

    def clear(self) -> None:
        """Forget the endpoints of a previous run (runs before any replica starts)."""
        with self.db.write() as conn:
            replica_endpoints.clear(conn)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:  # the store may be briefly unreachable: keep the newest state and retry
                log.warning("publishing ready replicas failed; retrying", exc_info=True)
                self._pending = {**batch, **self._pending}
                self._wake.set()
                await asyncio.sleep(1.0)

    def _write(self, batch: dict[int, list[str]]) -> None:
        with self.db.write() as conn:
            replica_endpoints.replace(conn, batch)

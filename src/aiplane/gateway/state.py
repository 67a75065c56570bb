"""In-memory view of keys and deployments, so the hot path never touches the store.

Reloaded whenever the store's state generation moves (polled), and at once after a change
made in this process.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiplane.domain import keys
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Unauthorized
from aiplane.domain.keys import KeyRecord
from aiplane.domain.policy import Principal
from aiplane.store import deployments as deployment_rows
from aiplane.store import keys as key_rows
from aiplane.store.database import Database

_DUMMY_HASH = keys.digest("aip_000000000000_" + "0" * 48)


@dataclass(frozen=True, slots=True)
class Route:
    deployment_id: int
    tenant: str
    name: str
    model_version: str


class StateCache:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.generation = -1
        self._keys: dict[str, KeyRecord] = {}
        self._routes: dict[tuple[str, str], Route] = {}

    def reload(self) -> None:
        generation = self.db.generation()
        with self.db.read() as conn:
            records = key_rows.list_all(conn)
            deployments = deployment_rows.list_all(conn)
        self._keys = {k.key_id: k for k in records}
        self._routes = {
            (d.tenant, d.name): Route(d.id, d.tenant, d.name, str(d.spec.model_version)) for d in deployments
        }
        self.generation = generation

    def reload_if_changed(self) -> bool:
        if self.db.generation() != self.generation:
            self.reload()
            return True
        return False

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an `Authorization: Bearer <key>` header, or Unauthorized."""
        if not authorization:
            raise Unauthorized("no API key was sent; send 'Authorization: Bearer <key>'.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must read 'Bearer <key>'.")
        token = token.strip()
        key_id = keys.key_id_of(token)
        record = self._keys.get(key_id) if key_id else None
        # Hash and compare even for an unknown key id, so timing does not tell which ids exist.
        ok = keys.matches(token, record.hash if record else _DUMMY_HASH)
        if record is None or not ok or not record.usable_at(self.clock.now()):
            raise Unauthorized("the API key is unknown, revoked or expired; ask an admin for a new one.")
        return Principal(key_id=record.key_id, role=record.role, tenant=record.tenant)

    def route(self, tenant: str, name: str) -> Route | None:
        return self._routes.get((tenant, name))

    def routes_of(self, tenant: str) -> list[Route]:
        return [r for (t, _), r in self._routes.items() if t == tenant]

"""The SSO mapping table's use-cases: platform-admins map claim values to (tenant, role)."""

from __future__ import annotations

from typing import Callable

from aiplane.domain import identity
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Conflict, NotFound
from aiplane.domain.identity import ClaimMapping
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.domain.roles import Role
from aiplane.store import sso as sso_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.database import Database


class SsoService:
    def __init__(self, db: Database, clock: Clock, on_change: Callable[[], None]) -> None:
        self.db, self.clock, self.on_change = db, clock, on_change

    def map(self, who: Principal, claim: str, value: str, tenant: str | None, role: str) -> ClaimMapping:
        authorize(who, Action.SSO_MANAGE)
        grant = identity.check_mapping(claim, value, tenant, Role.parse(role))
        with self.db.write() as conn:
            if tenant is not None:
                tenant_rows.get(conn, tenant)  # NotFound names it
            existing = sso_rows.find(conn, claim, value, grant)
            if existing is not None:
                raise Conflict(f"claim {claim}={value!r} is already mapped to role {role!r}"
                               f"{' in tenant ' + repr(tenant) if tenant else ''} (mapping {existing.id}).")
            mapping = sso_rows.insert(conn, claim, value, grant, self.clock.now(), who.key_id)
        self.on_change()
        return mapping

    def list(self, who: Principal) -> list[ClaimMapping]:
        authorize(who, Action.SSO_MANAGE)
        with self.db.read() as conn:
            return sso_rows.list_all(conn)

    def unmap(self, who: Principal, mapping_id: int) -> None:
        authorize(who, Action.SSO_MANAGE)
        with self.db.write() as conn:
            if not sso_rows.delete(conn, mapping_id):
                raise NotFound(f"SSO mapping {mapping_id} does not exist; 'aiplane sso list' shows the mappings.")
        self.on_change()

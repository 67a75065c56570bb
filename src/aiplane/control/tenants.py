"""Tenant use-cases."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from aiplane.domain import admission, names
from aiplane.domain.clock import Clock
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.domain.tenancy import Compliance, Tenant, parse_quota
from aiplane.store import deployments as deployment_rows
from aiplane.store import sso as sso_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.database import Database


@dataclass(frozen=True, slots=True)
class QuotaReport:
    tenant: Tenant
    used: admission.Resources


@dataclass(frozen=True, slots=True)
class TenantUpdate:
    tenant: Tenant
    warnings: tuple[str, ...]  # resources now used above their (lowered) limit


class TenantService:
    def __init__(self, db: Database, clock: Clock, on_change: Callable[[], None]) -> None:
        self.db, self.clock, self.on_change = db, clock, on_change

    def create(self, who: Principal, name: str, quota: Mapping[str, Any], cost_center: str | None = None,
               compliance: list[str] | str | None = None) -> Tenant:
        authorize(who, Action.TENANT_CREATE)
        tenant = Tenant(
            name=names.check("tenant", name), quota=parse_quota(**quota), cost_center=cost_center,
            compliance=Compliance.parse_list(compliance), created_at=self.clock.now(),
        )
        with self.db.write() as conn:
            tenant_rows.insert(conn, tenant)
        self.on_change()
        return tenant

    def list(self, who: Principal) -> list[Tenant]:
        with self.db.read() as conn:
            tenants = tenant_rows.list_all(conn)
        if who.tenant is not None:
            authorize(who, Action.TENANT_READ, who.tenant)
            return [t for t in tenants if t.name == who.tenant]
        authorize(who, Action.TENANT_LIST)
        return tenants

    def get(self, who: Principal, name: str) -> Tenant:
        authorize(who, Action.TENANT_READ, name)
        with self.db.read() as conn:
            return tenant_rows.get(conn, name)

    def quota(self, who: Principal, name: str) -> QuotaReport:
        authorize(who, Action.TENANT_READ, name)
        with self.db.read() as conn:
            return QuotaReport(tenant_rows.get(conn, name), deployment_rows.usage(conn, name))

    def update(self, who: Principal, name: str, quota: Mapping[str, Any], cost_center: str | None = None,
               compliance: builtins.list[str] | str | None = None) -> TenantUpdate:
        """Change quotas and labels. A limit below current use is accepted (what runs keeps
        running) and reported in `warnings`; admission then refuses growth until use falls."""
        authorize(who, Action.TENANT_UPDATE, name)
        with self.db.write() as conn:
            current = tenant_rows.get(conn, name)
            new_quota = parse_quota(**quota, base=current.quota)
            new_compliance = current.compliance if compliance is None else Compliance.parse_list(compliance)
            new_cost_center = current.cost_center if cost_center is None else cost_center
            tenant_rows.update(conn, name, new_quota, new_cost_center, new_compliance)
            updated = tenant_rows.get(conn, name)
            warnings = admission.over_limit(name, new_quota, deployment_rows.usage(conn, name))
        self.on_change()
        return TenantUpdate(updated, tuple(warnings))

    def deployments_of(self, who: Principal, name: str) -> builtins.list[int]:
        """Ids of the tenant's deployments, checked for deletion rights first."""
        authorize(who, Action.TENANT_DELETE, name)
        with self.db.read() as conn:
            tenant_rows.get(conn, name)
            return [d.id for d in deployment_rows.list_all(conn, name)]

    def delete(self, who: Principal, name: str) -> None:
        authorize(who, Action.TENANT_DELETE, name)
        with self.db.write() as conn:
            tenant_rows.get(conn, name)
            for d in deployment_rows.list_all(conn, name):
                deployment_rows.delete(conn, d.id)
            sso_rows.delete_tenant(conn, name)  # a tenant made again later must not inherit them
            tenant_rows.delete(conn, name)
        self.on_change()

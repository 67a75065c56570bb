"""Who may do what: one table of role x action, and one scope rule.

Every control-plane route and every data-plane call names its Action; `authorize` is the
only place that decides. A key bound to a tenant acts only inside that tenant; a key without
a tenant (platform-admin, or an auditor created by a platform-admin) acts in every tenant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aiplane.domain.errors import Forbidden
from aiplane.domain.roles import Role


class Action(str, enum.Enum):
    TENANT_CREATE = "tenant.create"
    TENANT_LIST = "tenant.list"
    TENANT_READ = "tenant.read"
    TENANT_UPDATE = "tenant.update"
    TENANT_DELETE = "tenant.delete"
    KEY_CREATE = "key.create"
    KEY_READ = "key.read"
    KEY_REVOKE = "key.revoke"
    MODEL_REGISTER = "model.register"
    MODEL_READ = "model.read"
    DEPLOYMENT_WRITE = "deployment.write"
    DEPLOYMENT_READ = "deployment.read"
    PREDICT = "predict"
    AUDIT_READ = "audit.read"
    COST_READ = "cost.read"


_TENANT_ADMIN = frozenset(
    {
        Action.TENANT_READ,
        Action.KEY_CREATE,
        Action.KEY_READ,
        Action.KEY_REVOKE,
        Action.MODEL_REGISTER,
        Action.MODEL_READ,
        Action.DEPLOYMENT_WRITE,
        Action.DEPLOYMENT_READ,
        Action.PREDICT,
        Action.AUDIT_READ,
        Action.COST_READ,
    }
)

ALLOWED: dict[Role, frozenset[Action]] = {
    Role.PLATFORM_ADMIN: frozenset(Action),
    Role.TENANT_ADMIN: _TENANT_ADMIN,
    Role.DEPLOYER: frozenset(
        {
            Action.TENANT_READ,
            Action.MODEL_REGISTER,
            Action.MODEL_READ,
            Action.DEPLOYMENT_WRITE,
            Action.DEPLOYMENT_READ,
        }
    ),
    Role.PREDICTOR: frozenset({Action.PREDICT}),
    Role.AUDITOR: frozenset({Action.AUDIT_READ, Action.COST_READ}),
}

# Roles a tenant-admin may hand out inside its own tenant.
GRANTABLE_BY_TENANT_ADMIN = frozenset({Role.TENANT_ADMIN, Role.DEPLOYER, Role.PREDICTOR, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: which key, which role, bound to which tenant (None = all)."""

    key_id: str
    role: Role
    tenant: str | None

    def may(self, action: Action) -> bool:
        return action in ALLOWED[self.role]

    def sees(self, tenant: str) -> bool:
        return self.tenant is None or self.tenant == tenant


def authorize(principal: Principal, action: Action, tenant: str | None = None) -> None:
    """Raise Forbidden unless `principal` may perform `action` (in `tenant`, when given)."""
    if not principal.may(action):
        raise Forbidden(f"role {principal.role.value!r} may not perform {action.value!r}.")
    if tenant is not None and not principal.sees(tenant):
        raise Forbidden(f"this key belongs to tenant {principal.tenant!r} and may not act in {tenant!r}.")


def check_grant(granter: Principal, role: Role, tenant: str | None) -> None:
    """Raise Forbidden unless `granter` may create a key with `role` in `tenant`."""
    authorize(granter, Action.KEY_CREATE, tenant)
    if granter.role is Role.PLATFORM_ADMIN:
        return
    if tenant is None or role not in GRANTABLE_BY_TENANT_ADMIN:
        raise Forbidden(f"role {granter.role.value!r} may not create a {role.value!r} key outside its tenant.")

"""Who may do what: one table of role x action, and one scope rule.

Every control-plane route and every data-plane call names its Action; `authorize` is the
only place that decides. A key bound to a tenant acts only inside that tenant; a key without
a tenant (platform-admin, or an auditor created by a platform-admin) acts in every tenant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiplane.domain.errors import Forbidden
from aiplane.domain.roles import Role

if TYPE_CHECKING:
    from aiplane.domain.identity import Person


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
    GPU_READ = "gpu.read"  # the pool's layout; a tenant key sees only its own instances' owners
    PLAN = "plan"  # the planner reads no tenant data: any valid key may plan
    SSO_MANAGE = "sso.manage"  # the claim -> (tenant, role) mappings: platform-admins only


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
        Action.GPU_READ,
        Action.PLAN,
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
            Action.GPU_READ,
            Action.PLAN,
        }
    ),
    Role.PREDICTOR: frozenset({Action.PREDICT, Action.PLAN}),
    Role.AUDITOR: frozenset({Action.AUDIT_READ, Action.COST_READ, Action.GPU_READ, Action.PLAN}),
}

# Roles a tenant-admin may hand out inside its own tenant.
GRANTABLE_BY_TENANT_ADMIN = frozenset({Role.TENANT_ADMIN, Role.DEPLOYER, Role.PREDICTOR, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: which key, which role, bound to which tenant (None = all).

    A person signed in through SSO is one too, for one call: `key_id` is their actor id, `role`
    the strongest of the roles their mappings give in `tenant` and `roles` the others (the
    union counts), `user` who they are (aiplane.domain.identity builds it)."""

    key_id: str
    role: Role
    tenant: str | None
    rate_limit: float | None = None  # the key's own requests per second, when it has one
    roles: frozenset[Role] = frozenset()  # SSO: further roles held in the same tenant
    user: Person | None = None  # SSO: the person; None for a key

    def may(self, action: Action) -> bool:
        return action in ALLOWED[self.role] or (bool(self.roles) and any(action in ALLOWED[r] for r in self.roles))

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


# --- Every route, both planes: which action it performs, and where its tenant comes from. ---


class Scope(str, enum.Enum):
    """Where a route finds the tenant it acts in."""

    PUBLIC = "public"    # no key needed (health, metrics, API docs)
    PLATFORM = "platform"  # not inside a tenant: the action alone decides (tenant.create)
    PATH = "path"        # the {tenant} path parameter
    OWN = "own"          # the caller's own tenant, or every tenant for a platform key (lists filter)
    QUERY = "query"      # the optional ?tenant= parameter; without it, as OWN
    BODY = "body"        # the "tenant" field of the request body (checked by the service)
    KEY = "key"          # the tenant of the key named in the path (checked by the service)
    DATA = "data"        # data plane: the key's tenant, or X-Aiplane-Tenant for a platform key


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    action: Action | None  # None only for PUBLIC routes
    scope: Scope


def _p(action: Action, scope: Scope) -> RoutePolicy:
    return RoutePolicy(action, scope)


_PUBLIC = RoutePolicy(None, Scope.PUBLIC)
_PREDICT = RoutePolicy(Action.PREDICT, Scope.DATA)

# (method, path template) -> policy. The control API refuses to start with a route missing
# here, the gateway answers only the /v2 routes listed here, and the test of the access
# matrix derives every expected status from this table.
ROUTES: dict[tuple[str, str], RoutePolicy] = {
    ("POST", "/api/v1/tenants"): _p(Action.TENANT_CREATE, Scope.PLATFORM),
    ("GET", "/api/v1/tenants"): _p(Action.TENANT_READ, Scope.OWN),
    ("GET", "/api/v1/tenants/{tenant}"): _p(Action.TENANT_READ, Scope.PATH),
    ("PATCH", "/api/v1/tenants/{tenant}"): _p(Action.TENANT_UPDATE, Scope.PATH),
    ("DELETE", "/api/v1/tenants/{tenant}"): _p(Action.TENANT_DELETE, Scope.PATH),
    ("GET", "/api/v1/tenants/{tenant}/quota"): _p(Action.TENANT_READ, Scope.PATH),
    ("POST", "/api/v1/keys"): _p(Action.KEY_CREATE, Scope.BODY),
    ("GET", "/api/v1/keys"): _p(Action.KEY_READ, Scope.QUERY),
    ("DELETE", "/api/v1/keys/{key_id}"): _p(Action.KEY_REVOKE, Scope.KEY),
    ("GET", "/api/v1/models"): _p(Action.MODEL_READ, Scope.OWN),
    ("GET", "/api/v1/tenants/{tenant}/models"): _p(Action.MODEL_READ, Scope.PATH),
    ("POST", "/api/v1/tenants/{tenant}/models/{model}/versions"): _p(Action.MODEL_REGISTER, Scope.PATH),
    ("GET", "/api/v1/tenants/{tenant}/models/{model}/versions"): _p(Action.MODEL_READ, Scope.PATH),
    ("GET", "/api/v1/tenants/{tenant}/models/{model}/versions/{version}"): _p(Action.MODEL_READ, Scope.PATH),
    # Quantizing registers a version; profiling stores a measurement with one: both write.
    ("POST", "/api/v1/tenants/{tenant}/models/{model}/versions/{version}/quantize"): _p(Action.MODEL_REGISTER,
                                                                                        Scope.PATH),
    ("POST", "/api/v1/tenants/{tenant}/models/{model}/versions/{version}/profile"): _p(Action.MODEL_REGISTER,
                                                                                       Scope.PATH),
    ("GET", "/api/v1/deployments"): _p(Action.DEPLOYMENT_READ, Scope.OWN),
    ("POST", "/api/v1/tenants/{tenant}/deployments"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("GET", "/api/v1/tenants/{tenant}/deployments"): _p(Action.DEPLOYMENT_READ, Scope.PATH),
    ("GET", "/api/v1/tenants/{tenant}/deployments/{name}"): _p(Action.DEPLOYMENT_READ, Scope.PATH),
    ("DELETE", "/api/v1/tenants/{tenant}/deployments/{name}"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("PATCH", "/api/v1/tenants/{tenant}/deployments/{name}"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/scale"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/canary"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/promote"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/rollback"): _p(Action.DEPLOYMENT_WRITE, Scope.PATH),
    ("POST", "/api/v1/plan"): _p(Action.PLAN, Scope.PLATFORM),
    ("POST", "/api/v1/sso/mappings"): _p(Action.SSO_MANAGE, Scope.PLATFORM),
    ("GET", "/api/v1/sso/mappings"): _p(Action.SSO_MANAGE, Scope.PLATFORM),
    ("DELETE", "/api/v1/sso/mappings/{mapping_id}"): _p(Action.SSO_MANAGE, Scope.PLATFORM),
    # The GPU pool: every GPU, but a tenant key sees only its own instances' owners (the service
    # narrows OWN routes); the mig-parted layout names no tenant.
    ("GET", "/api/v1/gpu"): _p(Action.GPU_READ, Scope.OWN),
    ("GET", "/api/v1/gpu/layout"): _p(Action.GPU_READ, Scope.OWN),
    # The audit trail: a tenant-bound key reads only its tenant's events (the service narrows
    # OWN routes to them); erasure, retention and pruning change what is kept.
    ("GET", "/api/v1/audit"): _p(Action.AUDIT_READ, Scope.QUERY),
    ("GET", "/api/v1/audit/export"): _p(Action.AUDIT_READ, Scope.QUERY),
    ("GET", "/api/v1/audit/verify"): _p(Action.AUDIT_READ, Scope.OWN),
    ("GET", "/api/v1/audit/public-key"): _p(Action.AUDIT_READ, Scope.OWN),
    ("GET", "/api/v1/audit/checkpoints"): _p(Action.AUDIT_READ, Scope.OWN),
    ("POST", "/api/v1/audit/checkpoints"): _p(Action.AUDIT_READ, Scope.OWN),
    ("GET", "/api/v1/audit/events/{audit_id}/proof"): _p(Action.AUDIT_READ, Scope.OWN),
    ("GET", "/api/v1/audit/events/{audit_id}/payload"): _p(Action.AUDIT_READ, Scope.OWN),
    ("GET", "/api/v1/audit/consistency"): _p(Action.AUDIT_READ, Scope.OWN),
    ("POST", "/api/v1/audit/prune"): _p(Action.TENANT_UPDATE, Scope.PLATFORM),
    ("POST", "/api/v1/tenants/{tenant}/erase-payloads"): _p(Action.TENANT_UPDATE, Scope.PATH),
    ("PUT", "/api/v1/tenants/{tenant}/audit-retention"): _p(Action.TENANT_UPDATE, Scope.PATH),
    ("GET", "/v2"): _PREDICT,
    ("GET", "/v2/models/{name}"): _PREDICT,
    ("GET", "/v2/models/{name}/ready"): _PREDICT,
    ("POST", "/v2/models/{name}/infer"): _PREDICT,
    ("GET", "/v2/models/{name}/versions/{version}"): _PREDICT,
    ("GET", "/v2/models/{name}/versions/{version}/ready"): _PREDICT,
    ("POST", "/v2/models/{name}/versions/{version}/infer"): _PREDICT,
    ("POST", "/v2/repository/index"): _PREDICT,
    ("GET", "/v2/health/live"): _PUBLIC,
    ("GET", "/v2/health/ready"): _PUBLIC,
    ("GET", "/healthz"): _PUBLIC,
    ("GET", "/readyz"): _PUBLIC,
    ("GET", "/metrics"): _PUBLIC,
    ("GET", "/openapi.json"): _PUBLIC,
    ("GET", "/docs"): _PUBLIC,
    ("GET", "/docs/oauth2-redirect"): _PUBLIC,
    ("GET", "/redoc"): _PUBLIC,
}


# The gRPC face of the data plane (inference.GRPCInferenceService) has no table of its own:
# each method is the HTTP route it mirrors, so one entry above decides both transports.
GRPC_METHODS: dict[str, tuple[str, str]] = {
    "ServerLive": ("GET", "/v2/health/live"),
    "ServerReady": ("GET", "/v2/health/ready"),
    "ServerMetadata": ("GET", "/v2"),
    "ModelMetadata": ("GET", "/v2/models/{name}/versions/{version}"),
    "ModelReady": ("GET", "/v2/models/{name}/versions/{version}/ready"),
    "ModelInfer": ("POST", "/v2/models/{name}/versions/{version}/infer"),
}


def route_policy(method: str, template: str) -> RoutePolicy:
    """The policy of a declared route; KeyError names a route that has none (a bug, found at start)."""
    try:
        return ROUTES[(method, template)]
    except KeyError:
        raise KeyError(f"route {method} {template} has no entry in aiplane.domain.policy.ROUTES") from None


def _segments(template: str) -> tuple[str, ...]:
    return tuple(template.strip("/").split("/"))


# Data-plane templates by segment count, so matching a path is one dict lookup and a short loop.
def _index_data_plane() -> dict[int, list[tuple[str, tuple[str, ...], str, RoutePolicy]]]:
    index: dict[int, list[tuple[str, tuple[str, ...], str, RoutePolicy]]] = {}
    for (method, template), policy in ROUTES.items():
        if template.startswith("/v2"):
            index.setdefault(len(_segments(template)), []).append((method, _segments(template), template, policy))
    return index


_DATA_PLANE = _index_data_plane()


def match_data_plane(method: str, path: str) -> tuple[str, RoutePolicy, dict[str, str]] | None:
    """(template, policy, path parameters) of the /v2 route `method path` names, or None."""
    parts = path.strip("/").split("/")
    for m, segments, template, policy in _DATA_PLANE.get(len(parts), ()):
        if m != method:
            continue
        params: dict[str, str] = {}
        for want, got in zip(segments, parts):
            if want[0] == "{":
                if not got:
                    break
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            return template, policy, params
    return None

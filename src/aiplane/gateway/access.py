"""Who may reach which model on the data plane, for every transport (HTTP /v2 and gRPC).

The rules: the route's policy names the action the key's role must allow; a tenant-bound key
sees only its own tenant's deployments (another tenant's do not exist for it), a platform key
names the tenant it acts in; a model is a deployment's name, and a version, when given, must be
one deployed (the stable one or the canary's).
"""

from __future__ import annotations

from aiplane.domain import rollout
from aiplane.domain.errors import Forbidden, InvalidInput, NotFound
from aiplane.domain.policy import Principal, RoutePolicy
from aiplane.gateway.forwarding import RoutingTable
from aiplane.gateway.state import Route, StateCache


def check_role(principal: Principal, rule: RoutePolicy) -> None:
    if rule.action is not None and not principal.may(rule.action):
        raise Forbidden(f"role {principal.role.value!r} may not call the data plane; use a predictor key.")


def tenant_of(principal: Principal, named: str | None, how: str = "the X-Aiplane-Tenant header") -> str:
    """The tenant a call acts in: the key's own, or the one a platform key names (`how` says where)."""
    if principal.tenant is not None:
        return principal.tenant
    if not named:
        raise InvalidInput(f"a platform key must name the tenant with {how}.")
    return named


def find_route(cache: StateCache, tenant: str, name: str, version: str | None) -> Route:
    route = cache.route(tenant, name)
    if route is None or (version is not None and version != route.model_version
                         and (route.canary is None or version != route.canary.model_version)):
        raise NotFound(f"model {name!r} is not deployed in tenant {tenant!r}.")
    return route


def choose(route: Route, version: str | None, request_id: bytes | None, turn: int, routing: RoutingTable) -> Route:
    """The stable route or its canary, for a deployment that has one: the version the path names,
    else the canary's share of requests while it has a ready replica (the stable one answers
    for a canary that is starting or down)."""
    canary = route.canary
    assert canary is not None
    if version is not None:
        return route if version == route.model_version else canary
    if not routing.ready_count(canary.deployment_id):
        return route
    return canary if rollout.takes_canary(route.canary_percent, request_id, turn) else route

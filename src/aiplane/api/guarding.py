"""Authentication and authorization of every /api/v1 request, from `aiplane.domain.policy.ROUTES`.

The guard is a dependency of the whole /api/v1 router, so a route added there is checked
whether or not its handler asks for the principal; `check_covered` refuses to build an app
with a route that has no entry in the policy table, or a public route under /api/v1.
Services still call `authorize` themselves (defence in depth, and the scopes only a service
can resolve: a tenant named in the body, or the tenant of a key named in the path).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute, Route

from aiplane.domain import policy
from aiplane.domain.policy import Principal, Scope
from aiplane.gateway.state import StateCache

PREFIX = "/api/v1"
_bearer = HTTPBearer(auto_error=False, description="An aiplane API key, or a JWT from a configured identity provider.")


class Guard:
    """A FastAPI dependency: the authenticated principal, already authorized for the route."""

    def __init__(self, cache: StateCache) -> None:
        self.cache = cache

    # async: it runs on the event loop, the one thread that touches the cache's counters.
    async def __call__(self, request: Request,
                       _creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        client = request.client.host if request.client else None
        route: Any = request.scope.get("route")
        rule = policy.route_policy(request.method, route.path)
        query_tenant = request.query_params.get("tenant")
        named = named_tenant(rule, request.path_params, query_tenant, request.headers.get("x-aiplane-tenant"))
        principal = await self.cache.authenticate_slowly(request.headers.get("authorization"), client, "control",
                                                         named)
        enforce(principal, rule, request.path_params, query_tenant)
        return principal


def guard(cache: StateCache) -> Guard:
    return Guard(cache)


def named_tenant(rule: policy.RoutePolicy, path_params: dict[str, Any], query_tenant: str | None,
                 header: str | None) -> str | None:
    """The tenant a call names: the path's, `?tenant=`, else the X-Aiplane-Tenant header. It
    chooses which of an SSO caller's tenants the call acts in (a key's tenant is its own)."""
    if rule.scope is Scope.PATH:
        return str(path_params["tenant"])
    if rule.scope is Scope.QUERY and query_tenant:
        return query_tenant
    return header or None


def enforce(principal: Principal, rule: policy.RoutePolicy, path_params: dict[str, Any], query_tenant: str | None) -> None:
    if rule.action is None:
        return
    tenant: str | None = None
    if rule.scope is Scope.PATH:
        tenant = path_params["tenant"]
    elif rule.scope is Scope.QUERY:
        tenant = query_tenant
    policy.authorize(principal, rule.action, tenant)


def endpoints(routes: list[BaseRoute]) -> list[RouteContext]:
    """Every route the app serves, with the routes of included routers listed one by one (and
    the dependencies they were included with)."""
    return [context for context in iter_route_contexts(routes) if isinstance(context.original_route, Route)]


def check_covered(routes: list[BaseRoute]) -> None:
    """Raise when a route has no policy, its policy does not fit where it lives, or a route
    under /api/v1 does not run the Guard (include its router with `dependencies=[Depends(guard)]`)."""
    for route in endpoints(routes):
        path = str(route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            rule = policy.route_policy(method, path)
            public = rule.scope is Scope.PUBLIC
            if path.startswith(PREFIX) == public:
                raise RuntimeError(f"route {method} {path} is {'public' if public else 'guarded'} in "
                                   f"aiplane.domain.policy.ROUTES but lives {'under' if public else 'outside'} {PREFIX}")
            if not public and not _guarded(route):
                raise RuntimeError(f"route {method} {path} does not run aiplane.api.guarding.Guard; include "
                                   "its router with dependencies=[Depends(guard)]")


def _guarded(route: RouteContext) -> bool:
    dependant = getattr(route, "dependant", None)
    return dependant is not None and any(isinstance(d.call, Guard) for d in dependant.dependencies)

"""Every state-changing call on /api/v1 leaves audit events, recorded here in one place, before
and after the change (write-ahead), so no change is made unaudited.

1. `RequestReceived`: who asks for what, made durable before the call runs. If it cannot be
   written the caller gets 503 and the change is not attempted.
2. `ResponseComplete`: the outcome. The middleware holds the (small, JSON) response until this
   event is durable; if it cannot be written the caller gets 503 saying the change was made, and
   the log still holds the request (stage 1). Both events carry the same `request_id` (the first
   event's audit id, returned as `X-Request-Id`), as Kubernetes' stages share an auditID.

A call the guard refuses for its role or tenant gets only the second event: it never reaches a
service, so nothing can change. A call without a valid key gets no event of its own: anyone can
send those, so they are counted per source address instead (`gateway.unauthenticated`).
Stored strings are bounded: the resource path is cut to 256 characters, an unknown route's
action to the action column's 64, and a tenant that is not a valid name is not recorded.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Callable

import orjson
from starlette.routing import Match, Route

from aiplane.api import guarding, problems
from aiplane.domain.audit import STAGE, STAGE_RECEIVED, AuditEvent
from aiplane.domain.clock import Clock
from aiplane.domain import names, policy
from aiplane.domain.errors import AiplaneError, Unavailable
from aiplane.domain.policy import Principal
from aiplane.gateway.audit_log import AuditWriter, next_audit_id
from aiplane.gateway.state import StateCache
from aiplane.gateway.unauthenticated import UnauthenticatedTally, cut

ASGIApp = Callable[..., Any]
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PREFIX = "/api/v1/"
_TENANT_BODY_BYTES = 64 << 10  # a request body read ahead for its "tenant" (uploads name it in the path)


class ControlAudit:
    def __init__(self, app: Any, writer: AuditWriter, cache: StateCache, clock: Clock,
                 unauthenticated: UnauthenticatedTally) -> None:
        """`app` is the FastAPI application: its routes name the action before the call runs."""
        self.app, self.writer, self.cache, self.clock = app, writer, cache, clock
        self.unauthenticated = unauthenticated
        self.routes = [context.original_route for context in guarding.endpoints(app.routes)
                       if isinstance(context.original_route, Route)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _CHANGES or not scope["path"].startswith(_PREFIX):
            await self.app(scope, receive, send)
            return
        received = self.clock.now()
        ahead, complete = await _read_ahead(receive)
        route, matched = self._route(scope)
        routed = {**scope, **matched}
        principal = await self._principal(routed, route)
        presented = any(name == b"authorization" for name, _ in scope["headers"])
        body_in = b"".join(m.get("body", b"") for m in ahead) if complete else b""
        intent = self._event(routed, principal, received, received, None, _tenant(routed, body_in, principal))
        write_ahead = principal is not None and _passes_guard(principal, route, routed)
        if write_ahead:
            try:
                await self.writer.record(intent)
            except Unavailable:
                headers, body = _unavailable("the audit log could not record this change, so it was not made; "
                                             "retry shortly.")
                await _respond(send, 503, headers, body, intent)
                return

        async def replay() -> Any:
            return ahead.pop(0) if ahead else await receive()

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        body = b"".join(chunks)
        status = int(start.get("status", 500))
        if principal is None:
            if not (presented and status == 401):  # a bad key is counted where it failed (the AuthGuard)
                client = scope.get("client")
                self.unauthenticated.add(client[0] if client else None, "control", status, scope["path"])
            await _respond(send, status, list(start.get("headers", [])), body, None)
            return
        event = self._event(routed, principal, received, self.clock.now(), status, intent.tenant,
                            intent.audit_id if write_ahead else None)
        headers = [h for h in start.get("headers", [])]
        try:
            await self.writer.record(event)  # the writer fails it after the commit timeout
        except Unavailable:
            status = 503
            headers, body = _unavailable(f"the change was made (the audit log holds its request, {intent.audit_id}) "
                                         f"but its outcome could not be recorded; check the store and retry."
                                         if write_ahead else "the audit log could not record this call; retry shortly.")
        await _respond(send, status, headers, body, event)

    def _event(self, scope: dict[str, Any], principal: Principal | None, received: Any, completed: Any,
               status: int | None, tenant: str | None, request_id: str | None = None) -> AuditEvent:
        """The request's first event (no status yet, its own id as request id) or its outcome."""
        path: str = scope["path"]
        client = scope.get("client")
        audit_id = next_audit_id()
        return AuditEvent(
            audit_id=audit_id, received_at=received, completed_at=completed,
            actor=principal.key_id if principal else None, role=principal.role.value if principal else None,
            user=principal.user if principal else None,
            tenant=tenant, source_ip=client[0] if client else None, action=_action(scope),
            resource=cut(path[len(_PREFIX):]), status=status, stage=STAGE if status is not None else STAGE_RECEIVED,
            request_id=request_id or audit_id,
        )

    def _route(self, scope: dict[str, Any]) -> tuple[Route | None, dict[str, Any]]:
        """The route, endpoint and path parameters the router is about to pick (it matches again,
        the same way)."""
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, dict(child)
        return None, {}

    async def _principal(self, scope: dict[str, Any], route: Route | None) -> Principal | None:
        """Who the call is from, for the tenant it names (as the guard will see it)."""
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]
                   if name in (b"authorization", b"x-aiplane-tenant")}
        if b"authorization" not in headers:
            return None
        named = headers.get(b"x-aiplane-tenant")
        if route is not None:
            try:
                rule = policy.route_policy(scope["method"], route.path)
            except KeyError:
                return None
            named = guarding.named_tenant(rule, scope.get("path_params", {}), _query_tenant(scope), named)
        return await self.cache.identify(headers[b"authorization"], named)


def _query_tenant(scope: dict[str, Any]) -> str | None:
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tenant: str | None = (query.get("tenant") or [None])[0]
    return tenant


def _passes_guard(principal: Principal, route: Route | None, scope: dict[str, Any]) -> bool:
    """Whether the control API's guard will let this call reach its service: only then can it
    change anything, and only then is its request written ahead."""
    if route is None:
        return False
    try:
        guarding.enforce(principal, policy.route_policy(scope["method"], route.path),
                         scope.get("path_params", {}), _query_tenant(scope))
    except (AiplaneError, KeyError):
        return False
    return True


async def _read_ahead(receive: Any) -> tuple[list[dict[str, Any]], bool]:
    """The request's first messages, to be replayed to the app; whether they hold the whole body."""
    messages: list[dict[str, Any]] = []
    size = 0
    while size <= _TENANT_BODY_BYTES:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages, message["type"] == "http.request"
        size += len(message.get("body", b""))
    return messages, False


async def _respond(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                   event: AuditEvent | None) -> None:
    """`event`: the call's outcome event, named in the headers; None for a counted call."""
    headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"x-request-id")]
    headers.append((b"content-length", str(len(body)).encode()))
    if event is not None:
        headers += [(b"x-aiplane-audit-id", event.audit_id.encode()), (b"x-request-id", str(event.request_id).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _unavailable(detail: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of a 503 problem document."""
    response = problems.problem(503, "Unavailable", detail)
    return response.raw_headers, bytes(response.body)


def _action(scope: dict[str, Any]) -> str:
    """`create_tenant` -> `tenant.create`: the route's own name, so new routes need no table."""
    endpoint = scope.get("endpoint")
    name = getattr(endpoint, "__name__", "")
    verb, _, noun = name.partition("_")
    if not noun:
        return cut(f"{scope['method'].lower()} {scope['path']}", 64)
    return f"{noun.replace('_', '-')}.{verb}"


def _tenant(scope: dict[str, Any], body: bytes, principal: Principal | None) -> str | None:
    tenant = (scope.get("path_params") or {}).get("tenant")
    if tenant is None and body[:1] == b"{":
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = {}
        tenant = doc.get("tenant") if isinstance(doc, dict) and isinstance(doc.get("tenant"), str) else None
    if tenant is None and principal is not None:
        tenant = principal.tenant
    return tenant if tenant is None or _is_name(tenant) else None


def _is_name(text: str) -> bool:
    try:
        names.check("tenant", text)
    except AiplaneError:
        return False
    return True

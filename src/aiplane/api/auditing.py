"""Every state-changing call on /api/v1 leaves an audit event, recorded here in one place.

The middleware holds the (small, JSON) response until the event is durable; if the audit log
cannot be written the caller gets 503 instead, so no change is acknowledged unaudited. The
change itself is already committed by then: the 503 says so, and the store remains the record.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import orjson

from aiplane.domain.audit import AuditEvent
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Unavailable
from aiplane.domain.policy import Principal
from aiplane.gateway.audit_log import AuditWriter, next_audit_id
from aiplane.gateway.state import StateCache

ASGIApp = Callable[..., Any]
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PREFIX = "/api/v1/"


class ControlAudit:
    def __init__(self, app: ASGIApp, writer: AuditWriter, cache: StateCache, clock: Clock) -> None:
        self.app, self.writer, self.cache, self.clock = app, writer, cache, clock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _CHANGES or not scope["path"].startswith(_PREFIX):
            await self.app(scope, receive, send)
            return
        received = self.clock.now()
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        event = self._event(scope, received, int(start.get("status", 500)), body)
        headers = [h for h in start.get("headers", [])]
        try:
            await self.writer.record(event)  # the writer fails it after the commit timeout
        except Unavailable:
            start["status"] = 503
            body = orjson.dumps({"type": "urn:aiplane:problem:unavailable", "title": "Unavailable", "status": 503,
                                 "detail": "the change was made but its audit event could not be made durable; "
                                           "check the store and retry."})
            headers = [(b"content-type", b"application/problem+json")]
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers += [(b"content-length", str(len(body)).encode()), (b"x-aiplane-audit-id", event.audit_id.encode())]
        await send({"type": "http.response.start", "status": start.get("status", 500), "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _event(self, scope: dict[str, Any], received: Any, status: int, body: bytes) -> AuditEvent:
        principal = self._principal(scope)
        path: str = scope["path"]
        client = scope.get("client")
        completed = self.clock.now()
        return AuditEvent(
            audit_id=next_audit_id(), received_at=received, completed_at=completed,
            actor=principal.key_id if principal else None, role=principal.role.value if principal else None,
            tenant=_tenant(scope, body, principal), source_ip=client[0] if client else None,
            action=_action(scope), resource=path[len(_PREFIX):], status=status,
        )

    def _principal(self, scope: dict[str, Any]) -> Principal | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return self.cache.identify(value.decode("latin-1"))
        return None


def _action(scope: dict[str, Any]) -> str:
    """`create_tenant` -> `tenant.create`: the route's own name, so new routes need no table."""
    endpoint = scope.get("endpoint")
    name = getattr(endpoint, "__name__", "")
    verb, _, noun = name.partition("_")
    if not noun:
        return f"{scope['method'].lower()} {scope['path']}"
    return f"{noun.replace('_', '-')}.{verb}"


def _tenant(scope: dict[str, Any], body: bytes, principal: Principal | None) -> str | None:
    tenant = (scope.get("path_params") or {}).get("tenant")
    if tenant is None and body[:1] == b"{":
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = {}
        tenant = doc.get("tenant") if isinstance(doc.get("tenant"), str) else None
    if tenant is None and principal is not None:
        tenant = principal.tenant
    return tenant

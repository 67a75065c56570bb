"""Auditing predictions, fail-closed: an answer leaves the gateway only after its event is durable.

Per request this costs two HMAC-SHA256 over bytes already in memory, one small
dataclass and a hand-off to the group-commit writer; the body is never parsed (the replica
reports the request id and the decision summary in headers).
"""

from __future__ import annotations

import hmac
from typing import Any

from aiplane.domain.audit import LEVEL_METADATA, LEVEL_PAYLOAD, AuditEvent, payload_bytes
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Unavailable
from aiplane.domain.policy import Principal
from aiplane.gateway.audit_log import AuditWriter, next_audit_id
from aiplane.gateway.state import Route

Result = tuple[int, list[Any], bytes]


class PredictionAuditor:
    def __init__(self, writer: AuditWriter, hmac_key: bytes, clock: Clock) -> None:
        self.writer, self.key, self.clock = writer, hmac_key, clock

    def started(self) -> tuple[Any, float]:
        return self.clock.now(), self.clock.monotonic()

    async def record(self, principal: Principal, route: Route, scope: dict[str, Any], body: bytes, result: Result,
                     started: tuple[Any, float]) -> Result:
        status, headers, answer = result
        request_id = decision = None
        for name, value in headers:
            if name == b"x-request-id":
                request_id = value.decode("utf-8", "replace")
            elif name == b"x-aiplane-decision":
                decision = value.decode("utf-8", "replace")
        client = scope.get("client")
        audit_id = await self.record_prediction(principal, route, client[0] if client else None, body, status,
                                                answer, request_id, decision, started)
        if request_id is None:
            headers.append((b"x-request-id", audit_id.encode()))
        headers.append((b"x-aiplane-audit-id", audit_id.encode()))
        return status, headers, answer

    async def record_prediction(self, principal: Principal, route: Route, source_ip: str | None, body: bytes,
                                status: int, answer: bytes, request_id: str | None, decision: str | None,
                                started: tuple[Any, float]) -> str:
        """Make the event of one answered prediction durable, whatever the transport; its audit id
        (also the request id when there was none). Unavailable when it could not be made durable."""
        audit_id = next_audit_id()
        keep = route.payload_logging and status < 500
        event = AuditEvent(
            audit_id=audit_id, received_at=started[0], completed_at=self.clock.now(), actor=principal.key_id,
            role=principal.role.value, tenant=route.tenant, source_ip=source_ip,
            action="predict", resource=f"deployments/{route.name}", status=status,
            level=LEVEL_PAYLOAD if keep else LEVEL_METADATA, deployment=route.name, model=route.model,
            model_version=route.model_version, artifact_digest=route.artifact_digest,
            request_id=audit_id if request_id is None else request_id,
            latency_ms=round((self.clock.monotonic() - started[1]) * 1000, 3),
            input_hmac=hmac.digest(self.key, body, "sha256").hex(),
            output_hmac=hmac.digest(self.key, answer, "sha256").hex(), decision=decision, user=principal.user,
        )
        try:
            await self.writer.record(event, payload_bytes(body, answer) if keep else None)
        except Unavailable:
            raise Unavailable("the audit event of this prediction could not be made durable, so the answer was "
                              "withheld; retry shortly.") from None
        return audit_id

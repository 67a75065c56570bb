"""/api/v1/audit: query, export, verify, checkpoints and proofs; tenant payload erasure and retention."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from aiplane.api import guarding
from aiplane.api.schemas import Int
from aiplane.api.services import Services
from aiplane.domain import durations
from aiplane.domain.errors import InvalidInput, NotFound
from aiplane.domain.policy import Principal
from aiplane.store.audit import Filters

class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: Int = Field(description="Days to keep audit metadata of this tenant before pruning its content "
                                  f"(1 to {durations.MAX_DAYS}).")


Position = Annotated[int, Query(ge=-1, le=2**63 - 1)]
Size = Annotated[int, Query(ge=1, le=2**63 - 1)]


def build_audit_router(svc: Services) -> APIRouter:
    # Every route here is in aiplane.domain.policy.ROUTES and runs the guard; the services
    # check the finer scope (which events a tenant-bound key may see).
    who = guarding.guard(svc.cache)
    router = APIRouter(prefix=guarding.PREFIX, tags=["audit"], dependencies=[Depends(who)])
    audit = svc.audit

    def filters(tenant: str | None = None, actor: str | None = None, action: str | None = None,
                deployment: str | None = None,
                since: str | None = Query(None, description="ISO 8601 time, or a duration back from now (7d, 12h)."),
                until: str | None = Query(None, description="ISO 8601 time, or a duration back from now.")) -> Filters:
        now = svc.clock.now()
        return Filters(tenant, actor, action, deployment, _when("since", since, now), _when("until", until, now))

    @router.get("/audit")
    def query_audit(f: Filters = Depends(filters), limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                    after: Position = -1, order: str = "asc",
                    p: Principal = Depends(who)) -> list[dict[str, Any]]:
        if order not in ("asc", "desc"):
            raise InvalidInput(f"order {order!r} is unknown; use asc or desc.")
        return audit.query(p, f, limit, after, newest_first=order == "desc")

    @router.get("/audit/export")
    def export_audit(f: Filters = Depends(filters), format: str = "jsonl", p: Principal = Depends(who)) -> StreamingResponse:
        if format == "jsonl":
            return StreamingResponse(audit.export_jsonl(p, f), media_type="application/jsonl")
        if format == "csv":
            return StreamingResponse(audit.export_csv(p, f), media_type="text/csv")
        raise InvalidInput(f"format {format!r} is unknown; use jsonl or csv.")

    @router.get("/audit/verify")
    def verify_audit(p: Principal = Depends(who)) -> dict[str, Any]:
        return audit.verify(p).as_dict()

    @router.get("/audit/public-key", response_class=PlainTextResponse)
    def audit_public_key(p: Principal = Depends(who)) -> str:
        return audit.public_key_pem()

    @router.get("/audit/checkpoints")
    def list_checkpoints(latest: bool = Query(False, description="Only the newest checkpoint."),
                         p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return audit.list_checkpoints(p, latest)

    @router.post("/audit/checkpoints", status_code=201)
    def sign_checkpoint(p: Principal = Depends(who)) -> dict[str, Any]:
        audit.checkpoint()  # the right to read checkpoints: signing what exists changes no event
        signed = audit.list_checkpoints(p, latest=True)
        if not signed:
            raise NotFound("the audit log is empty: there is nothing to sign yet.")
        return signed[-1]

    @router.get("/audit/events/{audit_id}/proof")
    def inclusion_proof(audit_id: str, size: Size | None = None, p: Principal = Depends(who)) -> dict[str, Any]:
        return audit.inclusion_proof(p, audit_id, size)

    @router.get("/audit/events/{audit_id}/payload")
    def event_payload(audit_id: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return audit.payload(p, audit_id)

    @router.get("/audit/consistency")
    def consistency_proof(first: Size, second: Annotated[int | None, Query(
                              ge=1, le=2**63 - 1, description="A checkpoint's size; the newest checkpoint when left out.")] = None,
                          p: Principal = Depends(who)) -> dict[str, Any]:
        return audit.consistency_proof(p, first, second)

    @router.post("/audit/prune")
    def prune_audit(p: Principal = Depends(who)) -> dict[str, int]:
        return audit.prune(p)

    @router.post("/tenants/{tenant}/erase-payloads")
    def erase_payloads(tenant: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return audit.erase_payloads(p, tenant)

    @router.put("/tenants/{tenant}/audit-retention")
    def set_retention(tenant: str, body: Retention, p: Principal = Depends(who)) -> dict[str, Any]:
        return audit.set_retention(p, tenant, body.days)

    return router


def _when(field: str, text: str | None, now: datetime) -> datetime | None:
    if text is None or text == "":
        return None
    if text[-1:] in "smhdw" and text[:-1].isdigit():
        return now - durations.parse(field, text)  # bounded to a hundred years: no overflow
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not a time; use ISO 8601 (2026-11-30T10:00:00Z) or a duration like 7d.") from None
    try:  # an offset at the edge of the calendar overflows in UTC
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    except OverflowError:
        raise InvalidInput(f"{field} {text!r} is out of range; use a time between the years 1 and 9999 in UTC.") from None

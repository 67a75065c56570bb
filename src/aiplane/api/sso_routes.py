"""/api/v1/sso/mappings: the claim -> (tenant, role) table, for platform-admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from aiplane.api import guarding
from aiplane.api.schemas import SsoMappingCreate
from aiplane.api.services import Services
from aiplane.domain.identity import ClaimMapping
from aiplane.domain.policy import Principal


def _view(m: ClaimMapping) -> dict[str, Any]:
    return {"id": m.id, "claim": m.claim, "value": m.value, "tenant": m.grant.tenant, "role": m.grant.role.value}


def build_router(svc: Services) -> APIRouter:
    who = guarding.guard(svc.cache)
    router = APIRouter(prefix=guarding.PREFIX + "/sso", dependencies=[Depends(who)], tags=["sso"])

    @router.post("/mappings", status_code=201)
    def create_mapping(body: SsoMappingCreate, p: Principal = Depends(who)) -> dict[str, Any]:
        return _view(svc.sso.map(p, body.claim, body.value, body.tenant, body.role))

    @router.get("/mappings")
    def list_mappings(p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [_view(m) for m in svc.sso.list(p)]

    @router.delete("/mappings/{mapping_id}", status_code=204)
    def delete_mapping(mapping_id: Annotated[int, Path(ge=1, le=2**31 - 1)], p: Principal = Depends(who)) -> None:
        svc.sso.unmap(p, mapping_id)

    return router

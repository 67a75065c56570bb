"""/api/v1: each handler parses, calls one service, formats. No business rule lives here."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool

from aiplane.api import guarding, views
from aiplane.api.schemas import (DeploymentCanary, DeploymentCreate, DeploymentScale, DeploymentUpdate, KeyCreate,
                                 ProfileRequest, QuotaFields, TenantCreate)
from aiplane.api.services import Services
from aiplane.domain import optimization, registry, rollout
from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import advice
from aiplane.domain.policy import Principal

def build_router(svc: Services) -> APIRouter:
    # The guard runs for every route of this router (FastAPI caches it per request, so the
    # handlers' own Depends(who) reuse the same principal): see aiplane.api.guarding.
    who = guarding.guard(svc.cache)
    router = APIRouter(prefix=guarding.PREFIX, dependencies=[Depends(who)])

    # Tenants
    @router.post("/tenants", status_code=201, tags=["tenants"])
    def create_tenant(body: TenantCreate, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.tenant(svc.tenants.create(p, body.name, body.quota(), body.cost_center, body.compliance))

    @router.get("/tenants", tags=["tenants"])
    def list_tenants(p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.tenant(t) for t in svc.tenants.list(p)]

    @router.get("/tenants/{tenant}", tags=["tenants"])
    def get_tenant(tenant: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.tenant(svc.tenants.get(p, tenant))

    @router.patch("/tenants/{tenant}", tags=["tenants"])
    def update_tenant(tenant: str, body: QuotaFields, p: Principal = Depends(who)) -> dict[str, Any]:
        updated = svc.tenants.update(p, tenant, body.quota(), body.cost_center, body.compliance)
        return {**views.tenant(updated.tenant), "warnings": list(updated.warnings)}

    @router.get("/tenants/{tenant}/quota", tags=["tenants"])
    def get_quota(tenant: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.quota(svc.tenants.quota(p, tenant))

    @router.delete("/tenants/{tenant}", status_code=204, tags=["tenants"])
    async def delete_tenant(tenant: str, p: Principal = Depends(who)) -> None:
        deployment_ids = await run_in_threadpool(svc.tenants.deployments_of, p, tenant)
        await run_in_threadpool(svc.tenants.delete, p, tenant)  # desired state first, then the replicas
        for deployment_id in deployment_ids:
            await svc.supervisor.remove(deployment_id)
            await svc.supervisor.remove(rollout.canary_id(deployment_id))

    # Keys
    @router.post("/keys", status_code=201, tags=["keys"])
    def create_key(body: KeyCreate, p: Principal = Depends(who)) -> dict[str, Any]:
        record, secret = svc.keys.create(p, body.role, body.tenant, body.name, body.expires_in, body.rate_limit)
        return views.key(record, secret)

    @router.get("/keys", tags=["keys"])
    def list_keys(tenant: str | None = None, p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.key(k) for k in svc.keys.list(p, tenant)]

    @router.delete("/keys/{key_id}", tags=["keys"])
    def revoke_key(key_id: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.key(svc.keys.revoke(p, key_id))

    # Models
    @router.get("/tenants/{tenant}/models", tags=["models"])
    def list_models(tenant: str, p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.model_version(v) for v in svc.models.list(p, tenant)]

    @router.get("/models", tags=["models"])
    def list_all_models(p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.model_version(v) for v in svc.models.list(p)]

    @router.post("/tenants/{tenant}/models/{model}/versions", status_code=201, tags=["models"])
    async def register_model(
        tenant: str, model: str, file: UploadFile = File(...), validation: UploadFile | None = File(None),
        format: str = Form("onnx"), metrics: str | None = Form(None), p: Principal = Depends(who),
    ) -> dict[str, Any]:
        artifact = await file.read()
        checks = await validation.read() if validation is not None else None
        extra = _metrics(metrics)
        version = await run_in_threadpool(svc.models.register, p, tenant, model, artifact, format, checks, extra)
        return views.model_version(version)

    @router.get("/tenants/{tenant}/models/{model}/versions", tags=["models"])
    def list_versions(tenant: str, model: str, p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.model_version(v) for v in svc.models.versions(p, tenant, model)]

    @router.get("/tenants/{tenant}/models/{model}/versions/{version}", tags=["models"])
    def get_version(tenant: str, model: str, version: str, p: Principal = Depends(who)) -> dict[str, Any]:
        number = None if version == "latest" else _int(version)
        return views.model_version(svc.models.get(p, tenant, model, number))

    @router.post("/tenants/{tenant}/models/{model}/versions/{version}/quantize", status_code=201, tags=["models"])
    async def quantize_version(
        tenant: str, model: str, version: str, calibration: UploadFile | None = File(None),
        max_accuracy_drop: float = Form(optimization.DEFAULT_MAX_DROP, allow_inf_nan=False), p: Principal = Depends(who),
    ) -> dict[str, Any]:
        """INT8 version of `version`, registered as the model's next version when it passes the gate."""
        number = None if version == "latest" else _int(version)
        data = await calibration.read() if calibration is not None else None
        quantized = await run_in_threadpool(svc.optimizer.quantize, p, tenant, model, number, data, max_accuracy_drop)
        return views.model_version(quantized)

    @router.post("/tenants/{tenant}/models/{model}/versions/{version}/profile", tags=["models"])
    async def profile_version(tenant: str, model: str, version: str, body: ProfileRequest | None = None,
                              p: Principal = Depends(who)) -> dict[str, Any]:
        """Measure latency and throughput against batch size here; store it; advise a device."""
        number = None if version == "latest" else _int(version)
        wanted = body or ProfileRequest()
        demand = advice.Demand.of(wanted.requests_per_day, wanted.p99_ms)
        done = await run_in_threadpool(svc.optimizer.profile, p, tenant, model, number, demand)
        return {**views.model_version(done.version), "advice": views.advice(done.advice)}

    # Deployments
    @router.post("/tenants/{tenant}/deployments", status_code=201, tags=["deployments"])
    async def create_deployment(tenant: str, body: DeploymentCreate, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.deployment(await svc.deployments.create(p, tenant, body.name, body.model, body.options()))

    @router.get("/tenants/{tenant}/deployments", tags=["deployments"])
    def list_deployments(tenant: str, p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.deployment(s) for s in svc.deployments.list(p, tenant)]

    @router.get("/deployments", tags=["deployments"])
    def list_all_deployments(p: Principal = Depends(who)) -> list[dict[str, Any]]:
        return [views.deployment(s) for s in svc.deployments.list(p)]

    @router.get("/tenants/{tenant}/deployments/{name}", tags=["deployments"])
    def get_deployment(tenant: str, name: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.deployment(svc.deployments.status(p, tenant, name))

    @router.patch("/tenants/{tenant}/deployments/{name}", tags=["deployments"])
    async def update_deployment(tenant: str, name: str, body: DeploymentUpdate,
                                p: Principal = Depends(who)) -> dict[str, Any]:
        return views.deployment(await svc.deployments.update(p, tenant, name, body.options()))

    @router.post("/tenants/{tenant}/deployments/{name}/scale", tags=["deployments"])
    async def scale_deployment(tenant: str, name: str, body: DeploymentScale,
                               p: Principal = Depends(who)) -> dict[str, Any]:
        return views.deployment(await svc.deployments.scale(p, tenant, name, body.replicas))

    @router.post("/tenants/{tenant}/deployments/{name}/canary", tags=["deployments"])
    async def start_canary(tenant: str, name: str, body: DeploymentCanary,
                           p: Principal = Depends(who)) -> dict[str, Any]:
        status = await svc.rollouts.canary(p, tenant, name, body.model, body.percent, body.auto_rollback)
        return views.deployment(status)

    @router.post("/tenants/{tenant}/deployments/{name}/promote", tags=["deployments"])
    async def promote_canary(tenant: str, name: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.deployment(await svc.rollouts.promote(p, tenant, name))

    @router.post("/tenants/{tenant}/deployments/{name}/rollback", tags=["deployments"])
    async def rollback_canary(tenant: str, name: str, p: Principal = Depends(who)) -> dict[str, Any]:
        return views.deployment(await svc.rollouts.rollback(p, tenant, name))

    @router.delete("/tenants/{tenant}/deployments/{name}", status_code=204, tags=["deployments"])
    async def delete_deployment(tenant: str, name: str, p: Principal = Depends(who)) -> None:
        await svc.deployments.delete(p, tenant, name)

    return router


def _metrics(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("the 'metrics' form field is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("the 'metrics' form field must be a JSON object.")
    return parsed


def _int(version: str) -> int:
    return registry.parse_version(version)

"""POST /api/v1/plan: the planner over HTTP. The body is the portfolio document as JSON.

Any valid key may plan, whatever its role or tenant: the planner changes nothing and computes
over the document it is sent (the same as the offline `aiplane plan`); a workload naming a
registered model (`model: tenant/name:version`) also reads that version's stored profile,
which the key must be allowed to read. A key is still required so the endpoint is not open to
anonymous callers; the /api/v1 guard checks it (`Action.PLAN` in aiplane.domain.policy.ROUTES).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends
from fastapi.responses import Response

from aiplane.api.guarding import Guard
from aiplane.api.services import Services
from aiplane.domain import names, registry
from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning.measured import Measured
from aiplane.domain.policy import Principal
from aiplane.domain.planning import planner, portfolio
from aiplane.reporting import formats
from aiplane.reporting.formats import ReportFormat

_EXAMPLE = {"workloads": [{"name": "readmission-risk", "industry": "healthcare", "compliance": ["hipaa"],
                           "data_residency": "on-prem", "model_size_gb": 0.4, "latency_p99_ms": 200,
                           "requests_per_day": 1000000, "training": {"gpus": 16, "hours_per_month": 730},
                           "inference": {"gpus": 4}}]}


def build_router(svc: Services, who: Guard) -> APIRouter:
    """`who`: the guard the router is included with (one instance, so it runs once per call)."""
    router = APIRouter(prefix="/api/v1")

    @router.post("/plan", tags=["plan"], response_model=None,
                 responses={200: {"content": {"application/json": {}, "text/markdown": {}, "text/html": {}}}})
    def plan(body: Any = Body(..., examples=[_EXAMPLE]), format: Literal["json", "md", "html"] = "json",
             p: Principal = Depends(who)) -> Response:
        """Plan a workload portfolio: architecture, monthly cost, savings by lever (`format`: json, md, html)."""
        result = planner.plan(portfolio.parse(body, measured=_profiles(svc, p, body)))
        fmt = ReportFormat(format)
        return Response(formats.render(result, fmt), media_type=formats.MEDIA_TYPES[fmt])

    return router


def _profiles(svc: Services, who: Principal, body: Any) -> dict[str, Measured]:
    """The stored profiles of the models the workloads name, read with the caller's key: a
    workload naming a model makes the plan read that tenant's data, so MODEL_READ applies."""
    found = {}
    for ref in portfolio.model_refs(body):
        try:
            tenant, rest = names.split_scoped(ref, "TENANT/MODEL:VERSION")
            model, version = registry.parse_ref(rest)
        except InvalidInput:
            continue  # portfolio.parse names the field
        stored = svc.models.get(who, tenant, model, version).profile
        if stored:
            found[ref] = Measured.from_dict(stored)
    return found

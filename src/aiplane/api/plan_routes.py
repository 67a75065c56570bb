"""POST /api/v1/plan: the planner over HTTP. The body is the portfolio document as JSON.

Any valid key may plan, whatever its role or tenant: the planner reads no tenant data and
changes nothing, it only computes over the document it is sent (the same as the offline
`aiplane plan`). A key is still required so the endpoint is not open to anonymous callers;
the /api/v1 guard checks it (`Action.PLAN` in aiplane.domain.policy.ROUTES).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body
from fastapi.responses import Response

from aiplane.api.services import Services
from aiplane.domain.planning import planner, portfolio
from aiplane.reporting import formats
from aiplane.reporting.formats import ReportFormat

_EXAMPLE = {"workloads": [{"name": "readmission-risk", "industry": "healthcare", "compliance": ["hipaa"],
                           "data_residency": "on-prem", "model_size_gb": 0.4, "latency_p99_ms": 200,
                           "requests_per_day": 1000000, "training": {"gpus": 16, "hours_per_month": 730},
                           "inference": {"gpus": 4}}]}


def build_router(svc: Services) -> APIRouter:
    """The planner needs none of `svc`'s state; it takes it like every router of the app."""
    router = APIRouter(prefix="/api/v1")

    @router.post("/plan", tags=["plan"], response_model=None,
                 responses={200: {"content": {"application/json": {}, "text/markdown": {}, "text/html": {}}}})
    def plan(body: Any = Body(..., examples=[_EXAMPLE]), format: Literal["json", "md", "html"] = "json") -> Response:
        """Plan a workload portfolio: architecture, monthly cost, savings by lever (`format`: json, md, html)."""
        result = planner.plan(portfolio.parse(body))
        fmt = ReportFormat(format)
        return Response(formats.render(result, fmt), media_type=formats.MEDIA_TYPES[fmt])

    return router

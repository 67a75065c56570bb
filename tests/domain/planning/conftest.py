from __future__ import annotations

from typing import Any

import pytest

from aiplane.domain.planning import planner, portfolio
from aiplane.domain.planning.plans import PortfolioPlan, WorkloadPlan


def plan_of(*workloads: dict[str, Any], **top: Any) -> PortfolioPlan:
    return planner.plan(portfolio.parse({**top, "workloads": list(workloads)}))


def one(workload: dict[str, Any], **top: Any) -> WorkloadPlan:
    return plan_of(workload, **top).workloads[0]


@pytest.fixture
def production_model() -> dict[str, Any]:
    """The reference's typical production model: 16 GPUs for training + 4 for inference."""
    return {"name": "model", "training": {"gpus": 16}, "inference": {"gpus": 4}}

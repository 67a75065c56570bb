"""The plan as a JSON-ready document (`aiplane plan --format json`, `POST /api/v1/plan`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.plans import Costed, Decision, Option, PortfolioPlan, WorkloadPlan


def build(plan: PortfolioPlan) -> dict[str, Any]:
    saved = plan.baseline_monthly - plan.optimized_monthly
    return {
        "summary": {
            "baseline_monthly": _cents(plan.baseline_monthly), "optimized_monthly": _cents(plan.optimized_monthly),
            "saved_monthly": _cents(saved), "baseline_yearly": _cents(plan.baseline_monthly * 12),
            "optimized_yearly": _cents(plan.optimized_monthly * 12), "saved_yearly": _cents(saved * 12),
            "savings_by_lever": {lever.value: _cents(v) for lever, v in plan.savings_by_lever().items()},
            "infeasible": [w.infeasible for w in plan.workloads if w.infeasible],
        },
        "pools": [{"name": p.name, "gpu_model": p.gpu_model, "allocated_gpus": round(p.allocated, 6),
                   "provisioned_gpus": p.provisioned, "idle": _costed(Costed((p.line,)))} for p in plan.pools],
        "workloads": [_workload(w) for w in plan.workloads],
        "catalog": catalog(plan.catalog),
    }


def _workload(w: WorkloadPlan) -> dict[str, Any]:
    return {
        "name": w.name, "architecture": w.architecture, "infeasible": w.infeasible,
        "baseline": _costed(w.baseline), "optimized_monthly": _cents(w.optimized_monthly),
        "training": _decision(w.training), "inference": _decision(w.inference),
        "savings": [{"lever": s.lever.value, "monthly": _cents(s.monthly), "detail": s.detail} for s in w.savings],
    }


def _decision(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"chosen": _option(d.chosen) if d.chosen else None, "why": list(d.why),
            "options": [_option(o) for o in d.options]}


def _option(o: Option) -> dict[str, Any]:
    return {"placement": o.placement.value, "device": o.device, "summary": o.summary, "ruled_out": o.ruled_out,
            **_costed(o.cost)}


def _costed(c: Costed) -> dict[str, Any]:
    return {"monthly": _cents(c.monthly), "lines": [
        {"item": line.item, "quantity": round(line.quantity, 6), "unit": line.unit,
         "unit_price": round(line.unit_price, 6), "amount": _cents(line.amount)} for line in c.lines]}


def catalog(c: Catalog) -> dict[str, Any]:
    prices = dataclasses.asdict(c.prices)
    prices["gpus"] = {model: {"memory_gb": g.memory_gb, "cloud_per_hour": round(g.cloud_per_hour, 6),
                              "onprem_capex": g.onprem_capex, "onprem_opex_per_hour": g.onprem_opex_per_hour,
                              "onprem_per_hour": round(c.prices.gpu_hour(model, Placement.ON_PREM), 6),
                              "mig": [p.name for p in g.mig]} for model, g in c.prices.gpus.items()}
    return {"prices": prices, "assumptions": dataclasses.asdict(c.assumptions)}


def _cents(amount: float) -> float:
    return round(amount, 2) + 0.0  # + 0.0 turns -0.0 into 0.0

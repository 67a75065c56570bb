"""The built-in catalog reproduces docs/reference-figures.md."""

from __future__ import annotations

import pytest

from aiplane.domain.planning.catalog import Placement
from aiplane.domain.planning.plans import Lever
from tests.domain.planning.conftest import one, plan_of


def test_one_production_model_costs_57000_a_month_at_the_blended_rate(production_model):
    plan = one(production_model)
    assert plan.baseline.monthly == pytest.approx(57_000, abs=0.005)
    (line_t, line_i) = plan.baseline.lines
    assert (line_t.quantity, line_i.quantity) == (16 * 730, 4 * 730)
    assert line_t.unit_price * 730 == pytest.approx(2_850)


def test_five_production_models_cost_285000_a_month_and_342_million_a_year(production_model):
    plan = plan_of(*[{**production_model, "name": f"model-{i}"} for i in range(5)])
    assert plan.baseline_monthly == pytest.approx(285_000, abs=0.01)
    assert plan.baseline_monthly * 12 == pytest.approx(3_420_000, abs=0.1)


def _options(requests_per_day: int, **top):
    plan = one({"name": "api", "requests_per_day": requests_per_day, "quantization": False}, **top)
    cpu = next(o for o in plan.inference.options if o.placement is Placement.CLOUD and o.device == "cpu")
    return plan.baseline.monthly * 12, cpu.cost.monthly * 12


def test_a_million_requests_a_day_costs_about_36000_a_year_on_gpu_and_3600_on_cpu():
    gpu_year, cpu_year = _options(1_000_000)
    # One dedicated A100 24x7 at the blended $2,850/month is $34,200 a year (+ $33 of egress);
    # the reference's "about $36,000" is the same GPU at the top on-demand rate, checked below.
    assert 34_200 <= gpu_year <= 36_000
    assert cpu_year == pytest.approx(3_600, rel=0.03)
    assert gpu_year - cpu_year == pytest.approx(32_000, rel=0.05)


def test_at_the_top_on_demand_rate_the_gpu_figure_is_36000_a_year():
    gpu_year, cpu_year = _options(1_000_000, prices={"gpus": {"A100-80GB": {"cloud_per_hour": 4.10}}})
    assert gpu_year == pytest.approx(36_000, rel=0.01)
    assert gpu_year - cpu_year == pytest.approx(32_000, rel=0.01)


@pytest.mark.parametrize("gpus", [1, 2, 3, 4, 5, 7, 8, 13, 16, 20, 33, 64, 100])
def test_pooling_from_20_to_75_percent_utilization_saves_50_to_70_percent(gpus):
    plan = one({"name": "serving", "inference": {"gpus": gpus}, "quantization": False})
    pooling = next(s for s in plan.savings if s.lever is Lever.GPU_POOLING)
    assert 0.50 <= pooling.monthly / plan.baseline.monthly <= 0.70
    assert "20%" in pooling.detail and "75%" in pooling.detail


def test_without_headroom_pooling_would_claim_more_than_the_reference_range():
    plan = one({"name": "serving", "inference": {"gpus": 100}, "quantization": False},
               assumptions={"pooling_headroom": 0})
    pooling = next(s for s in plan.savings if s.lever is Lever.GPU_POOLING)
    assert pooling.monthly / plan.baseline.monthly > 0.70  # 1 - 20/75 = 73%: a pool with no spare room


def test_a_hipaa_workload_never_gets_cloud_inference_even_when_cloud_is_allowed_and_cheaper():
    plan = one({"name": "triage", "industry": "healthcare", "compliance": ["hipaa"], "data_residency": "any",
                "requests_per_day": 1_000_000, "placements": {"inference": ["cloud", "on-prem"]}},
               prices={"gpus": {"A100-80GB": {"cloud_per_hour": 0.01}}, "cpu_core_hour_cloud": 0.0001})
    assert plan.inference.chosen.placement is Placement.ON_PREM
    cloud = [o for o in plan.inference.options if o.placement is Placement.CLOUD]
    assert cloud and all("HIPAA" in o.ruled_out for o in cloud)


def test_a_manufacturing_workload_with_a_real_time_latency_need_gets_edge_inference():
    plan = one({"name": "defects", "industry": "manufacturing", "latency_p99_ms": 10, "model_size_gb": 0.2,
                "requests_per_day": 5_000_000, "training": {"gpus": 4, "hours_per_month": 80}})
    assert plan.inference.chosen.placement is Placement.EDGE
    assert plan.architecture == "hybrid + edge: cloud-burst training, edge inference"
    for option in plan.inference.options:
        if option.placement is not Placement.EDGE:
            assert "latency" in option.ruled_out


def test_finance_trains_in_the_cloud_and_infers_on_premises():
    plan = one({"name": "fraud", "industry": "finance", "latency_p99_ms": 50, "requests_per_day": 5_000_000,
                "training": {"gpus": 8, "hours_per_month": 120}, "inference": {"gpus": 4}})
    assert plan.architecture == "hybrid: cloud-burst training, on-prem inference"
    assert any("SOC 2" in line for line in plan.inference.why)


def test_healthcare_with_de_identified_data_may_train_in_the_cloud():
    base = {"name": "research", "industry": "healthcare", "training": {"gpus": 8, "hours_per_month": 60},
            "requests_per_day": 10_000}
    assert one(base).training.chosen.placement is Placement.ON_PREM  # default: data stays on-prem
    assert one({**base, "data_residency": "any"}).training.chosen.placement is Placement.CLOUD

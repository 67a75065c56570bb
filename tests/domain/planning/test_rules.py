"""Decision rules: non-negotiables rule options out, cost picks among the rest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiplane.domain.planning.catalog import Placement
from aiplane.domain.planning.plans import Lever
from tests.domain.planning.conftest import one, plan_of


@pytest.mark.parametrize("hours, placement", [(60, Placement.CLOUD), (220, Placement.CLOUD),
                                              (240, Placement.ON_PREM), (730, Placement.ON_PREM)])
def test_training_bursts_in_the_cloud_below_the_break_even_and_is_owned_above(hours, placement):
    plan = one({"name": "t", "training": {"gpus": 16, "hours_per_month": hours}})
    assert plan.training.chosen.placement is placement
    assert any("above 227 GPU-hours" in line for line in plan.training.why)


def test_a_training_burst_pays_only_the_hours_used():
    plan = one({"name": "t", "training": {"gpus": 16, "hours_per_month": 100}})
    burst = next(s for s in plan.savings if s.lever is Lever.TRAINING_BURST)
    assert plan.optimized_monthly == pytest.approx(16 * 100 * 2850 / 730)
    assert burst.monthly == pytest.approx(16 * 630 * 2850 / 730)


def _inference_device(**workload):
    plan = one({"name": "w", "industry": "other", **workload})
    return plan.inference.chosen.device, plan.inference.why


@pytest.mark.parametrize("workload, reason", [
    ({"model_size_gb": 2, "requests_per_day": 10_000}, "over 1 GB"),
    ({"model_size_gb": 0.05, "latency_p99_ms": 50, "requests_per_day": 10_000}, "under 100 ms"),
    ({"model_size_gb": 0.05, "requests_per_day": 30_000_000}, "requests/s"),
    ({"model_size_gb": 0.05, "inference": {"gpus": 2}}, "requests_per_day is not given"),
])
def test_cpu_is_ruled_out_by_the_reference_rules_of_thumb(workload, reason):
    device, why = _inference_device(**workload)
    assert not device.startswith("cpu")
    assert any("cpu" in line and reason in line for line in why)


def test_a_small_model_with_occasional_requests_is_served_on_cpu():
    device, why = _inference_device(model_size_gb=0.05, requests_per_day=50_000, latency_p99_ms=200)
    assert device.startswith("cpu")


def test_a_measured_profile_overrides_the_latency_rule_of_thumb():
    workload = {"model_size_gb": 0.05, "latency_p99_ms": 50, "requests_per_day": 10_000}
    assert not _inference_device(**workload)[0].startswith("cpu")
    assert _inference_device(**workload, profile={"cpu_p99_ms": 30})[0].startswith("cpu")
    slow = _inference_device(**workload, profile={"cpu_p99_ms": 48})  # 5 ms on-prem + 48 ms > 50 ms
    assert not slow[0].startswith("cpu") and any("= 53 ms exceeds latency_p99_ms 50" in w for w in slow[1])


@pytest.mark.parametrize("size_gb, profile", [(0.5, "mig-1g.10gb"), (10, "mig-1g.20gb"), (20, "mig-3g.40gb"),
                                              (40, "1 GPU"), (60, "2 GPUs")])
def test_the_mig_profile_must_hold_the_model(size_gb, profile):
    plan = one({"name": "w", "model_size_gb": size_gb, "inference": {"gpus": 1, "utilization": 0.05},
                "quantization": False})  # compute fits one slice; memory decides
    assert plan.inference.chosen.device == profile


def test_quantization_shrinks_the_slice_and_shows_as_its_own_saving():
    plan = one({"name": "w", "model_size_gb": 0.5, "inference": {"gpus": 8}})
    levers = {s.lever: s for s in plan.savings}
    assert levers[Lever.QUANTIZATION].monthly > 0
    assert "INT8" in plan.inference.chosen.device


def test_a_workload_without_edge_sites_never_runs_at_the_edge():
    plan = one({"name": "w", "latency_p99_ms": 9, "model_size_gb": 0.2, "requests_per_day": 100_000})
    assert plan.infeasible is not None and plan.infeasible.startswith("workloads[0].latency_p99_ms: 9 ms")
    edge = [o for o in plan.inference.options if o.placement is Placement.EDGE]
    assert all("no edge sites" in o.ruled_out for o in edge)


def test_latency_no_option_can_meet_is_reported_as_infeasible_with_the_reason():
    plan = plan_of({"name": "ok", "requests_per_day": 1000},
                   {"name": "fast", "industry": "manufacturing", "latency_p99_ms": 2, "requests_per_day": 1000})
    ok, fast = plan.workloads
    assert ok.infeasible is None and fast.inference.chosen is None
    assert fast.infeasible == ("workloads[1].latency_p99_ms: 2 ms cannot be met by any allowed option; the fastest "
                               "needs 7 ms; raise it, allow another placement, or give a measured profile.")
    assert plan.baseline_monthly == ok.baseline.monthly  # infeasible workloads are not summed


def test_a_cost_ceiling_rules_out_dearer_options_and_names_the_field_when_none_is_left():
    base = {"name": "w", "industry": "healthcare", "training": {"gpus": 16}, "requests_per_day": 1000}
    assert one({**base, "max_monthly_cost": 20_000}).infeasible is None
    plan = one({**base, "max_monthly_cost": 1_000})
    assert plan.infeasible.startswith("workloads[0].max_monthly_cost: $1,000 is below the cheapest allowed plan")


def test_residency_on_prem_keeps_both_training_and_inference_off_the_cloud():
    plan = one({"name": "w", "data_residency": "on-prem", "training": {"gpus": 2, "hours_per_month": 10},
                "requests_per_day": 1000})
    assert plan.architecture == "on-prem: on-prem training, on-prem inference"


workloads = st.fixed_dictionaries({
    "name": st.just("w"),
    "industry": st.sampled_from(["healthcare", "finance", "manufacturing", "other"]),
    "compliance": st.lists(st.sampled_from(["hipaa", "soc2", "gdpr"]), unique=True),
    "data_residency": st.sampled_from(["on-prem", "any"]),
    "model_size_gb": st.floats(0.01, 100),
    "latency_p99_ms": st.one_of(st.none(), st.floats(1, 1000)),
    "requests_per_day": st.integers(1, 100_000_000),
    "training": st.one_of(st.none(), st.fixed_dictionaries({"gpus": st.integers(1, 64),
                                                            "hours_per_month": st.floats(0, 730)})),
    "inference": st.one_of(st.none(), st.fixed_dictionaries({"gpus": st.integers(1, 64)})),
    "quantization": st.booleans(),
    "edge_sites": st.integers(0, 5),
    "placements": st.fixed_dictionaries({}, optional={"inference": st.lists(
        st.sampled_from(["cloud", "on-prem", "edge"]), min_size=1, unique=True)}),
})


@settings(max_examples=300, deadline=None)
@given(workloads)
def test_property_hipaa_inference_is_never_in_the_cloud(workload):
    plan = one({**workload, "compliance": [*workload["compliance"], "hipaa"]})
    assert plan.inference.chosen is None or plan.inference.chosen.placement is not Placement.CLOUD


@settings(max_examples=300, deadline=None)
@given(workloads)
def test_property_savings_add_up_to_baseline_minus_optimized(workload):
    plan = one(workload)
    if plan.infeasible is None:
        total = sum(s.monthly for s in plan.savings)
        assert total == pytest.approx(plan.baseline.monthly - plan.optimized_monthly, abs=1e-6)
        for decision in (plan.training, plan.inference):
            if decision is not None:
                for option in decision.options:
                    assert option.cost.monthly == pytest.approx(sum(l.quantity * l.unit_price
                                                                    for l in option.cost.lines))


_overrides = st.fixed_dictionaries({}, optional={
    "assumptions": st.fixed_dictionaries({}, optional={
        "pooling_headroom": st.floats(0, 2), "pooled_utilization": st.floats(0.01, 1),
        "baseline_utilization": st.floats(0.01, 1), "quantization_speedup": st.floats(0.1, 10),
        "rtt_edge_ms": st.floats(0, 100), "rtt_cloud_ms": st.floats(0, 200), "cpu_ms_per_gb": st.floats(0, 1000),
        "cpu_ms_base": st.floats(0.01, 100), "peak_to_average": st.floats(0.1, 20),
        "cpu_node_cores": st.floats(0.5, 256), "memory_overhead": st.floats(0.1, 4)}),
    "prices": st.fixed_dictionaries({}, optional={
        "gpus": st.fixed_dictionaries({"A100-80GB": st.fixed_dictionaries({}, optional={
            "cloud_per_hour": st.floats(0.01, 100), "onprem_capex": st.floats(0, 1e6),
            "onprem_opex_per_hour": st.floats(0, 10)})}),
        "edge_site_month": st.floats(0, 1e4), "cpu_core_hour_onprem": st.floats(0, 1),
        "hours_per_month": st.floats(1, 744), "amortization_months": st.floats(1, 120)}),
})


@settings(max_examples=300, deadline=None)
@given(workloads, _overrides)
def test_property_any_valid_catalog_plans_and_renders_with_savings_that_add_up(workload, overrides):
    from aiplane.reporting import formats
    from aiplane.reporting.formats import ReportFormat

    training = workload.get("training")
    if training and training["hours_per_month"] > overrides.get("prices", {}).get("hours_per_month", 730):
        workload = {**workload, "training": {**training, "hours_per_month": 1}}
    plan = plan_of(workload, **overrides)
    w = plan.workloads[0]
    if w.infeasible is None:
        assert sum(s.monthly for s in w.savings) == pytest.approx(w.baseline.monthly - w.optimized_monthly,
                                                                  rel=1e-9, abs=1e-6)
    for fmt in (ReportFormat.JSON, ReportFormat.MD, ReportFormat.HTML, ReportFormat.SVG):
        assert formats.render(plan, fmt)


def test_mig_shares_are_bought_as_whole_gpus_per_pool_and_per_edge_site():
    fraud = {"industry": "finance", "latency_p99_ms": 50, "requests_per_day": 1_000_000, "inference": {"gpus": 1}}
    plant = {"industry": "manufacturing", "latency_p99_ms": 10, "model_size_gb": 0.2, "requests_per_day": 1_000_000,
             "edge_sites": 3}
    plan = plan_of({"name": "fraud-a", **fraud}, {"name": "fraud-b", **fraud}, {"name": "plant", **plant})
    assert [w.inference.chosen.device for w in plan.workloads] == ["mig-2g.20gb INT8"] * 2 + ["mig-1g.10gb INT8"]
    edge, onprem = plan.pools
    assert (onprem.name, onprem.allocated, onprem.provisioned) == ("on-prem A100-80GB", pytest.approx(4 / 7), 1)
    assert (edge.name, edge.allocated, edge.provisioned) == ("edge A100-80GB, plant (3 sites)", pytest.approx(3 / 7), 3)
    rate = plan.catalog.prices.gpu_hour("A100-80GB", Placement.ON_PREM)
    idle = (1 - 4 / 7) * 730 * rate + (3 - 3 / 7) * 730 * rate
    assert plan.pool_rounding_monthly == pytest.approx(idle)
    levers = plan.savings_by_lever()
    assert levers[Lever.POOL_ROUNDING] == pytest.approx(-idle)
    assert sum(levers.values()) == pytest.approx(plan.baseline_monthly - plan.optimized_monthly)

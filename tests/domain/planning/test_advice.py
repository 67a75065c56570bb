"""Advice from a measured profile, and the planner using a stored profile instead of rules of thumb."""

from __future__ import annotations

import pytest

from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import advice, planner, portfolio
from aiplane.domain.planning.advice import Demand
from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.measured import Measured, Point

MACHINE = "Test CPU, 2 cores"


def measured(p99_ms: float, rows_per_s: float, size_bytes: int = 400_000, int8: bool = False) -> Measured:
    """Batch 1 at `p99_ms`/`rows_per_s`; batch 32 with 8x the throughput at 4x the latency."""
    return Measured(MACHINE, size_bytes, int8, (Point(1, p99_ms / 2, p99_ms, rows_per_s),
                                                 Point(32, p99_ms * 2, p99_ms * 4, rows_per_s * 8)))


def test_a_small_fast_model_is_advised_onto_cpu_with_its_cost_per_million_requests():
    c = Catalog()
    a = advice.advise(measured(2.0, 500.0), Demand(requests_per_day=1_000_000, p99_ms=50), c)
    assert a.chosen is not None and a.chosen.device == "cpu" and not a.chosen.estimated
    # 1M/day x 3 peak / 86,400 = 34.7 rps; within 50 ms only ~1.7 requests arrive, so batch 1: 500 x 60% = 300/core.
    assert a.peak_rps == pytest.approx(34.72, abs=0.01) and a.chosen.size == "1 core"
    core_hour = c.prices.cpu_core_hour_onprem + 4 * c.prices.memory_gb_hour_onprem
    assert a.chosen.monthly == pytest.approx(core_hour * 730)
    assert a.chosen.per_million == pytest.approx(core_hour * 730 / (1_000_000 * 730 / 24 / 1e6))
    assert "measured: one core serves 500 rows/s at batch 1" in a.chosen.reason
    gpu, mig = a.choices[1], a.choices[2]
    assert gpu.estimated and "estimated, no GPU on this machine" in gpu.reason
    assert mig.device == "mig-1g.10gb" and mig.per_million < gpu.per_million


def test_a_latency_the_cpu_cannot_meet_rules_it_out_and_says_why():
    a = advice.advise(measured(40.0, 25.0), Demand(requests_per_day=100_000, p99_ms=20), Catalog())
    cpu = a.choices[0]
    assert cpu.ruled_out == "the measured p99 at batch 1 is 40 ms, over the 20 ms asked for"
    assert a.chosen is not None and a.chosen.device.startswith("mig-")


def test_more_demand_needs_more_cores_and_then_a_bigger_mig_profile():
    m = measured(2.0, 500.0)
    small = advice.advise(m, Demand(requests_per_day=1_000_000), Catalog())
    large = advice.advise(m, Demand(requests_per_day=100_000_000), Catalog())
    assert int(large.choices[0].size.split()[0]) > int(small.choices[0].size.split()[0])
    assert large.choices[2].device != small.choices[2].device


def test_without_demand_the_cost_is_per_million_at_full_use():
    a = advice.advise(measured(2.0, 500.0), Demand(), Catalog(), Placement.CLOUD)
    cpu = a.choices[0]
    assert cpu.monthly is None and a.peak_rps is None
    per_core_hour = Catalog().prices.cpu_core_hour_cloud + 4 * Catalog().prices.memory_gb_hour_cloud
    assert cpu.per_million == pytest.approx(per_core_hour / (4000 * 0.6 * 3600 / 1e6))  # batch 32: 8 x 500 rows/s


def test_demand_must_be_positive_naming_the_field():
    with pytest.raises(InvalidInput, match=r"^requests_per_day: -1 is negative"):
        Demand.of(-1, None)
    with pytest.raises(InvalidInput, match=r"^p99_ms: 0 is not allowed"):
        Demand.of(None, 0)


def test_a_stored_profile_round_trips_and_a_malformed_one_is_refused():
    m = measured(2.0, 500.0)
    assert Measured.from_dict(m.as_dict()) == m
    with pytest.raises(InvalidInput, match="the stored profile is malformed"):
        Measured.from_dict({"machine": "x"})


# --- the planner with a workload naming a model ---

WORKLOAD = {"name": "triage", "model": "clinical/triage:2", "industry": "healthcare", "latency_p99_ms": 150,
            "requests_per_day": 5_000_000}


def _plan(profile: Measured, **changes: object):
    doc = {"workloads": [{**WORKLOAD, **changes}]}
    return planner.plan(portfolio.parse(doc, measured={"clinical/triage:2": profile})).workloads[0]


def test_the_plan_uses_the_measured_figures_and_changes_when_the_profile_does():
    fast = _plan(measured(3.0, 400.0))
    assert fast.inference is not None and fast.inference.chosen is not None
    assert fast.inference.chosen.device.startswith("cpu")
    assert any("measured profile of clinical/triage:2: p99 3 ms at batch 1, 400 rows/s per core, on Test CPU"
               in why for why in fast.inference.why)
    slower = _plan(measured(3.0, 10.0))  # a fortieth of the throughput: more CPU nodes, a higher cost
    assert slower.inference is not None and slower.inference.chosen is not None
    assert slower.optimized_monthly > fast.optimized_monthly
    too_slow = _plan(measured(200.0, 5.0))  # over the 150 ms ceiling on CPU: a GPU option wins
    assert too_slow.inference is not None and too_slow.inference.chosen is not None
    assert not too_slow.inference.chosen.device.startswith("cpu")


def test_a_measured_model_needs_no_rule_of_thumb_for_size_or_latency():
    # 2 GB and a 50 ms ceiling: rules of thumb say GPU; the measurement says a core does it in 4 ms.
    w = _plan(measured(4.0, 300.0, size_bytes=2_000_000_000), latency_p99_ms=50)
    assert w.inference is not None and w.inference.chosen is not None
    assert w.inference.chosen.device.startswith("cpu")


def test_an_int8_profile_gets_no_second_quantization_saving():
    fp32 = _plan(measured(3.0, 400.0))
    int8 = _plan(measured(3.0, 400.0, int8=True))
    assert any(s.lever.value == "INT8 quantization" for s in fp32.savings)
    assert not any(s.lever.value == "INT8 quantization" for s in int8.savings)


@pytest.mark.parametrize("changes, known, message", [
    ({}, {}, "workloads[0].model: 'clinical/triage:2' has no measured profile; run 'aiplane model profile "
             "clinical/triage:2' first."),
    ({"model": "triage"}, {}, "workloads[0].model: 'triage' is not of the form TENANT/MODEL:VERSION."),
    ({"model_size_gb": 1}, None, "workloads[0].model_size_gb: comes from the measured profile of model"),
    ({"profile": {"cpu_p99_ms": 3}}, None, "workloads[0].profile: comes from the measured profile of model"),
])
def test_bad_model_references_are_one_sentence_naming_the_field(changes, known, message):
    profiles = {"clinical/triage:2": measured(3.0, 400.0)} if known is None else known
    with pytest.raises(InvalidInput) as info:
        portfolio.parse({"workloads": [{**WORKLOAD, **changes}]}, measured=profiles)
    assert info.value.message.startswith(message)


def test_model_refs_lists_what_to_look_up():
    doc = {"workloads": [WORKLOAD, {**WORKLOAD, "name": "b"}, {"name": "c", "model": 3}, "junk"]}
    assert portfolio.model_refs(doc) == ["clinical/triage:2"]
    assert portfolio.model_refs([]) == [] and portfolio.model_refs({"workloads": "x"}) == []


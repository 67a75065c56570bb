"""Bad input is one sentence naming the field; good input is read as written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import planner, portfolio
from aiplane.reporting import formats
from aiplane.reporting.formats import ReportFormat
from aiplane.domain.planning.catalog import Placement
from tests.domain.planning.conftest import one

GOOD = {"name": "w", "requests_per_day": 1000}


@pytest.mark.parametrize("document, message", [
    ({"workloads": [{**GOOD, "colour": "red"}]}, "workloads[0].colour: is not a known field; use one of: name,"),
    ({"workloads": [GOOD], "budget": 1}, "budget: is not a known field; use one of: prices, assumptions, workloads."),
    ({"workloads": [GOOD, {**GOOD, "name": "x", "latency_p99_ms": -5}]},
     "workloads[1].latency_p99_ms: -5 is negative; use a positive number."),
    ({"workloads": [{**GOOD, "training": {"gpus": -2}}]}, "workloads[0].training.gpus: -2 is negative"),
    ({"workloads": [{**GOOD, "training": {"gpus": 2, "hours_per_month": 800}}]},
     "workloads[0].training.hours_per_month: 800 is above the maximum 730"),
    ({"workloads": [{**GOOD, "gpu_model": "V100"}]},
     "workloads[0].gpu_model: 'V100' is not in the price catalog; use one of: A100-40GB, A100-80GB, H100, H200, L4, "
     "T4, or add it under prices.gpus."),
    ({"workloads": [{**GOOD, "industry": "retail"}]},
     "workloads[0].industry: 'retail' is not one of: healthcare, finance, manufacturing, other."),
    ({"workloads": [{**GOOD, "compliance": ["hipaa", "pci"]}]},
     "workloads[0].compliance[1]: 'pci' is not one of: hipaa, soc2, gdpr."),
    ({"workloads": [{**GOOD, "model_size_gb": "big"}]}, "workloads[0].model_size_gb: 'big' is not a number"),
    ({"workloads": [{**GOOD, "model_size_gb": True}]}, "workloads[0].model_size_gb: True is not a number"),
    ({"workloads": [{**GOOD, "inference": {"gpus": 1.5}}]}, "workloads[0].inference.gpus: 1.5 is not a whole number"),
    ({"workloads": [{**GOOD, "inference": {"gpus": 2, "utilization": 1.5}}]},
     "workloads[0].inference.utilization: 1.5 is above the maximum 1"),
    ({"workloads": [GOOD, GOOD]}, "workloads[1].name: 'w' is used twice"),
    ({"workloads": [{"requests_per_day": 5}]}, "workloads[0].name: is required"),
    ({"workloads": [{"name": "idle"}]}, "workloads[0]: has neither training nor inference"),
    ({"workloads": []}, "workloads: is required and must be a non-empty list"),
    ({"workloads": [GOOD], "prices": {"gpu_hour": 3}}, "prices.gpu_hour: is not a known field; use one of: gpus,"),
    ({"workloads": [GOOD], "prices": {"egress_gb": -1}}, "prices.egress_gb: -1 is negative"),
    ({"workloads": [GOOD], "prices": {"gpus": {"MI300X": {"cloud_per_hour": 5}}}},
     "prices.gpus.MI300X: a new GPU model needs memory_gb, onprem_capex, onprem_opex_per_hour"),
    ({"workloads": [GOOD], "prices": {"gpus": {"A100-80GB": {"mig": ["1g.10gb", "half"]}}}},
     "prices.gpus.A100-80GB.mig[1]: 'half' is not a MIG profile"),
    ({"workloads": [GOOD], "assumptions": {"pooled_utilization": 0}},
     "assumptions.pooled_utilization: 0 is not allowed; use a number above 0."),
    ({"workloads": [GOOD], "assumptions": {"default_gpu_model": "V100"}},
     "assumptions.default_gpu_model: 'V100' is not in the price catalog"),
    ({"workloads": [{**GOOD, "placements": {"training": ["edge"]}}]},
     "workloads[0].placements.training[0]: 'edge' is not one of: cloud, on-prem."),
    (["a", "list"], "the document: expected a mapping of fields, got ['a', 'list']."),
])
def test_bad_input_names_the_field(document, message):
    with pytest.raises(InvalidInput) as caught:
        portfolio.parse(document)
    assert caught.value.message.startswith(message), caught.value.message
    assert caught.value.message.endswith(".")


def test_hipaa_with_residency_any_is_allowed():
    plan = one({"name": "research", "industry": "healthcare", "compliance": ["hipaa"], "data_residency": "any",
                "training": {"gpus": 4, "hours_per_month": 50}, "requests_per_day": 1000})
    assert plan.infeasible is None
    assert plan.training.chosen.placement is Placement.CLOUD
    assert plan.inference.chosen.placement is not Placement.CLOUD


def test_the_spec_example_reads_as_written():
    doc = {"prices": {}, "workloads": [{
        "name": "readmission-risk", "industry": "healthcare", "compliance": ["hipaa"], "data_residency": "on-prem",
        "model_size_gb": 0.4, "latency_p99_ms": 200, "requests_per_day": 1000000,
        "training": {"gpus": 16, "hours_per_month": 730}, "inference": {"gpus": 4}}]}
    (w,) = portfolio.parse(doc).workloads
    assert (w.training.gpus, w.training.hours_per_month, w.inference.gpus, w.gpu_model) == (16, 730, 4, "A100-80GB")


def test_industry_defaults_fill_what_the_document_leaves_out():
    (health, plant) = portfolio.parse({"workloads": [
        {"name": "h", "industry": "healthcare", "requests_per_day": 1},
        {"name": "m", "industry": "manufacturing", "requests_per_day": 1}]}).workloads
    assert (health.compliance, health.data_residency.value, health.edge_sites) == (("hipaa",), "on-prem", 0)
    assert (plant.compliance, plant.data_residency.value, plant.edge_sites) == ((), "any", 1)


def test_price_overrides_change_the_figures_and_a_new_gpu_can_be_added():
    doc = {"name": "w", "gpu_model": "MI300X", "inference": {"gpus": 2}, "quantization": False}
    prices = {"gpus": {"MI300X": {"memory_gb": 192, "cloud_per_hour": 5, "onprem_capex": 20000,
                                  "onprem_opex_per_hour": 0.4}}}
    plan = one(doc, prices=prices)
    assert plan.baseline.monthly == pytest.approx(2 * 730 * 5)
    assert plan.baseline.lines[0].item == "MI300X GPU, cloud"


_values = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["", "x", "A100-80GB", "on-prem", "any", "cloud", "edge", "hipaa", "finance",
                                     "1g.10gb"]),
                    st.lists(st.sampled_from(["hipaa", "cloud", "on-prem", "edge", "x", "7g.80gb"]), max_size=3))
_inner = st.dictionaries(st.sampled_from(["gpus", "hours_per_month", "utilization", "cpu_p99_ms", "gpu_p99_ms",
                                          "training", "inference", "colour"]), _values, max_size=3)
_workload = st.dictionaries(st.sampled_from(list(portfolio._WORKLOAD_FIELDS) + ["colour"]),
                            st.one_of(_values, _inner), max_size=10).map(lambda d: {"name": "w", **d})
_catalog_keys = ["hours_per_month", "amortization_months", "egress_gb", "edge_site_month", "pooling_headroom",
                 "pooled_utilization", "baseline_utilization", "quantization_speedup", "cpu_ms_base",
                 "cpu_ms_per_gb", "rtt_edge_ms", "cpu_node_cores", "default_gpu_model"]
_prices = st.fixed_dictionaries({}, optional={
    "gpus": st.dictionaries(st.sampled_from(["A100-80GB", "T4", "X1"]), st.dictionaries(
        st.sampled_from(["memory_gb", "cloud_per_hour", "onprem_capex", "onprem_opex_per_hour", "mig"]), _values)),
    "egress_gb": _values, "hours_per_month": _values})
_assumptions = st.dictionaries(st.sampled_from(_catalog_keys[4:]), _values, max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.lists(_workload, min_size=1, max_size=3), st.one_of(st.none(), _prices), st.one_of(st.none(), _assumptions))
def test_property_any_document_gets_a_plan_or_one_sentence_naming_a_field(workloads, prices, assumptions):
    doc = {"workloads": [{**w, "name": f"w{i}"} for i, w in enumerate(workloads)]}
    if prices is not None:
        doc["prices"] = prices
    if assumptions is not None:
        doc["assumptions"] = assumptions
    try:
        plan = planner.plan(portfolio.parse(doc))
    except InvalidInput as exc:
        assert exc.message.endswith(".") and "\n" not in exc.message
        assert re.match(r"^(workloads(\[\d+\](\.[a-z_0-9]+(\[\d+\])?)*)?|prices|assumptions|the document)", exc.message)
        return
    for fmt in ReportFormat:
        if fmt is not ReportFormat.TABLE:
            assert formats.render(plan, fmt)

"""Reports: every amount traceable to a price line, HTML self-contained, charts deterministic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from aiplane.domain.planning import planner, portfolio
from aiplane.reporting import charts, document, formats, markdown, report
from aiplane.reporting.formats import ReportFormat

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio.yaml"


@pytest.fixture(scope="module")
def example_plan():
    return planner.plan(portfolio.parse(yaml.safe_load(EXAMPLE.read_text())))


def test_every_amount_in_the_json_document_is_quantity_times_unit_price(example_plan):
    doc = json.loads(formats.render(example_plan, ReportFormat.JSON))
    summary = doc["summary"]
    assert summary["saved_monthly"] == pytest.approx(summary["baseline_monthly"] - summary["optimized_monthly"],
                                                     abs=0.01)
    assert sum(summary["savings_by_lever"].values()) == pytest.approx(summary["saved_monthly"], abs=0.05)
    for w in doc["workloads"]:
        costs = [w["baseline"]] + [o for s in ("training", "inference") if w[s] for o in w[s]["options"]]
        for cost in costs:
            for line in cost["lines"]:
                assert line["amount"] == pytest.approx(line["quantity"] * line["unit_price"], abs=0.01)
            assert cost["monthly"] == pytest.approx(sum(line["amount"] for line in cost["lines"]), abs=0.05)
    a100 = doc["catalog"]["prices"]["gpus"]["A100-80GB"]
    assert a100["cloud_per_hour"] * 730 == pytest.approx(2850, abs=0.01)


def test_markdown_shows_decisions_reasons_savings_and_the_prices_used(example_plan):
    text = markdown.render(report.build(example_plan))
    for name in ("data-science", "engineering", "finance", "research"):
        assert f"## {name}" in text
    assert "finance runs inference on-premises for SOC 2 scope" in text
    assert "| GPU pooling (MIG) |" in text and "| training burst |" in text
    assert "| A100-80GB GPU, cloud | 8,760 | GPU-hour | $3.9041 |" in text  # 12 training GPUs x 730 h, baseline
    assert "## Prices and assumptions used" in text and "| pooled_utilization | 0.75 |" in text


def test_the_html_report_is_self_contained_and_escapes_names():
    plan = planner.plan(portfolio.parse({"workloads": [{"name": "<b>x</b>", "requests_per_day": 1000}]}))
    page = formats.render(plan, ReportFormat.HTML)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert set(re.findall(r"https?://[^\s\"')]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_charts_are_deterministic_and_show_each_lever(example_plan):
    again = planner.plan(portfolio.parse(yaml.safe_load(EXAMPLE.read_text())))
    assert charts.savings(example_plan) == charts.savings(again)
    assert charts.costs(example_plan) == charts.costs(again)
    svg = charts.savings(example_plan)
    for lever in example_plan.savings_by_lever():
        assert f"{lever.value}: $" in svg


def test_the_committed_readme_chart_is_what_the_example_generates(example_plan):
    assert (ROOT / "docs" / "img" / "plan-savings.svg").read_text() == charts.savings(example_plan), (
        "regenerate it: aiplane plan examples/portfolio.yaml --format svg --out docs/img/plan-savings.svg")


def test_the_readme_summary_is_the_example_plan(example_plan):
    readme = (ROOT / "README.md").read_text()
    text = markdown.render(report.build(example_plan))
    summary = text.split("## Summary\n")[1].split("\n## ")[0].strip()
    assert summary in readme, "update README.md 'Plan before you build' from `aiplane plan examples/portfolio.yaml --format md`"


def test_a_lever_that_costs_money_is_drawn_left_of_zero():
    plan = planner.plan(portfolio.parse({"workloads": [{
        "name": "plant", "industry": "manufacturing", "latency_p99_ms": 10, "model_size_gb": 0.2,
        "requests_per_day": 5_000, "edge_sites": 6}]}))
    placement = [s for s in plan.workloads[0].savings if s.lever.value == "inference placement"]
    assert placement and placement[0].monthly < 0  # six edge sites cost more than one cloud slice
    assert "inference placement: -$" in charts.savings(plan)


def test_the_document_lists_infeasible_workloads_with_the_reason():
    plan = planner.plan(portfolio.parse({"workloads": [
        {"name": "fast", "industry": "manufacturing", "latency_p99_ms": 1, "requests_per_day": 10}]}))
    doc = document.build(plan)
    assert doc["summary"]["infeasible"] == [plan.workloads[0].infeasible]
    assert doc["workloads"][0]["inference"]["chosen"] is None


def test_the_planning_benchmark_runs():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "bench" / "plan.py"), "3"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[0] == "3"

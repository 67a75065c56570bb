"""POST /api/v1/plan on a real `aiplane up`: any valid key may plan; bad documents are 400s naming the field."""

from __future__ import annotations

import pytest
import yaml

from aiplane.domain.planning import planner, portfolio
from aiplane.reporting import document
from tests.conftest import ROOT, Platform

pytestmark = pytest.mark.serial
EXAMPLE = yaml.safe_load((ROOT / "examples" / "portfolio.yaml").read_text())


def _predictor_key(platform: Platform) -> str:
    with platform.http(platform.admin_key) as client:
        assert client.post("/api/v1/tenants", json={"name": "planners"}).status_code == 201
        created = client.post("/api/v1/keys", json={"role": "predictor", "tenant": "planners"})
    return str(created.json()["secret"])


def test_any_valid_key_gets_the_same_plan_as_the_offline_planner(platform: Platform):
    with platform.http(_predictor_key(platform)) as client:
        response = client.post("/api/v1/plan", json=EXAMPLE)
    assert response.status_code == 200, response.text
    assert response.json() == document.build(planner.plan(portfolio.parse(EXAMPLE)))


def test_markdown_and_html_reports(platform: Platform):
    with platform.http(platform.admin_key) as client:
        md = client.post("/api/v1/plan", params={"format": "md"}, json=EXAMPLE)
        html = client.post("/api/v1/plan", params={"format": "html"}, json=EXAMPLE)
    assert md.headers["content-type"].startswith("text/markdown") and md.text.startswith("# Infrastructure plan")
    assert html.headers["content-type"].startswith("text/html") and html.text.count("<svg") == 2


def test_planning_needs_a_key(platform: Platform):
    with platform.http() as client:
        response = client.post("/api/v1/plan", json=EXAMPLE)
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("body, detail", [
    ({"workloads": [{"name": "a", "requests_per_day": 5, "colour": "red"}]},
     "workloads[0].colour: is not a known field; use one of: name,"),
    ({"workloads": [{"name": "a", "requests_per_day": 5, "latency_p99_ms": -5}]},
     "workloads[0].latency_p99_ms: -5 is negative; use a positive number."),
    ({"workloads": [{"name": "a", "requests_per_day": 5, "gpu_model": "V100"}]},
     "workloads[0].gpu_model: 'V100' is not in the price catalog"),
    ([1, 2], "the document: expected a mapping of fields, got [1, 2]."),
])
def test_a_bad_document_is_a_problem_naming_the_field(platform: Platform, body, detail):
    with platform.http(platform.admin_key) as client:
        response = client.post("/api/v1/plan", json=body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail), response.json()

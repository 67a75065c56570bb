"""`aiplane deploy update` against a real `aiplane up`: bounds, resources and batching change in
place, admitted against the quota, audited, and replicas are replaced without a failed request."""

from __future__ import annotations

import json
import threading
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import Platform, TrainedModel, fails_in_one_line, pids_alive

pytestmark = pytest.mark.serial


def _ok(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr + result.stdout
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[Platform]:
    p = Platform(tmp_path_factory.mktemp("update") / "data").start()
    with p.http(p.admin_key) as http:
        assert http.post("/api/v1/tenants", json={"name": "lab", "cpus": 4, "memory": "4Gi",
                                                  "max_replicas": 4}).status_code == 201
        files = {"file": ("bc.onnx", trained_model.onnx.read_bytes(), "application/octet-stream")}
        assert http.post("/api/v1/tenants/lab/models/bc/versions", files=files).status_code == 201
        assert http.post("/api/v1/tenants/lab/deployments",
                         json={"name": "bc", "model": "bc:1", "min_replicas": 2}).status_code == 201
    yield p
    p.stop()
    p.kill_everything()


def _pids(doc: dict[str, Any]) -> list[int]:
    return [r["pid"] for r in doc["replica_status"]]


def test_raising_max_replicas_lets_a_scale_that_was_refused_through(platform: Platform):
    fails_in_one_line(platform.cli("deploy", "scale", "lab/bc", "--replicas", "3"), "above max-replicas 2")
    doc = _ok(platform.cli("deploy", "update", "lab/bc", "--max-replicas", "3", "--target-concurrency", "4",
                           "-o", "json"))
    assert doc["replicas"] == {"min": 2, "max": 3, "desired": 2, "ready": 2, "target_concurrency": 4}
    assert _ok(platform.cli("deploy", "scale", "lab/bc", "--replicas", "3", "-o", "json"))["replicas"]["ready"] == 3
    # Lowering the bound below the running count brings the count down with it.
    doc = _ok(platform.cli("deploy", "update", "lab/bc", "--max-replicas", "2", "-o", "json"))
    assert doc["replicas"]["desired"] == 2 and len(doc["replica_status"]) == 2


def test_an_update_the_quota_cannot_hold_is_refused_and_changes_nothing(platform: Platform):
    before = _ok(platform.cli("deploy", "status", "lab/bc", "-o", "json"))
    fails_in_one_line(platform.cli("deploy", "update", "lab/bc", "--cpus", "3"),
           "quota exceeded for cpus: asked 4, in use 2, limit 4")
    fails_in_one_line(platform.cli("deploy", "update", "lab/bc", "--min-replicas", "3", "--max-replicas", "2"),
           "max-replicas 2 is below min-replicas 3")
    fails_in_one_line(platform.cli("deploy", "update", "lab/bc"), "nothing to change")
    with platform.http(platform.admin_key) as http:
        for body, fragment in (({"max_batch_delay_ms": "soon"}, "max-batch-delay-ms"),
                               ({"target_concurrency": 0}, "target-concurrency 0"),
                               ({"memory": "lots"}, "memory 'lots'")):
            response = http.patch("/api/v1/tenants/lab/deployments/bc", json=body)
            assert response.status_code == 400 and fragment in response.json()["detail"], response.text
    after = _ok(platform.cli("deploy", "status", "lab/bc", "-o", "json"))
    assert after["resources"] == before["resources"] and _pids(after) == _pids(before)


def test_a_resource_change_replaces_the_replicas_one_at_a_time_without_a_failed_request(
        platform: Platform, trained_model: TrainedModel):
    predictor = json.loads(platform.cli("key", "create", "--tenant", "lab", "--role", "predictor",
                                        "-o", "json").stdout)["secret"]
    before = _ok(platform.cli("deploy", "status", "lab/bc", "-o", "json"))
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                        "data": trained_model.x[0].tolist()}]}
    answers: list[int] = []
    done = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {predictor}"},
                          timeout=30) as client:
            while not done.is_set() and len(answers) < 20_000:
                answers.append(client.post("/v2/models/bc/infer", json=body).status_code)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        doc = _ok(platform.cli("deploy", "update", "lab/bc", "--cpus", "500m", "--memory", "768Mi",
                               "--max-batch-size", "4", "--max-batch-delay-ms", "1", "-o", "json"))
    finally:
        done.set()
        thread.join()
    assert doc["resources"] == {"cpus": "500m", "memory": "768Mi"}
    assert doc["batching"] == {"max_batch_size": 4, "max_batch_delay_ms": 1.0}
    assert doc["replicas"]["ready"] == 2 and not set(_pids(doc)) & set(_pids(before))
    assert pids_alive(_pids(before)) == []
    assert answers and set(answers) == {200}, {code: answers.count(code) for code in set(answers)}
    with platform.http(platform.admin_key) as http:
        quota = http.get("/api/v1/tenants/lab/quota").json()["resources"]
        events = http.get("/api/v1/audit", params={"action": "deployment.update", "tenant": "lab"}).json()
    assert quota["cpus"]["used"] == "1" and quota["memory"]["used"] == "1536Mi"
    assert any(e["status"] == 200 and e["resource"] == "tenants/lab/deployments/bc" for e in events)

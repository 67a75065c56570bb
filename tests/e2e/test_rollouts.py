"""Canary, promote, rollback, scale-down and a killed replica, on a real platform under load:
every answer names the version that gave it, and no request fails while replicas come and go."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import Platform, TrainedModel, pids_alive
from tests.e2e.loadloop import LoadLoop

pytestmark = pytest.mark.serial
TENANT = "ro"


@dataclass
class Env:
    p: Platform
    admin: httpx.Client
    predictor: str
    body: dict[str, Any]

    def deploy(self, name: str, replicas: int = 1) -> dict[str, Any]:
        body = {"name": name, "model": "bc:1", "min_replicas": replicas, "max_replicas": 4, "cpus": "0.5",
                "memory": "256Mi"}
        return _ok(self.admin.post(f"/api/v1/tenants/{TENANT}/deployments", json=body), 201)

    def status(self, name: str) -> dict[str, Any]:
        return _ok(self.admin.get(f"/api/v1/tenants/{TENANT}/deployments/{name}"))

    def post(self, name: str, verb: str, **body: Any) -> httpx.Response:
        return self.admin.post(f"/api/v1/tenants/{TENANT}/deployments/{name}/{verb}", json=body or None)

    def load(self, name: str) -> LoadLoop:
        return LoadLoop(self.p.url, self.predictor, f"/v2/models/{name}/infer", self.body, clients=3)


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def _other_version(model: TrainedModel, folder: Path) -> bytes:
    """A second, different model of the same signature (fitted on half the rows)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from aiplane.runtime import sklearn_convert

    x, y = load_breast_cancer(return_X_y=True)
    return sklearn_convert.convert(LogisticRegression(max_iter=5000, C=0.5).fit(x[::2].astype("float32"), y[::2]))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("rollouts")
    # Short windows, set by the settings: the real clock runs everywhere in these tests.
    p = Platform(folder / "data", {"AIPLANE_ROLLOUT_DRAIN_S": "0.3", "AIPLANE_ROLLOUT_WINDOW_S": "5",
                                   "AIPLANE_ROLLOUT_MIN_REQUESTS": "10", "AIPLANE_ROLLOUT_CHECK_S": "0.3"}).start()
    admin = p.http(p.admin_key)
    _ok(admin.post("/api/v1/tenants", json={"name": TENANT, "cpus": 16, "memory": "16Gi", "max_replicas": 30}), 201)
    _ok(admin.post("/api/v1/tenants", json={"name": "other"}), 201)
    for tenant, model, artifact in [(TENANT, "bc", trained_model.onnx.read_bytes()),
                                    (TENANT, "bc", _other_version(trained_model, folder)),
                                    ("other", "theirs", trained_model.onnx.read_bytes())]:
        files = {"file": ("m.onnx", artifact, "application/octet-stream")}
        _ok(admin.post(f"/api/v1/tenants/{tenant}/models/{model}/versions", files=files), 201)
    key = _ok(admin.post("/api/v1/keys", json={"role": "predictor", "tenant": TENANT}), 201)["secret"]
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                        "data": trained_model.x[:1].ravel().tolist()}]}
    yield Env(p, admin, key, body)
    admin.close()
    p.stop()
    p.kill_everything()


def _answer_versions(env: Env, client: httpx.Client, ids: range) -> dict[str, tuple[str, str]]:
    out = {}
    for i in ids:
        r = client.post("/v2/models/split/infer", json=env.body, headers={"X-Request-Id": f"req-{i}"})
        assert r.status_code == 200, r.text
        assert r.json()["model_version"] == r.headers["x-aiplane-model-version"]
        out[f"req-{i}"] = (r.headers["x-aiplane-model-version"], r.headers["x-aiplane-audit-id"])
    return out


def test_a_canary_takes_its_share_sticky_per_request_id_and_the_audit_names_the_version(env: Env):
    env.deploy("split")
    status = _ok(env.post("split", "canary", model="bc:2", percent=50))
    assert status["canary"]["model_version"] == 2 and status["canary"]["replicas"]["ready"] == 1
    with env.p.http(env.predictor) as client:
        first = _answer_versions(env, client, range(60))
        again = _answer_versions(env, client, range(60))
        assert {k: v[0] for k, v in again.items()} == {k: v[0] for k, v in first.items()}  # sticky
        shares = [v for v, _ in first.values()]
        assert 10 < shares.count("2") < 50 and shares.count("1") + shares.count("2") == 60
        pinned = client.post("/v2/models/split/versions/2/infer", json=env.body)
        assert pinned.status_code == 200 and pinned.headers["x-aiplane-model-version"] == "2"
    events = _ok_list(env.admin.get("/api/v1/audit", params={"tenant": TENANT, "action": "predict", "limit": 1000}))
    recorded = {e["audit_id"]: e["model_version"] for e in events}
    assert all(recorded[audit_id] == version for version, audit_id in first.values())


def _ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["events"] if isinstance(body, dict) else body)


def test_bad_rollout_requests_get_one_sentence_and_change_nothing(env: Env):
    env.deploy("bad")
    before = env.status("bad")
    cases = [
        (env.post("bad", "canary", model="bc:1", percent=10), 400, "already the stable version"),
        (env.post("bad", "canary", model="bc:2", percent=101), 400, "outside 0-100"),
        (env.post("bad", "canary", model="bc:2", percent=-1), 400, "outside 0-100"),
        (env.post("bad", "canary", model="theirs:1", percent=10), 404, "theirs"),
        (env.post("bad", "promote"), 409, "no canary"),
        (env.post("bad", "rollback"), 409, "no canary"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        detail = response.json()["detail"]
        assert words in detail and detail.count(". ") == 0 and "\n" not in detail
    cli = env.p.cli("deploy", "canary", f"{TENANT}/bad", "--model", "bc:2", "--percent", "101")
    assert cli.returncode != 0 and "outside 0-100" in cli.stderr and len(cli.stderr.strip().splitlines()) == 1
    assert env.status("bad") == before
    started = env.p.cli("deploy", "canary", f"{TENANT}/bad", "--model", "bc:2", "--percent", "10", "-o", "json")
    assert started.returncode == 0, started.stderr
    during = env.status("bad")
    second = env.post("bad", "canary", model="bc:2", percent=20)
    assert second.status_code == 409 and "already has a canary" in second.json()["detail"]
    assert env.status("bad") == during


def test_promote_under_load_drops_no_request(env: Env):
    env.deploy("prom", replicas=2)
    _ok(env.post("prom", "canary", model="bc:2", percent=20))
    old_pids = [r["pid"] for r in env.status("prom")["replica_status"]]
    with env.load("prom") as load:
        load.wait_for(30)
        promoted = _ok(env.post("prom", "promote"))
        after = load.count()
        load.wait_for(30)
    assert load.failures() == []
    assert load.versions(after) == {"2": len(load.answers) - after}
    assert promoted["model_version"] == 2 and promoted["canary"] is None
    assert [r["model_version"] for r in promoted["replica_status"]] == [2, 2]
    deadline = time.monotonic() + 15
    while pids_alive(old_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pids_alive(old_pids), "the old version's replicas were not stopped"


def test_rollback_under_load_drops_no_request(env: Env):
    env.deploy("back", replicas=2)
    _ok(env.post("back", "canary", model="bc:2", percent=50))
    with env.load("back") as load:
        load.wait_for(40)
        assert load.versions()["2"] > 0
        rolled = _ok(env.post("back", "rollback"))
        after = load.count()
        load.wait_for(30)
    assert load.failures() == []
    assert load.versions(after) == {"1": len(load.answers) - after}
    assert rolled["canary"] is None and rolled["rollout_note"].startswith("rolled back by")


def test_scale_down_under_load_drops_no_request(env: Env):
    env.deploy("down", replicas=3)
    with env.load("down") as load:
        load.wait_for(30)
        scaled = _ok(env.admin.post(f"/api/v1/tenants/{TENANT}/deployments/down/scale", json={"replicas": 1}))
        load.wait_for(30)
    assert load.failures() == []
    assert len(scaled["replica_status"]) == 1


def _failing_model() -> bytes:
    """A model of the same input that ONNX Runtime cannot run on an odd number of rows (it
    reshapes 30 features per row into fours): the canary built to fail."""
    import onnx
    from onnx import TensorProto, helper

    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 4])
    graph = helper.make_graph([helper.make_node("Reshape", ["input", "shape"], ["out"])], "fails-on-odd-rows",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 30])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 4])], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_a_failing_canary_is_rolled_back_automatically_with_the_reason_recorded(env: Env):
    files = {"file": ("broken.onnx", _failing_model(), "application/octet-stream")}
    broken = str(_ok(env.admin.post(f"/api/v1/tenants/{TENANT}/models/bc/versions", files=files), 201)["version"])
    env.deploy("auto")
    _ok(env.post("auto", "canary", model=f"bc:{broken}", percent=50, auto_rollback=True))
    with env.load("auto") as load:
        deadline = time.monotonic() + 60
        while env.status("auto")["canary"] is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        after = load.count()
        load.wait_for(30)
    status = env.status("auto")
    assert status["canary"] is None, "the failing canary was not rolled back"
    assert "the canary failed 100% of" in status["rollout_note"]
    assert load.failures() and {(code, version) for code, version, _ in load.failures()} == {(400, broken)}
    assert load.answers[after:] and all(a[:2] == (200, "1") for a in load.answers[after:])
    events = _ok_list(env.admin.get("/api/v1/audit", params={"tenant": TENANT, "action": "canary.rollback",
                                                              "actor": "auto-rollback"}))
    assert [(e["resource"], e["status"]) for e in events] == [("deployments/auto/canary", 200)]
    assert events[0]["decision"] == status["rollout_note"]

"""The real `aiplane up` process over HTTP: register -> deploy -> predict, scope, self-healing, bad input."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import Platform, TrainedModel, pids_alive

pytestmark = pytest.mark.serial
ROLES = ("tenant-admin", "deployer", "predictor", "auditor")


@dataclass
class World:
    platform: Platform
    model: TrainedModel
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (tenant, role) -> secret

    def key(self, tenant: str, role: str) -> str:
        return self.keys[(tenant, role)]

    def infer(self, token: str | None, name: str = "bc", rows: int = 1, **headers: str) -> httpx.Response:
        x = self.model.x[:rows]
        body = {"inputs": [{"name": "input", "shape": [rows, 30], "datatype": "FP32", "data": x.ravel().tolist()}]}
        with self.platform.http(token) as client:
            return client.post(f"/v2/models/{name}/infer", json=body, headers=headers)


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def world(platform: Platform, trained_model: TrainedModel) -> World:
    w = World(platform, trained_model)
    for tenant in ("alpha", "beta"):
        _ok(platform.cli("tenant", "create", tenant, "--cpus", "4", "--memory", "8Gi", "--max-replicas", "3"))
        for role in ROLES:
            doc = json.loads(_ok(platform.cli("key", "create", "--tenant", tenant, "--role", role, "-o", "json")))
            w.keys[(tenant, role)] = doc["secret"]
    _ok(platform.cli("model", "register", "alpha/bc", str(trained_model.pickle), "--validation",
                     str(trained_model.validation)))
    _ok(platform.cli("deploy", "create", "alpha/bc", "--model", "bc:1", "--min-replicas", "2", "--cpus", "1"))
    _ok(platform.cli("model", "register", "beta/other", str(trained_model.onnx)))
    _ok(platform.cli("deploy", "create", "beta/other", "--model", "other:latest"))
    return w


def test_registered_sklearn_model_is_converted_checked_and_measured(world: World):
    doc = json.loads(_ok(world.platform.cli("model", "show", "alpha/bc:1", "-o", "json")))
    assert doc["source_format"] == "sklearn" and doc["version"] == 1
    assert doc["digest"].startswith("sha256:") and doc["size_bytes"] > 0
    assert doc["metrics"]["client_checks"]["converted_matches_estimator"] is True
    assert doc["metrics"]["accuracy"] > 0.9 and doc["metrics"]["validation_samples"] == 100
    assert doc["signature"]["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}]
    assert doc["created_by"] and doc["created_at"]
    blob = world.platform.data_dir / "artifacts" / "sha256" / doc["digest"].split(":")[1]
    assert oct(blob.stat().st_mode & 0o777) == "0o444"


def test_an_estimator_whose_onnx_conversion_disagrees_is_refused(world: World, tmp_path: Path):
    """y = a - b, checked on a row at a scale FP32 cannot hold: 100000003 and 100000000 are both
    100000000.0 in FP32, so the converted model answers 0 where the estimator answers 3."""
    import joblib
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).normal(size=(50, 2))
    joblib.dump(LinearRegression().fit(x, x[:, 0] - x[:, 1]), tmp_path / "diff.pkl")
    np.savez(tmp_path / "val.npz", X=np.array([[100000003.0, 100000000.0], [1.0, 0.5]]))
    refused = world.platform.cli("model", "register", "alpha/diff", str(tmp_path / "diff.pkl"), "--validation",
                                 str(tmp_path / "val.npz"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: the ONNX conversion disagrees with the estimator on 1 of 2 validation rows; register an ONNX file "
        "exported and checked by hand instead."], refused.stderr
    assert "diff" not in _ok(world.platform.cli("model", "list", "alpha", "-o", "json"))  # nothing was sent
    np.savez(tmp_path / "val.npz", X=x[:10])  # the same estimator on data FP32 holds: accepted
    accepted = json.loads(_ok(world.platform.cli("model", "register", "alpha/diff", str(tmp_path / "diff.pkl"),
                                                 "--validation", str(tmp_path / "val.npz"), "-o", "json")))
    assert accepted["metrics"]["client_checks"]["converted_matches_estimator"] is True


def test_deployment_runs_its_replicas_and_predictions_match_the_estimator(world: World):
    status = json.loads(_ok(world.platform.cli("deploy", "status", "alpha/bc", "-o", "json")))
    assert status["phase"] == "Ready" and status["replicas"]["ready"] == 2
    response = world.infer(world.key("alpha", "predictor"), rows=16)
    assert response.status_code == 200, response.text
    label = next(o for o in response.json()["outputs"] if o["name"] == "label")
    assert label["data"] == world.model.estimator.predict(world.model.x[:16]).tolist()


def test_cli_predict_with_json_and_with_a_npy_file(world: World, tmp_path: Path):
    row = world.model.x[:1]
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                                   "data": row.ravel().tolist()}]})
    doc = json.loads(_ok(world.platform.cli("predict", "alpha/bc", "--json", body)))
    assert doc["model_name"] == "bc"
    np.save(tmp_path / "rows.npy", world.model.x[:3])
    doc = json.loads(_ok(world.platform.cli("predict", "alpha/bc", "--input", str(tmp_path / "rows.npy"),
                                            token=world.key("alpha", "predictor"))))
    assert doc["outputs"][0]["shape"] == [3]


@pytest.mark.parametrize("tenant,role,target,status", [
    ("alpha", "predictor", "bc", 200),
    ("alpha", "tenant-admin", "bc", 200),
    ("alpha", "deployer", "bc", 403),
    ("alpha", "auditor", "bc", 403),
    ("beta", "predictor", "bc", 404),      # another tenant's deployment does not exist for you
    ("beta", "tenant-admin", "bc", 404),
    ("alpha", "predictor", "other", 404),
    ("beta", "predictor", "other", 200),
])
def test_data_plane_scope(world: World, tenant, role, target, status):
    response = world.infer(world.key(tenant, role), name=target)
    assert response.status_code == status, response.text
    if status != 200:
        assert set(response.json()) == {"error"}


def test_data_plane_rejects_missing_and_bad_keys(world: World):
    assert world.infer(None).status_code == 401
    assert world.infer("aip_000000000000_" + "0" * 48).status_code == 401
    assert world.infer("not-a-key").status_code == 401
    admin = world.platform.admin_key
    assert world.infer(admin).status_code == 400  # must name the tenant
    assert world.infer(admin, **{"X-Aiplane-Tenant": "alpha"}).status_code == 200
    assert world.infer(admin, **{"X-Aiplane-Tenant": "beta"}).status_code == 404


@pytest.mark.parametrize("role,method,path,status", [
    ("predictor", "GET", "/api/v1/tenants/alpha/deployments", 403),
    ("predictor", "GET", "/api/v1/tenants/alpha/models", 403),
    ("auditor", "GET", "/api/v1/tenants/alpha/models", 403),
    ("deployer", "GET", "/api/v1/tenants/alpha/deployments", 200),
    ("deployer", "GET", "/api/v1/tenants/beta/deployments", 403),
    ("deployer", "POST", "/api/v1/keys", 403),
    ("tenant-admin", "GET", "/api/v1/keys", 200),
    ("tenant-admin", "GET", "/api/v1/tenants/beta", 403),
    ("tenant-admin", "POST", "/api/v1/tenants", 403),
    ("tenant-admin", "DELETE", "/api/v1/tenants/alpha", 403),
])
def test_control_plane_roles_and_scope(world: World, role, method, path, status):
    body = {"role": "predictor", "tenant": "alpha"} if path.endswith("/keys") else {"name": "x"}
    with world.platform.http(world.key("alpha", role)) as client:
        response = client.request(method, path, json=body if method == "POST" else None)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status


def test_control_plane_needs_a_key_but_health_and_metrics_do_not(world: World):
    with world.platform.http() as client:
        assert client.get("/api/v1/tenants").status_code == 401
        assert client.get("/healthz").status_code == 200
        assert client.get("/v2/health/ready").json() == {"ready": True}
        metrics = client.get("/metrics").text
    assert 'aiplane_replicas_ready{deployment="bc",tenant="alpha"} 2.0' in metrics


def test_revoked_and_expired_keys_stop_working(world: World):
    revoked = json.loads(_ok(world.platform.cli("key", "create", "--tenant", "alpha", "--role", "predictor",
                                                "-o", "json")))
    expiring = json.loads(_ok(world.platform.cli("key", "create", "--tenant", "alpha", "--role", "predictor",
                                                 "--expires-in", "2s", "-o", "json")))
    assert world.infer(expiring["secret"]).status_code == 200  # first: a CLI call can take 2 s on a busy machine
    assert world.infer(revoked["secret"]).status_code == 200
    _ok(world.platform.cli("key", "revoke", revoked["key_id"]))
    assert world.infer(revoked["secret"]).status_code == 401
    time.sleep(2.2)
    assert world.infer(expiring["secret"]).status_code == 401
    listed = _ok(world.platform.cli("key", "list", "--tenant", "alpha", "-o", "json"))
    assert revoked["secret"] not in listed and revoked["key_id"] in listed


def test_a_replica_killed_with_sigkill_is_replaced_and_predictions_resume(world: World):
    before = json.loads(_ok(world.platform.cli("deploy", "status", "alpha/bc", "-o", "json")))
    victim = before["replica_status"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    token = world.key("alpha", "predictor")
    during = [world.infer(token).status_code for _ in range(20)]
    assert during.count(200) >= 18  # the other replica keeps answering while one restarts
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = json.loads(_ok(world.platform.cli("deploy", "status", "alpha/bc", "-o", "json")))
        replica = after["replica_status"][0]
        if replica["state"] == "ready" and replica["pid"] not in (None, victim):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"replica was not replaced: {after}")
    assert replica["restarts"] == 1 and not pids_alive([victim])
    assert [world.infer(token).status_code for _ in range(20)] == [200] * 20


def test_one_line_errors_that_change_nothing(world: World, tmp_path: Path):
    p = world.platform
    before = _ok(p.cli("model", "list", "-o", "json"))
    cases = [
        (("model", "register", "ghost/bc", str(world.model.onnx)), "tenant 'ghost' does not exist"),
        (("model", "register", "alpha/junk", str(_junk(tmp_path))), "not a valid ONNX model"),
        (("model", "register", "alpha/junk", str(_junk(tmp_path)), "--format", "sklearn"),
         "not a pickled or joblib scikit-learn estimator"),
        (("tenant", "create", "alpha"), "already exists"),
        (("tenant", "create", "gamma", "--memory", "16Gb"), "not a valid quantity"),
        (("deploy", "create", "alpha/bc", "--model", "bc:1"), "already exists"),
        (("deploy", "create", "alpha/big", "--model", "bc:1", "--min-replicas", "2"),
         "quota exceeded for replicas: asked 2, in use 2, limit 3"),
        (("deploy", "create", "alpha/x", "--model", "bc:9"), "has no version 9"),
    ]
    for args, fragment in cases:
        result = p.cli(*args)
        assert result.returncode == 1, (args, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (args, result.stderr)
    assert _ok(p.cli("model", "list", "-o", "json")) == before
    assert json.loads(_ok(p.cli("deploy", "list", "alpha", "-o", "json")))[0]["name"] == "bc"
    assert len(json.loads(_ok(p.cli("deploy", "list", "alpha", "-o", "json")))) == 1


def _junk(tmp_path: Path) -> Path:
    path = tmp_path / "junk.bin"
    path.write_bytes(os.urandom(256))
    return path


@pytest.mark.parametrize("body,fragment", [
    (b'{"inputs": [', "not valid JSON"),
    (b'{"inputs": [{"name": "input", "shape": [1, 29], "datatype": "FP32", "data": []}]}', "expects [-1, 30]"),
    (b'{"inputs": [{"name": "input", "shape": [1, 30], "datatype": "INT64", "data": []}]}', "expects 'FP32'"),
    (b'{"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32", "data": []}]}', "not an input"),
    (b'[1, 2, 3]', "'inputs' list"),
])
def test_bad_inference_requests_are_400_through_the_gateway(world: World, body, fragment):
    with world.platform.http(world.key("alpha", "predictor")) as client:
        response = client.post("/v2/models/bc/infer", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and fragment in response.json()["error"]


LIMIT = 1 << 20  # the module platform's AIPLANE_GATEWAY_MAX_BODY_BYTES


def _padded_body(world: World, size: int) -> bytes:
    """A valid one-row request padded with JSON whitespace to exactly `size` bytes."""
    row = world.model.x[:1].ravel().tolist()
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": row}]}).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_of_exactly_the_limit_is_served_and_one_byte_more_is_413(world: World, chunked: bool):
    def send(body: bytes) -> httpx.Response:
        # Chunked: no content-length up front, so the limit is enforced while reading.
        content = iter([body[:len(body) // 2], body[len(body) // 2:]]) if chunked else body
        with world.platform.http(world.key("alpha", "predictor")) as client:
            return client.post("/v2/models/bc/infer", content=content, headers={"content-type": "application/json"})

    at_limit, over = _padded_body(world, LIMIT), _padded_body(world, LIMIT + 1)
    assert len(at_limit) == LIMIT and len(over) == LIMIT + 1
    served = send(at_limit)
    assert served.status_code == 200, served.text  # the gateway and the replica both accept the limit itself
    refused = send(over)
    # Refused by the gateway itself ("exceeds"; a replica says "is larger than"), before any forwarding.
    assert refused.status_code == 413 and f"exceeds the limit of {LIMIT} bytes" in refused.json()["error"]


def test_control_plane_bad_bodies_are_problem_documents(world: World):
    with world.platform.http(world.platform.admin_key) as client:
        malformed = client.post("/api/v1/tenants", content=b"{", headers={"content-type": "application/json"})
        unknown = client.post("/api/v1/tenants", json={"name": "delta", "colour": "blue"})
        missing = client.get("/api/v1/tenants/nobody")
    assert malformed.status_code == 400 and malformed.json()["detail"] == "the request body is not valid JSON."
    assert unknown.status_code == 400 and "colour" in unknown.json()["detail"]
    assert missing.status_code == 404 and missing.json()["detail"].startswith("tenant 'nobody' does not exist")


def test_openapi_describes_the_control_api(world: World):
    with world.platform.http() as client:
        spec = client.get("/openapi.json").json()
    assert "/api/v1/tenants/{tenant}/deployments" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]

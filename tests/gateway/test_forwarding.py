"""The gateway in front of a batching replica: the deployment's batching settings reach the
replica, a replica slower than the forward timeout is a 504, the replica's own 503 passes back."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import Platform, TrainedModel

pytestmark = pytest.mark.serial


def test_a_slow_batch_is_a_504_and_a_request_timeout_a_503_with_retry_after(platform_factory, trained_model: TrainedModel):
    platform: Platform = platform_factory(env={"AIPLANE_GATEWAY_FORWARD_TIMEOUT_S": "1"}).start()
    assert platform.cli("tenant", "create", "slow", "--cpus", "2", "--memory", "2Gi").returncode == 0
    assert platform.cli("model", "register", "slow/bc", str(trained_model.onnx)).returncode == 0
    # A lone request waits the whole batch delay (3 s) for company: longer than the gateway waits.
    created = platform.cli("deploy", "create", "slow/bc", "--model", "bc:1", "--max-batch-size", "8",
                           "--max-batch-delay-ms", "3000")
    assert created.returncode == 0, created.stderr
    key = json.loads(platform.cli("key", "create", "--tenant", "slow", "--role", "predictor",
                                  "--output", "json").stdout)["secret"]
    body = {"id": "s1", "inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                                    "data": trained_model.x[0].tolist()}]}
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        response = client.post("/v2/models/bc/infer", json=body)
        assert response.status_code == 504 and "within 1 s" in response.json()["error"]
        body["parameters"] = {"binary_data_output": True, "timeout": 100_000}  # 0.1 s: the replica gives up first
        response = client.post("/v2/models/bc/infer", json=body)
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "timeout of 100000 µs" in response.json()["error"]


def test_server_ready_is_503_while_a_deployment_has_no_ready_replica(platform_factory, tmp_path):
    from onnx import TensorProto, helper

    # A fixed batch dimension: a replica asked to batch it refuses to start, so it is never ready.
    fixed = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])]), opset_imports=[helper.make_opsetid("", 17)])
    (tmp_path / "fixed.onnx").write_bytes(fixed.SerializeToString())
    platform: Platform = platform_factory(env={"AIPLANE_REPLICA_READY_TIMEOUT_S": "2"}).start()
    with platform.http() as client:
        assert client.get("/v2/health/ready").json() == {"ready": True}  # no deployments: nothing to wait for
    assert platform.cli("tenant", "create", "t", "--cpus", "2", "--memory", "2Gi").returncode == 0
    assert platform.cli("model", "register", "t/fixed", str(tmp_path / "fixed.onnx")).returncode == 0
    platform.cli("deploy", "create", "t/fixed", "--model", "fixed:1", "--max-batch-size", "4")
    key = json.loads(platform.cli("key", "create", "--tenant", "t", "--role", "predictor",
                                  "--output", "json").stdout)["secret"]
    with platform.http() as client:
        response = client.get("/v2/health/ready")
        assert response.status_code == 503 and response.json() == {"ready": False}
        index = client.post("/v2/repository/index", headers={"Authorization": f"Bearer {key}"})
        assert index.json() == [{"name": "fixed", "version": "1", "state": "UNAVAILABLE",
                                 "reason": "no replica is ready yet"}]
    assert platform.cli("deploy", "delete", "t/fixed").returncode == 0
    with platform.http() as client:
        assert client.get("/v2/health/ready").status_code == 200

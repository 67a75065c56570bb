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

"""The V2 clients users already have, unchanged: Triton's `tritonclient.http` and KServe's REST client.

Each sends JSON and binary tensors to a real replica (and, for Triton's client, through the
governed gateway with a bearer key); every answer must equal ONNX Runtime's on the same input.
"""

from __future__ import annotations

import asyncio

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import Platform, TrainedModel
from tests.serving.conftest import Replica

pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def bc(trained_model: TrainedModel) -> Replica:
    r = Replica(trained_model.onnx, "bc")
    yield r
    r.stop()


def _expected(trained_model: TrainedModel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(trained_model.onnx), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"], {"input": rows})
    return label, probabilities


def _triton_infer(url: str, rows: np.ndarray, binary: bool, headers: dict | None = None):
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url.removeprefix("http://"))
    try:
        x = triton.InferInput("input", list(rows.shape), "FP32")
        x.set_data_from_numpy(rows, binary_data=binary)
        wanted = [triton.InferRequestedOutput("label", binary_data=binary),
                  triton.InferRequestedOutput("probabilities", binary_data=binary)]
        result = client.infer("bc", [x], outputs=wanted, request_id="tc-1", headers=headers)
        return result.as_numpy("label"), result.as_numpy("probabilities"), result.get_response()
    finally:
        client.close()


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_http_gets_onnx_runtime_answers(bc: Replica, trained_model: TrainedModel, binary: bool):
    rows = trained_model.x[:16]
    label, probabilities, response = _triton_infer(bc.url, rows, binary)
    want_label, want_probabilities = _expected(trained_model, rows)
    assert response["id"] == "tc-1"
    assert np.array_equal(label, want_label)
    assert np.allclose(probabilities, want_probabilities, atol=1e-6)


def test_tritonclient_metadata_and_health(bc: Replica):
    import tritonclient.http as triton

    client = triton.InferenceServerClient(bc.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("bc")
        assert client.get_model_metadata("bc")["inputs"][0]["shape"] == [-1, 30]
        assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        assert [m["name"] for m in client.get_model_repository_index()] == ["bc"]
    finally:
        client.close()


@pytest.mark.parametrize("binary", [False, True])
def test_kserve_rest_client_gets_onnx_runtime_answers(bc: Replica, trained_model: TrainedModel, binary: bool):
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    rows = trained_model.x[:8]

    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v2"))
        try:
            x = InferInput("input", list(rows.shape), "FP32")
            x.set_data_from_numpy(rows, binary_data=binary)
            request = InferRequest("bc", [x], request_id="ks-1", parameters={"binary_data_output": binary})
            return await client.infer(bc.url, request, model_name="bc")
        finally:
            await client.close()

    response = asyncio.run(call())
    want_label, want_probabilities = _expected(trained_model, rows)
    outputs = {o.name: o.as_numpy() for o in response.outputs}
    assert response.id == "ks-1"
    assert np.array_equal(outputs["label"], want_label)
    assert np.allclose(outputs["probabilities"], want_probabilities, atol=1e-6)


def test_tritonclient_through_the_governed_gateway(platform_factory, trained_model: TrainedModel):
    platform: Platform = platform_factory().start()
    assert platform.cli("tenant", "create", "interop", "--cpus", "2", "--memory", "2Gi").returncode == 0
    assert platform.cli("model", "register", "interop/bc", str(trained_model.onnx)).returncode == 0
    created = platform.cli("deploy", "create", "interop/bc", "--model", "bc:1")
    assert created.returncode == 0, created.stderr
    import json

    key = json.loads(platform.cli("key", "create", "--tenant", "interop", "--role", "predictor",
                                  "--output", "json").stdout)["secret"]
    rows = trained_model.x[:4]
    for binary in (False, True):
        label, probabilities, _ = _triton_infer(platform.url, rows, binary, {"Authorization": f"Bearer {key}"})
        want_label, want_probabilities = _expected(trained_model, rows)
        assert np.array_equal(label, want_label)
        assert np.allclose(probabilities, want_probabilities, atol=1e-6)
    import tritonclient.http as triton

    client = triton.InferenceServerClient(platform.url.removeprefix("http://"))
    try:
        auth = {"Authorization": f"Bearer {key}"}
        index = client.get_model_repository_index(headers=auth)
        assert index == [{"name": "bc", "version": "1", "state": "READY", "reason": ""}]
        assert client.is_model_ready("bc", headers=auth)
        assert "binary_tensor_data" in client.get_server_metadata(headers=auth)["extensions"]
    finally:
        client.close()

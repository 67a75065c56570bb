"""`aiplane serve-model` on its own: a real process, a real ONNX model, a real HTTP client."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Iterator

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import TrainedModel, free_port

pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def replica(trained_model: TrainedModel) -> Iterator[httpx.Client]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiplane", "serve-model", "--model", str(trained_model.onnx), "--port", str(port),
         "--name", "bc", "--max-body-bytes", "65536"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    for _ in range(300):
        try:
            if client.get("/v2/health/ready").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield client
    client.close()
    proc.terminate()
    assert proc.wait(15) in (0, -15)  # uvicorn re-raises the SIGTERM it handled gracefully


def _body(rows: np.ndarray, **extra) -> dict:
    return {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                        "data": rows.ravel().tolist()}], **extra}


def test_health_and_server_metadata(replica: httpx.Client):
    assert replica.get("/v2/health/live").json() == {"live": True}
    assert replica.get("/v2/health/ready").json() == {"ready": True}
    assert replica.get("/v2").json()["name"] == "aiplane-replica"


def test_model_metadata_describes_the_signature_with_and_without_version(replica: httpx.Client):
    for path in ("/v2/models/bc", "/v2/models/bc/versions/1"):
        meta = replica.get(path).json()
        assert meta["name"] == "bc" and meta["versions"] == ["1"]
        assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}]
        assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert replica.get("/v2/models/bc/ready").json() == {"name": "bc", "ready": True}


def test_infer_equals_onnx_runtime_and_the_estimator(replica: httpx.Client, trained_model: TrainedModel):
    rows = trained_model.x[:32]
    response = replica.post("/v2/models/bc/versions/1/infer", json=_body(rows, id="req-7"))
    assert response.status_code == 200, response.text
    doc = response.json()
    assert response.headers["x-request-id"] == "req-7"
    assert response.headers["x-aiplane-decision"].startswith("label=")
    assert doc["id"] == "req-7" and doc["model_name"] == "bc" and doc["model_version"] == "1"
    label = next(o for o in doc["outputs"] if o["name"] == "label")
    assert label["shape"] == [32] and label["datatype"] == "INT64"
    assert label["data"] == trained_model.estimator.predict(rows).tolist()
    session = ort.InferenceSession(str(trained_model.onnx), providers=["CPUExecutionProvider"])
    probabilities = next(o for o in doc["outputs"] if o["name"] == "probabilities")
    expected = session.run(["probabilities"], {"input": rows})[0]
    assert np.allclose(np.array(probabilities["data"]).reshape(32, 2), expected, atol=1e-6)


def test_nested_data_and_output_selection(replica: httpx.Client, trained_model: TrainedModel):
    rows = trained_model.x[:2]
    body = {"inputs": [{"name": "input", "shape": [2, 30], "datatype": "FP32", "data": rows.tolist()}],
            "outputs": [{"name": "label"}]}
    doc = replica.post("/v2/models/bc/infer", json=body).json()
    assert [o["name"] for o in doc["outputs"]] == ["label"]
    assert doc["id"]  # generated when absent


@pytest.mark.parametrize("mutate,fragment", [
    (lambda b: b["inputs"][0].update(name="x"), "not an input of this model"),
    (lambda b: b["inputs"][0].update(datatype="FP64"), "expects 'FP32'"),
    (lambda b: b["inputs"][0].update(shape=[1, 29]), "expects [-1, 30]"),
    (lambda b: b["inputs"][0].update(shape=[2, 30]), "needs 60"),
    (lambda b: b["inputs"][0].update(data=["a"] * 30), "must be numbers, got a string"),
    (lambda b: b["inputs"][0].update(shape=[1, -30]), "non-negative integers"),
    (lambda b: b.update(inputs=[]), "lacks input"),
    (lambda b: b.update(outputs=[{"name": "nope"}]), "not an output"),
])
def test_bad_requests_are_400_with_one_clear_sentence(replica: httpx.Client, trained_model: TrainedModel,
                                                      mutate, fragment):
    body = _body(trained_model.x[:1])
    mutate(body)
    response = replica.post("/v2/models/bc/infer", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_malformed_json_and_oversized_bodies(replica: httpx.Client):
    response = replica.post("/v2/models/bc/infer", content=b'{"inputs": [', headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    response = replica.post("/v2/models/bc/infer", content=b" " * 70000)
    assert response.status_code == 413


def test_unknown_model_or_version_is_404(replica: httpx.Client):
    assert replica.get("/v2/models/other").status_code == 404
    assert replica.post("/v2/models/bc/versions/2/infer", json={}).status_code == 404
    assert "error" in replica.get("/v2/models/bc/versions/2").json()


def test_serve_model_refuses_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_text("not a model")
    result = subprocess.run([sys.executable, "-m", "aiplane", "serve-model", "--model", str(bogus), "--port", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: the file is not a valid ONNX model that ONNX Runtime can load."]

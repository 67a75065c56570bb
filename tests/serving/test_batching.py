"""Dynamic batching in a real replica: answers go back to their own requests, the queue is bounded,
and a request's `timeout` parameter is honoured."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import TrainedModel

pytestmark = pytest.mark.serial


def _body(rows: np.ndarray, request_id: str, **parameters) -> dict:
    body = {"id": request_id, "inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                                          "data": rows.ravel().tolist()}]}
    if parameters:
        body["parameters"] = parameters
    return body


async def _many(url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=len(bodies))) as client:
        return await asyncio.gather(*(client.post("/v2/models/bc/infer", json=b) for b in bodies))


def test_every_request_gets_its_own_rows_back(replica_factory, trained_model: TrainedModel):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "16", "--max-batch-delay-ms", "20")
    rng = np.random.default_rng(7)
    slices = []
    for i in range(48):
        start, count = int(rng.integers(0, 500)), int(rng.integers(1, 5))
        slices.append((f"r{i}", trained_model.x[start:start + count]))
    responses = asyncio.run(_many(replica.url, [_body(rows, rid) for rid, rows in slices]))
    session = ort.InferenceSession(str(trained_model.onnx), providers=["CPUExecutionProvider"])
    for (rid, rows), response in zip(slices, responses):
        assert response.status_code == 200, response.text
        doc = response.json()
        assert doc["id"] == rid and response.headers["x-request-id"] == rid
        outputs = {o["name"]: o for o in doc["outputs"]}
        label, probabilities = session.run(["label", "probabilities"], {"input": rows})
        assert outputs["label"]["shape"] == [len(rows)]
        assert outputs["label"]["data"] == label.tolist()
        assert np.allclose(np.array(outputs["probabilities"]["data"]).reshape(-1, 2), probabilities, atol=1e-6)


def test_a_bad_request_in_a_batch_fails_alone(replica_factory, trained_model: TrainedModel):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "32", "--max-batch-delay-ms", "50")
    good = [_body(trained_model.x[i:i + 1], f"g{i}") for i in range(6)]
    bad = _body(trained_model.x[:1], "bad")
    bad["inputs"][0]["shape"] = [1, 29]
    responses = asyncio.run(_many(replica.url, good[:3] + [bad] + good[3:]))
    assert [r.status_code for r in responses] == [200, 200, 200, 400, 200, 200, 200]
    assert [r.json().get("id") for r in responses if r.status_code == 200] == [f"g{i}" for i in range(6)]


def test_a_full_queue_answers_503_with_retry_after(replica_factory, trained_model: TrainedModel):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "64", "--max-batch-delay-ms", "500",
                              "--max-queue", "2")
    responses = asyncio.run(_many(replica.url, [_body(trained_model.x[:1], f"q{i}") for i in range(6)]))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503, 503]
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "queue is full" in refused.json()["error"]


def test_the_timeout_parameter_is_honoured(replica_factory, trained_model: TrainedModel):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "64", "--max-batch-delay-ms", "400")
    short, patient = asyncio.run(_many(replica.url, [_body(trained_model.x[:1], "short", timeout=20_000),
                                                     _body(trained_model.x[1:2], "patient", timeout=5_000_000)]))
    assert short.status_code == 503 and "timeout of 20000 µs" in short.json()["error"]
    assert patient.status_code == 200 and patient.json()["id"] == "patient"
    response = replica.client.post("/v2/models/bc/infer", json=_body(trained_model.x[:1], "t", timeout="soon"))
    assert response.status_code == 400 and "'timeout'" in response.json()["error"]

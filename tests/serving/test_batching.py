"""Dynamic batching in a real replica: answers go back to their own requests, the queue is bounded,
and a request's `timeout` parameter is honoured, both where the model runs in a worker thread (more
than one usable CPU) and where it runs on the event loop (a replica pinned to one CPU)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import TrainedModel

pytestmark = pytest.mark.serial

ONE_CPU = {min(os.sched_getaffinity(0))}


@pytest.fixture(params=[None, ONE_CPU], ids=["all-cpus", "one-cpu"])
def cpus(request: pytest.FixtureRequest) -> set[int] | None:
    return request.param


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


def test_every_request_gets_its_own_rows_back(replica_factory, trained_model: TrainedModel,
                                              cpus: set[int] | None):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "16", "--max-batch-delay-ms", "20",
                              cpus=cpus)
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
    runs = _batch_histogram(replica.client.get("/metrics").text)
    assert runs["sum"] == len(slices)  # every request ran exactly once...
    assert runs["count"] < len(slices) and runs["1"] < runs["count"]  # ...and model runs combined several


def _batch_histogram(text: str) -> dict[str, float]:
    """The replica's aiplane_replica_batch_requests histogram, read with Prometheus's own parser:
    its count (model runs), sum (requests) and each cumulative bucket by its upper bound."""
    from prometheus_client.parser import text_string_to_metric_families

    family = next(f for f in text_string_to_metric_families(text) if f.name == "aiplane_replica_batch_requests")
    out = {}
    for sample in family.samples:
        key = sample.labels.get("le") or sample.name.rsplit("_", 1)[1]
        out[key.removesuffix(".0")] = sample.value
    return out


def test_without_batching_each_request_is_its_own_run(replica_factory, trained_model: TrainedModel):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "1")
    asyncio.run(_many(replica.url, [_body(trained_model.x[:1], f"s{i}") for i in range(8)]))
    assert _batch_histogram(replica.client.get("/metrics").text)["count"] == 0  # no batcher: nothing combined


def test_a_bad_request_in_a_batch_fails_alone(replica_factory, trained_model: TrainedModel,
                                              cpus: set[int] | None):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "32", "--max-batch-delay-ms", "50",
                              cpus=cpus)
    good = [_body(trained_model.x[i:i + 1], f"g{i}") for i in range(6)]
    bad = _body(trained_model.x[:1], "bad")
    bad["inputs"][0]["shape"] = [1, 29]
    responses = asyncio.run(_many(replica.url, good[:3] + [bad] + good[3:]))
    assert [r.status_code for r in responses] == [200, 200, 200, 400, 200, 200, 200]
    assert [r.json().get("id") for r in responses if r.status_code == 200] == [f"g{i}" for i in range(6)]


def test_a_full_queue_answers_503_with_retry_after(replica_factory, trained_model: TrainedModel,
                                                   cpus: set[int] | None):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "64", "--max-batch-delay-ms", "500",
                              "--max-queue", "2", cpus=cpus)
    responses = asyncio.run(_many(replica.url, [_body(trained_model.x[:1], f"q{i}") for i in range(6)]))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503, 503]
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "queue is full" in refused.json()["error"]


def test_the_timeout_parameter_is_honoured(replica_factory, trained_model: TrainedModel,
                                           cpus: set[int] | None):
    replica = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "64", "--max-batch-delay-ms", "400",
                              cpus=cpus)
    short, patient = asyncio.run(_many(replica.url, [_body(trained_model.x[:1], "short", timeout=20_000),
                                                     _body(trained_model.x[1:2], "patient", timeout=5_000_000)]))
    assert short.status_code == 503 and "timeout of 20000 µs" in short.json()["error"]
    assert patient.status_code == 200 and patient.json()["id"] == "patient"
    response = replica.client.post("/v2/models/bc/infer", json=_body(trained_model.x[:1], "t", timeout="soon"))
    assert response.status_code == 400 and "'timeout'" in response.json()["error"]


def test_the_model_runs_in_a_worker_thread_only_where_there_is_another_cpu(replica_factory,
                                                                          trained_model: TrainedModel):
    pinned = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "8", "--max-batch-delay-ms", "5",
                             cpus=ONE_CPU)
    before = pinned.threads()
    responses = asyncio.run(_many(pinned.url, [_body(trained_model.x[i:i + 1], f"p{i}") for i in range(8)]))
    assert [r.status_code for r in responses] == [200] * 8
    assert pinned.threads() == before  # one CPU: batches run on the event loop, no thread is started
    if len(os.sched_getaffinity(0)) > 1:
        free = replica_factory(trained_model.onnx, "bc", "--max-batch-size", "8", "--max-batch-delay-ms", "5")
        before = free.threads()
        responses = asyncio.run(_many(free.url, [_body(trained_model.x[i:i + 1], f"f{i}") for i in range(8)]))
        assert [r.status_code for r in responses] == [200] * 8
        assert free.threads() == before + 1  # the model's worker thread, started by the first batch


TABLE = np.arange(20, dtype=np.float32).reshape(10, 2)


@pytest.fixture(scope="module")
def lookup_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`row` = TABLE[index]: ONNX Runtime rejects an index outside the table only when it runs."""
    from onnx import TensorProto, helper, numpy_helper

    table = helper.make_node("Constant", [], ["table"], value=numpy_helper.from_array(TABLE, "table"))
    gather = helper.make_node("Gather", ["table", "index"], ["row"], axis=0)
    graph = helper.make_graph([table, gather], "lookup",
                              [helper.make_tensor_value_info("index", TensorProto.INT64, [None])],
                              [helper.make_tensor_value_info("row", TensorProto.FLOAT, [None, 2])])
    path = tmp_path_factory.mktemp("lookup") / "lookup.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_a_request_the_model_rejects_fails_alone_and_its_batch_still_answers(replica_factory, lookup_model: Path,
                                                                             cpus: set[int] | None):
    replica = replica_factory(lookup_model, "bc", "--max-batch-size", "32", "--max-batch-delay-ms", "50",
                              cpus=cpus)
    indices = [[3], [0, 9], [99], [5, 5, 1], [7]]  # 99 is outside the table: valid JSON, refused by the model
    bodies = [{"id": f"i{n}", "inputs": [{"name": "index", "shape": [len(ix)], "datatype": "INT64", "data": ix}]}
              for n, ix in enumerate(indices)]
    responses = asyncio.run(_many(replica.url, bodies))
    assert [r.status_code for r in responses] == [200, 200, 400, 200, 200]
    assert "the model rejected the input" in responses[2].json()["error"]
    for ix, response in zip(indices, responses):
        if response.status_code == 200:
            assert response.json()["outputs"][0]["data"] == TABLE[ix].ravel().tolist()

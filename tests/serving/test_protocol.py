"""Open Inference Protocol conformance of the replica: every datatype, JSON and binary, errors."""

from __future__ import annotations

import struct

import httpx
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiplane.serving import tensors
from tests.serving.conftest import DATATYPES, Replica, sample

pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def every(identity_model) -> Replica:
    r = Replica(identity_model, "every", "--max-body-bytes", str(1 << 20))
    yield r
    r.stop()


def _inputs(rows: int, binary: set[str]) -> tuple[dict, bytes, dict[str, np.ndarray]]:
    arrays = {d: sample(d, rows, seed=i) for i, d in enumerate(DATATYPES)}
    items, chunks = [], []
    for d, a in arrays.items():
        item = {"name": f"in_{d}", "shape": list(a.shape), "datatype": d}
        if d in binary:
            raw = tensors.to_binary(a, d)
            item["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            item["data"] = tensors.to_json(a, d).tolist() if d != "BYTES" else tensors.to_json(a, d)
        items.append(item)
    return {"inputs": items}, b"".join(chunks), arrays


def _post(r: Replica, doc: dict, binary: bytes = b"", path: str = "/v2/models/every/infer") -> httpx.Response:
    head = orjson.dumps(doc)
    headers = {"content-type": "application/json"}
    if binary:
        headers = {"content-type": "application/octet-stream", "inference-header-content-length": str(len(head))}
    return r.client.post(path, content=head + binary, headers=headers)


def _outputs(response: httpx.Response) -> dict[str, np.ndarray]:
    length = int(response.headers.get("inference-header-content-length", len(response.content)))
    doc = orjson.loads(response.content[:length])
    out, pos = {}, length
    for o in doc["outputs"]:
        d = o["datatype"]
        size = (o.get("parameters") or {}).get("binary_data_size")
        count = int(np.prod(o["shape"]))
        if size is not None:
            out[o["name"]] = tensors.from_binary(o["name"], d, o["shape"], count,
                                                 memoryview(response.content)[pos:pos + size])
            pos += size
        else:
            out[o["name"]] = tensors.from_json(o["name"], d, o["shape"], count, o["data"])
    assert pos == len(response.content)
    return out


@pytest.mark.parametrize("binary_in,binary_out", [(False, False), (True, True), (False, True), (True, False)])
def test_every_datatype_round_trips_through_json_and_binary(every: Replica, binary_in, binary_out):
    doc, binary, arrays = _inputs(4, set(DATATYPES) if binary_in else set())
    doc["id"] = "rt-1"
    doc["parameters"] = {"binary_data_output": binary_out, "tag": "abc"}
    response = _post(every, doc, binary)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "rt-1"
    if binary_out:
        assert response.headers["content-type"] == "application/octet-stream"
    got = _outputs(response)
    for d, a in arrays.items():
        assert got[f"out_{d}"].shape == a.shape
        assert got[f"out_{d}"].tolist() == a.tolist(), d
    head = orjson.loads(response.content[:int(response.headers.get("inference-header-content-length", 10**9))])
    assert head["id"] == "rt-1" and head["model_name"] == "every" and head["model_version"] == "1"
    assert head["parameters"]["tag"] == "abc"  # request parameters are passed through


def test_outputs_selection_mixes_binary_and_json_per_output(every: Replica):
    doc, _, arrays = _inputs(2, set())
    doc["outputs"] = [{"name": "out_FP16", "parameters": {"binary_data": True}}, {"name": "out_BYTES"}]
    response = _post(every, doc)
    assert response.status_code == 200
    head = orjson.loads(response.content[:int(response.headers["inference-header-content-length"])])
    assert [o["name"] for o in head["outputs"]] == ["out_FP16", "out_BYTES"]
    assert head["outputs"][0]["parameters"] == {"binary_data_size": 2 * 2 * 3} and "data" not in head["outputs"][0]
    assert head["outputs"][1]["data"] == [v.decode() for v in arrays["BYTES"].ravel()]
    assert _outputs(response)["out_FP16"].tolist() == arrays["FP16"].tolist()


def test_nested_and_flat_data_are_the_same_request(every: Replica):
    doc, _, arrays = _inputs(2, set())
    nested = orjson.loads(orjson.dumps(doc))
    for item, d in zip(nested["inputs"], DATATYPES):
        item["data"] = np.asarray(item["data"], dtype=object).reshape(2, 3).tolist()
    assert _outputs(_post(every, doc)).keys() == _outputs(_post(every, nested)).keys()
    for name, a in _outputs(_post(every, nested)).items():
        assert a.tolist() == arrays[name[4:]].tolist()


def test_server_metadata_health_and_repository_index(every: Replica):
    meta = every.client.get("/v2/").json()
    assert set(meta["extensions"]) >= {"binary_tensor_data", "model_repository"}
    assert every.client.get("/v2/health/live").json() == {"live": True}
    index = every.client.post("/v2/repository/index", json={})
    assert index.json() == [{"name": "every", "version": "1", "state": "READY", "reason": ""}]
    unload = every.client.post("/v2/repository/models/every/unload")
    assert unload.status_code == 501 and "aiplane deploy" in unload.json()["error"]
    assert every.client.get("/v2/models/every/versions/1/ready").json() == {"name": "every", "ready": True}


def _one_bad(every: Replica, mutate=None, raw: bytes | None = None, headers: dict | None = None) -> httpx.Response:
    doc, binary, _ = _inputs(1, {"FP32", "BYTES"})
    if mutate:
        mutate(doc)
    head = orjson.dumps(doc)
    body = raw if raw is not None else head + binary
    sent = {"content-type": "application/octet-stream", "inference-header-content-length": str(len(head))}
    sent.update(headers or {})
    sent = {k: v for k, v in sent.items() if v is not None}
    return every.client.post("/v2/models/every/infer", content=body, headers=sent)


def _input(doc: dict, datatype: str) -> dict:
    return next(i for i in doc["inputs"] if i["datatype"] == datatype)


@pytest.mark.parametrize("case,fragment", [
    (dict(headers={"inference-header-content-length": None}), "Inference-Header-Content-Length header"),
    (dict(headers={"inference-header-content-length": "99999"}), "does not fit the body"),
    (dict(headers={"inference-header-content-length": "12x"}), "not a non-negative integer"),
    (dict(headers={"inference-header-content-length": "10"}), "not valid JSON"),
    (dict(raw=b'{"inputs": [}', headers={"inference-header-content-length": None}), "not valid JSON"),
    (dict(mutate=lambda d: _input(d, "FP32")["parameters"].update(binary_data_size=8)), "needs 12 bytes"),
    (dict(mutate=lambda d: _input(d, "FP32")["parameters"].update(binary_data_size=-1)), "non-negative integer"),
    (dict(mutate=lambda d: _input(d, "INT8").update(datatype="FP128")), "unknown datatype 'FP128'"),
    (dict(mutate=lambda d: _input(d, "INT8").update(shape=[1, 4])), "expects [-1, 3]"),
    (dict(mutate=lambda d: _input(d, "INT8").update(shape=[2, 3])), "needs 6"),
    (dict(mutate=lambda d: _input(d, "INT8").update(shape=[10**12, 3])), "more than the limit"),
    (dict(mutate=lambda d: _input(d, "INT8").update(shape=[2**62, 3])), "more than the limit"),
    (dict(mutate=lambda d: _input(d, "INT8").update(data=[1, 2, 300])), "not a regular array"),
    (dict(mutate=lambda d: _input(d, "BOOL").update(data="yes")), "as a JSON array"),
    (dict(mutate=lambda d: _input(d, "BYTES")["parameters"].update(binary_data_size=3)), "too few"),
    # Values of the wrong kind, which NumPy would convert silently, and values that overflow.
    (dict(mutate=lambda d: _input(d, "FP64").update(data=[1.0, "2.5", 3.0])), "must be numbers, got a string"),
    (dict(mutate=lambda d: _input(d, "FP64").update(data=[[1.0, True, 3.0]])), "must be numbers, got a boolean"),
    (dict(mutate=lambda d: _input(d, "INT8").update(data=[1, 2.5, 3])), "must be integers, got a fraction"),
    (dict(mutate=lambda d: _input(d, "INT64").update(data=[1, None, 3])), "must be integers, got null"),
    (dict(mutate=lambda d: _input(d, "BOOL").update(data=[1, 0, 1])), "must be true or false, got int"),
    (dict(mutate=lambda d: _input(d, "FP16").update(data=[1.0, 70000.0, 3.0])), "beyond the range of FP16"),
    # The request id: echoed in headers and the audit trail, so bounded and printable.
    (dict(mutate=lambda d: d.update(id="x" * 257)), "longer than 256 bytes"),
    (dict(mutate=lambda d: d.update(id="é" * 129)), "longer than 256 bytes"),
    (dict(mutate=lambda d: d.update(id="a\r\nx-injected: 1")), "control characters"),
    (dict(mutate=lambda d: d.update(id="a\x00")), "control characters"),
])
def test_malformed_requests_are_400_with_a_clear_message(every: Replica, case, fragment):
    response = _one_bad(every, **case)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def test_an_id_of_256_bytes_is_echoed_in_the_answer_and_its_header(every: Replica):
    doc, binary, _ = _inputs(1, {"FP32", "BYTES"})
    doc["id"] = "é" * 128
    response = _post(every, doc, binary)
    length = int(response.headers.get("inference-header-content-length", len(response.content)))
    assert response.status_code == 200 and orjson.loads(response.content[:length])["id"] == doc["id"]
    assert dict(response.headers.raw)[b"x-request-id"] == doc["id"].encode()


def test_nan_and_infinity_are_400_unless_the_replica_allows_them(every: Replica, replica_factory, identity_model):
    doc, _, _ = _inputs(1, {"FP32"})
    for value in (float("nan"), float("inf")):
        raw = struct.pack("<3f", 1.0, value, 2.0)
        response = _post(every, doc, raw)
        assert response.status_code == 400 and "NaN or infinite" in response.json()["error"], response.text
    lenient = replica_factory(identity_model, "every", "--allow-non-finite")
    doc["parameters"] = {"binary_data_output": True}  # JSON has no NaN: they come back as binary
    response = _post(lenient, doc, struct.pack("<3f", 1.0, float("nan"), float("inf")))
    assert response.status_code == 200, response.text
    echoed = _outputs(response)["out_FP32"].ravel().tolist()
    assert echoed[0] == 1.0 and echoed[1] != echoed[1] and echoed[2] == float("inf")


def test_bytes_with_bad_length_prefixes_are_400(every: Replica, identity_model):
    doc, _, _ = _inputs(1, set())
    for item in doc["inputs"]:
        if item["datatype"] == "BYTES":
            del item["data"]
            item["parameters"] = {"binary_data_size": 16}
    head = orjson.dumps(doc)
    for raw, fragment in [(struct.pack("<I", 1000) + b"x" * 12, "past the end"),
                          (struct.pack("<IIII", 0, 0, 0, 0), "left after"),
                          (struct.pack("<III", 0, 0, 5) + b"abcd", "past the end")]:
        response = every.client.post("/v2/models/every/infer", content=head + raw,
                                     headers={"inference-header-content-length": str(len(head))})
        assert response.status_code == 400 and fragment in response.json()["error"], response.text


def test_bool_binary_values_other_than_0_and_1_are_400(every: Replica):
    doc, _, _ = _inputs(1, set())
    item = _input(doc, "BOOL")
    del item["data"]
    item["parameters"] = {"binary_data_size": 3}
    head = orjson.dumps(doc)
    response = every.client.post("/v2/models/every/infer", content=head + b"\x01\x02\x00",
                                 headers={"inference-header-content-length": str(len(head))})
    assert response.status_code == 400 and "0 or 1" in response.json()["error"]


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.fixed_dictionaries({"inputs": st.lists(st.fixed_dictionaries(
    {"name": st.sampled_from([f"in_{d}" for d in DATATYPES] + ["x"]),
     "datatype": st.sampled_from(DATATYPES + ["BF16", "X"]),
     "shape": st.lists(st.integers(-2, 2**40), max_size=3) | _json,
     "data": _json, "parameters": st.fixed_dictionaries({}, optional={"binary_data_size": st.integers(-1, 64)})}),
    max_size=3)}, optional={"outputs": _json, "parameters": _json, "id": _json}),
    tail=st.binary(max_size=64), header=st.none() | st.integers(-5, 400).map(str) | st.from_regex(r"[0-9a-z+-]{1,4}", fullmatch=True))
def test_no_malformed_request_gets_a_5xx(every: Replica, doc, tail, header):
    head = orjson.dumps(doc)
    headers = {} if header is None else {"inference-header-content-length": header}
    response = every.client.post("/v2/models/every/infer", content=head + tail, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert set(response.json()) == {"error"}


def test_bf16_inputs_travel_as_binary_and_reach_the_model(replica_factory, tmp_path):
    from onnx import TensorProto, helper

    cast = helper.make_model(helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], "bf16",
        [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])]), opset_imports=[helper.make_opsetid("", 17)])
    (tmp_path / "bf16.onnx").write_bytes(cast.SerializeToString())
    replica = replica_factory(tmp_path / "bf16.onnx", "bf16")
    values = np.array([[1.5, -2.0, 0.25, 196608.0]], dtype=np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")  # exact: these values are bfloat16 already
    doc = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BF16", "parameters": {"binary_data_size": 8}}]}
    head = orjson.dumps(doc)
    response = replica.client.post("/v2/models/bf16/infer", content=head + bits.tobytes(),
                                   headers={"inference-header-content-length": str(len(head))})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == values.ravel().tolist()
    doc["inputs"][0] = {"name": "x", "shape": [1, 4], "datatype": "BF16", "data": values.ravel().tolist()}
    response = replica.client.post("/v2/models/bf16/infer", json=doc)
    assert response.status_code == 400 and "BF16, which JSON cannot carry" in response.json()["error"]

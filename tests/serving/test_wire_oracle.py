"""Every V2 datatype on the wire, checked against bytes and values built here, not by our codec.

The project's codec (aiplane.serving.tensors) encodes and decodes, so a symmetric bug in it (a
byte order, the BYTES length prefix, the FP16, BF16 or UINT64 layout) would survive a round
trip through it. Here the binary tensors are built with explicit little-endian NumPy dtypes and
`struct`, the JSON `data` is plain Python values, and answers are read back the same way: to a
replica, and through the governed gateway, in both directions (binary in -> JSON out, JSON in
-> binary out).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Iterator

import httpx
import orjson
import pytest

from tests.conftest import Platform
from tests.serving.conftest import Replica, onnx_types

pytestmark = pytest.mark.serial

# Values at each type's edges, exactly representable in it, as the JSON `data` a client writes.
VALUES: dict[str, list[Any]] = {
    "BOOL": [True, False, True, True, False, False],
    "UINT8": [0, 1, 127, 128, 254, 255],
    "UINT16": [0, 1, 255, 256, 65534, 65535],
    "UINT32": [0, 1, 65536, 2**31, 2**32 - 2, 2**32 - 1],
    "UINT64": [0, 1, 2**32, 2**63, 2**64 - 2, 2**64 - 1],
    "INT8": [-128, -1, 0, 1, 126, 127],
    "INT16": [-32768, -256, -1, 0, 256, 32767],
    "INT32": [-2**31, -65536, -1, 0, 65536, 2**31 - 1],
    "INT64": [-2**63, -2**32, -1, 0, 2**53 + 1, 2**63 - 1],
    "FP16": [0.0, -2.0, 0.5, 65504.0, 6.103515625e-05, 0.333251953125],
    "FP32": [0.0, -1.5, 3.4028234663852886e38, 1.1754943508222875e-38, 0.10000000149011612, -123.45600128173828],
    "FP64": [0.0, -1.5, 1.7976931348623157e308, 5e-324, 0.1, 3.141592653589793],
    "BF16": [0.0, -2.0, 0.5, 3.140625, 65536.0, -0.0078125],
    "BYTES": ["", "a", "é", "日本語", "x" * 300, "tab\tand\nnewline"],  # 300: a length prefix above one byte
}
# Little-endian layouts, written out (V2 binary tensors are little-endian, row-major).
LAYOUT = {"BOOL": "?", "UINT8": "B", "UINT16": "H", "UINT32": "I", "UINT64": "Q", "INT8": "b", "INT16": "h",
          "INT32": "i", "INT64": "q", "FP16": "e", "FP32": "f", "FP64": "d"}
WIDTH = {"?": 1, "B": 1, "b": 1, "H": 2, "h": 2, "e": 2, "I": 4, "i": 4, "f": 4, "Q": 8, "q": 8, "d": 8}
SHAPE = [2, 3]


def encode(datatype: str, values: list[Any]) -> bytes:
    if datatype == "BYTES":  # each element: its length as 4 bytes little-endian, then its bytes
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    if datatype == "BF16":  # the upper half of the FP32 bits
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<" + LAYOUT[datatype] * len(values), *values)


def decode(datatype: str, raw: bytes) -> list[Any]:
    if datatype == "BYTES":
        out, pos = [], 0
        while pos < len(raw):
            (n,) = struct.unpack_from("<I", raw, pos)
            out.append(raw[pos + 4:pos + 4 + n].decode())
            pos += 4 + n
        return out
    if datatype == "BF16":
        return [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
    code = LAYOUT[datatype]
    return list(struct.unpack("<" + code * (len(raw) // WIDTH[code]), raw))


@pytest.fixture(scope="module")
def wire_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Identity for every datatype: `in_<DATATYPE>` comes back as `out_<DATATYPE>` (BF16 as FP32)."""
    from onnx import TensorProto, helper

    types = onnx_types()
    # ONNX Runtime cannot hand back a BF16 output (docs/data-plane.md): that one is cast to FP32.
    nodes = [helper.make_node("Cast", [f"in_{d}"], [f"out_{d}"], to=TensorProto.FLOAT) if d == "BF16"
             else helper.make_node("Identity", [f"in_{d}"], [f"out_{d}"]) for d in types]
    out_types = {**types, "BF16": TensorProto.FLOAT}
    graph = helper.make_graph(nodes, "wire",
                              [helper.make_tensor_value_info(f"in_{d}", t, [None, 3]) for d, t in types.items()],
                              [helper.make_tensor_value_info(f"out_{d}", t, [None, 3]) for d, t in out_types.items()])
    path = tmp_path_factory.mktemp("wire") / "wire.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


@pytest.fixture(scope="module")
def replica(wire_model: Path) -> Iterator[Replica]:
    r = Replica(wire_model, "wire")
    yield r
    r.stop()


@pytest.fixture(scope="module")
def gateway(platform: Platform, wire_model: Path) -> Iterator[httpx.Client]:
    with platform.http(platform.admin_key) as admin:
        assert admin.post("/api/v1/tenants", json={"name": "wire"}).status_code == 201
        files = {"file": ("wire.onnx", wire_model.read_bytes(), "application/octet-stream")}
        assert admin.post("/api/v1/tenants/wire/models/wire/versions", files=files).status_code == 201
        created = admin.post("/api/v1/tenants/wire/deployments", json={"name": "wire", "model": "wire:1"})
        assert created.status_code == 201, created.text
        secret = admin.post("/api/v1/keys", json={"role": "predictor", "tenant": "wire"}).json()["secret"]
    with platform.http(secret) as client:
        yield client


@pytest.fixture(params=["replica", "gateway"])
def client(request: pytest.FixtureRequest) -> httpx.Client:
    if request.param == "replica":
        return request.getfixturevalue("replica").client
    return request.getfixturevalue("gateway")


def _binary_request(datatypes: list[str], binary_out: bool) -> tuple[bytes, dict[str, str]]:
    items, chunks = [], []
    for d in datatypes:
        raw = encode(d, VALUES[d])
        items.append({"name": f"in_{d}", "shape": SHAPE, "datatype": d, "parameters": {"binary_data_size": len(raw)}})
        chunks.append(raw)
    head = orjson.dumps({"inputs": items, "parameters": {"binary_data_output": binary_out}})
    return head + b"".join(chunks), {"content-type": "application/octet-stream",
                                     "inference-header-content-length": str(len(head))}


def test_binary_tensors_built_here_come_back_as_the_same_json_values(client: httpx.Client):
    body, headers = _binary_request(list(VALUES), binary_out=False)
    response = client.post("/v2/models/wire/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    for d, values in VALUES.items():
        out = outputs[f"out_{d}"]
        sent_as = "FP32" if d == "BF16" else d
        assert (out["datatype"], out["shape"]) == (sent_as, SHAPE)
        if sent_as.startswith("FP"):  # a JSON number stands for the nearest value of its datatype
            assert encode(sent_as, out["data"]) == encode(sent_as, values), (d, out["data"])
        else:
            assert out["data"] == values, d  # exactly: ints (UINT64 past 2**63 too), bools, strings


def test_json_values_come_back_as_the_binary_tensors_built_here(client: httpx.Client):
    # JSON cannot carry BF16 (a documented refusal): that one input goes binary, after the JSON.
    bf16 = encode("BF16", VALUES["BF16"])
    doc = {"inputs": [{"name": f"in_{d}", "shape": SHAPE, "datatype": d, "data": VALUES[d]} for d in VALUES
                      if d != "BF16"] + [{"name": "in_BF16", "shape": SHAPE, "datatype": "BF16",
                                          "parameters": {"binary_data_size": len(bf16)}}],
           "parameters": {"binary_data_output": True}}
    body = orjson.dumps(doc)
    response = client.post("/v2/models/wire/infer", content=body + bf16,
                           headers={"inference-header-content-length": str(len(body))})
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    head, pos = orjson.loads(response.content[:length]), length
    for out in head["outputs"]:
        d, size = out["datatype"], out["parameters"]["binary_data_size"]
        raw = response.content[pos:pos + size]
        pos += size
        sent = "BF16" if out["name"] == "out_BF16" else d
        assert out["name"] == f"out_{sent}" and out["shape"] == SHAPE
        assert raw == encode(d, VALUES[sent]), d  # byte for byte what this file's encoder writes
        assert decode(d, raw) == VALUES[sent]
    assert pos == len(response.content) and len(head["outputs"]) == len(VALUES)


def test_the_encoder_here_is_the_v2_layout():
    """The oracle itself, against bytes written out by hand from the V2 and IEEE 754 layouts."""
    assert encode("UINT16", [1, 256]) == b"\x01\x00\x00\x01"
    assert encode("UINT64", [2**64 - 1, 1]) == b"\xff" * 8 + b"\x01" + b"\0" * 7
    assert encode("FP16", [1.0, -2.0]) == b"\x00\x3c\x00\xc0"
    assert encode("BF16", [1.0, -2.0]) == b"\x80\x3f\x00\xc0"
    assert encode("BYTES", ["x" * 300]) == b"\x2c\x01\x00\x00" + b"x" * 300
    assert encode("BOOL", [True, False]) == b"\x01\x00"

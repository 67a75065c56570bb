"""Property: any tensor of any datatype survives the JSON and the binary encodings unchanged."""

from __future__ import annotations

import math

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aiplane.domain.registry import Signature, TensorSpec
from aiplane.serving import codec, tensors

_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)


@st.composite
def _tensor(draw: st.DrawFn) -> tuple[str, np.ndarray]:
    datatype = draw(st.sampled_from(tensors.DATATYPES))
    shape = draw(_shapes)
    if datatype == "BYTES":
        words = draw(st.lists(st.binary(max_size=12), min_size=math.prod(shape), max_size=math.prod(shape)))
        array = np.empty(len(words), dtype=object)
        array[:] = words
        return datatype, array.reshape(shape)
    dtype = tensors.NUMPY_DTYPES[datatype]
    elements = None
    if dtype.kind == "f":  # JSON has no NaN or infinity
        elements = st.floats(width=8 * dtype.itemsize, allow_nan=False, allow_infinity=False)
    if datatype == "BF16":
        elements = st.integers(0, 0xFFFF).filter(lambda b: (b & 0x7F80) != 0x7F80)  # finite bfloat16 bits
    return datatype, draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=300, deadline=None)
@given(_tensor())
def test_binary_encoding_round_trips_every_datatype(tensor):
    datatype, array = tensor
    raw = tensors.to_binary(array, datatype)
    back = tensors.from_binary("x", datatype, list(array.shape), array.size, memoryview(raw))
    assert back.shape == array.shape and back.tolist() == array.tolist()


@settings(max_examples=300, deadline=None)
@given(_tensor())
def test_json_encoding_round_trips_every_datatype(tensor):
    datatype, array = tensor
    if datatype == "BYTES":  # JSON carries text: use UTF-8 strings
        array = np.vectorize(lambda b: b.hex().encode(), otypes=[object])(array) if array.size else array
    data = orjson.loads(orjson.dumps(tensors.to_json(array, datatype), option=orjson.OPT_SERIALIZE_NUMPY))
    back = tensors.from_json("x", datatype, list(array.shape), array.size, data)
    assert back.shape == array.shape and back.tolist() == array.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(_tensor(), min_size=1, max_size=4), st.booleans())
def test_whole_requests_round_trip_through_decode_and_encode(items, binary):
    sig = Signature(inputs=tuple(TensorSpec(f"t{i}", d, tuple(-1 for _ in a.shape)) for i, (d, a) in enumerate(items)),
                    outputs=())
    chunks, inputs = [], []
    for i, (datatype, array) in enumerate(items):
        raw = tensors.to_binary(array, datatype)
        inputs.append({"name": f"t{i}", "datatype": datatype, "shape": list(array.shape),
                       "parameters": {"binary_data_size": len(raw)}})
        chunks.append(raw)
    head = orjson.dumps({"id": "p", "inputs": inputs, "parameters": {"binary_data_output": binary}})
    request = codec.decode(head + b"".join(chunks), len(head), sig, 10**6)
    names = list(request.inputs)
    body, json_length = codec.encode("m", "1", request, names, list(request.inputs.values()),
                                     {f"t{i}": d for i, (d, _) in enumerate(items)})
    doc = orjson.loads(body[:json_length] if json_length is not None else body)
    assert (json_length is not None) == binary
    pos = json_length or len(body)
    for (datatype, array), out in zip(items, doc["outputs"]):
        assert out["datatype"] == datatype and out["shape"] == list(array.shape)
        if "data" in out:
            continue  # the JSON path is covered above; BYTES may not be text here
        size = out["parameters"]["binary_data_size"]
        back = tensors.from_binary("x", datatype, out["shape"], array.size, memoryview(body)[pos:pos + size])
        pos += size
        assert back.tolist() == array.tolist()
    assert pos == len(body)

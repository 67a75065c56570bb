"""V2 JSON <-> NumPy, validated against the model's signature before anything is allocated."""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
import orjson

from aiplane.domain.errors import InvalidInput
from aiplane.domain.registry import Signature, TensorSpec

NUMPY_DTYPES: dict[str, Any] = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}
V2_OF_NUMPY = {np.dtype(v): k for k, v in NUMPY_DTYPES.items() if k != "BYTES"}


class Request:
    __slots__ = ("id", "inputs", "outputs", "parameters")

    def __init__(self, id: str, inputs: dict[str, np.ndarray], outputs: list[str] | None,
                 parameters: dict[str, Any] | None) -> None:
        self.id = id
        self.inputs = inputs
        self.outputs = outputs
        self.parameters = parameters


def decode(body: bytes, sig: Signature, max_elements: int) -> Request:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON ({exc.msg} at position {exc.pos}).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise InvalidInput("the request must be a JSON object with an 'inputs' list.")
    request_id = doc.get("id")
    if request_id is None:
        request_id = uuid.uuid4().hex
    elif not isinstance(request_id, str):
        raise InvalidInput("the request 'id' must be a string.")
    expected = {t.name: t for t in sig.inputs}
    inputs: dict[str, np.ndarray] = {}
    for item in doc["inputs"]:
        name, array = _decode_input(item, expected, max_elements)
        if name in inputs:
            raise InvalidInput(f"input {name!r} is given twice.")
        inputs[name] = array
    missing = [n for n in expected if n not in inputs]
    if missing:
        raise InvalidInput(f"the request lacks input(s) {missing}; the model needs {list(expected)}.")
    return Request(request_id, inputs, _requested_outputs(doc.get("outputs"), sig), doc.get("parameters"))


def _decode_input(item: Any, expected: dict[str, TensorSpec], max_elements: int) -> tuple[str, np.ndarray]:
    if not isinstance(item, dict):
        raise InvalidInput("each entry of 'inputs' must be an object with name, shape, datatype and data.")
    name = item.get("name")
    spec = expected.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidInput(f"input {name!r} is not an input of this model; it takes {list(expected)}.")
    datatype = item.get("datatype")
    if datatype != spec.datatype:
        raise InvalidInput(f"input {name!r} has datatype {datatype!r} but the model expects {spec.datatype!r}.")
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidInput(f"input {name!r} needs a 'shape' list of non-negative integers, got {shape!r}.")
    if len(shape) != len(spec.shape) or any(w != -1 and w != d for w, d in zip(spec.shape, shape)):
        raise InvalidInput(f"input {name!r} has shape {shape} but the model expects {list(spec.shape)} (-1 = any).")
    count = math.prod(shape)
    if count > max_elements:
        raise InvalidInput(f"input {name!r} of shape {shape} has {count} elements, more than the limit {max_elements}.")
    if "data" not in item:
        raise InvalidInput(f"input {name!r} has no 'data'.")
    try:
        array = np.asarray(item["data"], dtype=NUMPY_DTYPES[datatype])
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(f"input {name!r} has data that is not a regular array of {datatype} values.") from None
    if array.size != count:
        raise InvalidInput(f"input {name!r} has {array.size} values but shape {shape} needs {count}.")
    return name, array.reshape(shape)


def _requested_outputs(outputs: Any, sig: Signature) -> list[str] | None:
    if outputs is None:
        return None
    known = [t.name for t in sig.outputs]
    if not isinstance(outputs, list):
        raise InvalidInput("'outputs' must be a list of objects with a 'name'.")
    names = []
    for o in outputs:
        name = o.get("name") if isinstance(o, dict) else None
        if name not in known:
            raise InvalidInput(f"output {name!r} is not an output of this model; it has {known}.")
        names.append(name)
    return names


def encode(model_name: str, model_version: str, request_id: str, names: list[str],
           arrays: list[np.ndarray]) -> bytes:
    outputs = []
    for name, array in zip(names, arrays):
        datatype = V2_OF_NUMPY.get(array.dtype, "BYTES")
        data: Any = array.ravel() if datatype != "BYTES" else [_text(v) for v in array.ravel().tolist()]
        outputs.append({"name": name, "datatype": datatype, "shape": list(array.shape), "data": data})
    doc = {"model_name": model_name, "model_version": model_version, "id": request_id, "outputs": outputs}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def decision_summary(names: list[str], arrays: list[np.ndarray], limit: int = 32) -> str | None:
    """A short, non-identifying summary of what the model decided, for the audit trail: the
    first integer, boolean or string output (a classifier's label), when it is small."""
    for name, array in zip(names, arrays):
        if array.size <= limit and (array.dtype.kind in "iub" or array.dtype == object):
            values = ",".join(str(_text(v)) for v in array.ravel().tolist())
            return f"{name}={values}"[:256]
    return None


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def error(message: str) -> bytes:
    return orjson.dumps({"error": message})

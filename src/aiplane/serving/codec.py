"""V2 inference request and response documents <-> NumPy, JSON and binary tensor extension.

A request body is a JSON document, optionally followed by binary tensors; the
`Inference-Header-Content-Length` header says where the JSON ends. Inputs are validated
against the model's signature (name, datatype, shape, element count) before any of their
data is turned into an array.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np
import orjson

from aiplane.domain.errors import InvalidInput
from aiplane.domain.registry import Signature, TensorSpec
from aiplane.serving import tensors

_DUMPS = orjson.OPT_SERIALIZE_NUMPY


class Request:
    __slots__ = ("id", "inputs", "outputs", "parameters", "binary_output", "timeout_us")

    def __init__(self, id: str, inputs: dict[str, np.ndarray], outputs: list[tuple[str, bool | None]] | None,
                 parameters: dict[str, Any] | None) -> None:
        self.id = id
        self.inputs = inputs
        self.outputs = outputs  # (name, as binary or None) in the requested order; None = all
        self.parameters = parameters
        self.binary_output = bool(parameters and parameters.get("binary_data_output") is True)
        timeout = parameters.get("timeout") if parameters else None
        if timeout is not None and (type(timeout) is not int or timeout <= 0):
            raise InvalidInput(f"parameter 'timeout' must be a positive integer of microseconds, got {timeout!r}.")
        self.timeout_us: int | None = timeout


def decode(body: bytes, header_length: int | None, sig: Signature, max_elements: int,
           allow_non_finite: bool = False) -> Request:
    doc, binary = _split(body, header_length)
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise InvalidInput("the request must be a JSON object with an 'inputs' list.")
    request_id = doc.get("id")
    if request_id is None:
        request_id = new_request_id()
    elif not isinstance(request_id, str):
        raise InvalidInput("the request 'id' must be a string.")
    else:
        check_request_id(request_id)
    parameters = doc.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidInput("the request 'parameters' must be a JSON object.")
    expected = {t.name: t for t in sig.inputs}
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for item in doc["inputs"]:
        name, array, offset = _decode_input(item, expected, max_elements, binary, offset, allow_non_finite)
        if name in inputs:
            raise InvalidInput(f"input {name!r} is given twice.")
        inputs[name] = array
    if offset != len(binary):
        raise InvalidInput(f"the body has {len(binary) - offset} binary bytes that no input claims with "
                           "binary_data_size; check Inference-Header-Content-Length.")
    missing = [n for n in expected if n not in inputs]
    if missing:
        raise InvalidInput(f"the request lacks input(s) {missing}; the model needs {list(expected)}.")
    return Request(request_id, inputs, _requested_outputs(doc.get("outputs"), sig), parameters)


MAX_ID_BYTES = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_request_id(request_id: str) -> None:
    """A client's request id is echoed in the answer, its headers and the audit trail: bounded,
    and free of control characters (a CR or LF would split a header)."""
    problem = request_id_problem(request_id)
    if problem is not None:
        raise InvalidInput(problem)


def request_id_problem(request_id: str) -> str | None:
    if len(request_id) > MAX_ID_BYTES or len(request_id.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return f"the request 'id' is longer than {MAX_ID_BYTES} bytes; send a shorter one."
    if _CONTROL.search(request_id):
        return "the request 'id' holds control characters; send printable text."
    return None


def new_request_id() -> str:
    """32 random hex digits, like a UUID4's hex at a quarter of its cost (no UUID object)."""
    return os.urandom(16).hex()


def _split(body: bytes, header_length: int | None) -> tuple[Any, memoryview]:
    if header_length is not None and not 0 <= header_length <= len(body):
        raise InvalidInput(f"Inference-Header-Content-Length {header_length} does not fit the body of "
                           f"{len(body)} bytes; send the byte length of the JSON part.")
    head = body if header_length is None else body[:header_length]
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        hint = ("; binary tensor data needs the Inference-Header-Content-Length header"
                if header_length is None and ("trailing" in exc.msg.lower() or "utf-8" in exc.msg.lower()) else "")
        raise InvalidInput(f"the request body is not valid JSON ({exc.msg} at position {exc.pos}){hint}.") from None
    return doc, memoryview(body)[len(head):]


def _decode_input(item: Any, expected: dict[str, TensorSpec], max_elements: int, binary: memoryview,
                  offset: int, allow_non_finite: bool) -> tuple[str, np.ndarray, int]:
    if not isinstance(item, dict):
        raise InvalidInput("each entry of 'inputs' must be an object with name, shape, datatype and data.")
    spec, datatype, shape, count = check_input(item.get("name"), item.get("datatype"), item.get("shape"),
                                               expected, max_elements)
    name = spec.name
    size = _binary_size(spec.name, item.get("parameters"))
    if size is not None:
        if "data" in item:
            raise InvalidInput(f"input {name!r} has both 'data' and binary_data_size; send one of them.")
        if offset + size > len(binary):
            raise InvalidInput(f"input {name!r} claims {size} binary bytes but only {len(binary) - offset} remain "
                               "after the JSON; check binary_data_size and Inference-Header-Content-Length.")
        array = tensors.from_binary(spec.name, datatype, shape, count, binary[offset:offset + size])
        if not allow_non_finite:  # JSON cannot carry NaN or Infinity; binary data can
            tensors.refuse_non_finite(spec.name, array)
        return spec.name, array, offset + size
    if "data" not in item:
        raise InvalidInput(f"input {name!r} has no 'data' (nor binary_data_size).")
    if datatype == "BF16":
        raise InvalidInput(f"input {name!r} is BF16, which JSON cannot carry; send it as binary tensor data.")
    return spec.name, tensors.from_json(spec.name, datatype, shape, count, item["data"]), offset


def check_input(name: Any, datatype: Any, shape: Any, expected: dict[str, TensorSpec],
                max_elements: int) -> tuple[TensorSpec, str, list[int], int]:
    """Validate one input's name, datatype and shape against the signature, before any data is
    touched; returns its spec, datatype, shape and element count."""
    spec = expected.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidInput(f"input {name!r} is not an input of this model; it takes {list(expected)}.")
    datatype = tensors.check_datatype(spec.name, datatype)
    if datatype != spec.datatype:
        raise InvalidInput(f"input {name!r} has datatype {datatype!r} but the model expects {spec.datatype!r}.")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidInput(f"input {name!r} needs a 'shape' list of non-negative integers, got {shape!r}.")
    if len(shape) != len(spec.shape) or any(w != -1 and w != d for w, d in zip(spec.shape, shape)):
        raise InvalidInput(f"input {name!r} has shape {shape} but the model expects {list(spec.shape)} (-1 = any).")
    count = math.prod(shape)
    if count > max_elements:
        raise InvalidInput(f"input {name!r} of shape {shape} has {count} elements, more than the limit {max_elements}.")
    return spec, datatype, shape, count


def _binary_size(name: str, parameters: Any) -> int | None:
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise InvalidInput(f"input {name!r} has 'parameters' that are not a JSON object.")
    size = parameters.get("binary_data_size")
    if size is not None and (type(size) is not int or size < 0):
        raise InvalidInput(f"input {name!r} has binary_data_size {size!r}; it must be a non-negative integer.")
    return size


def _requested_outputs(outputs: Any, sig: Signature) -> list[tuple[str, bool | None]] | None:
    if outputs is None:
        return None
    known = [t.name for t in sig.outputs]
    if not isinstance(outputs, list):
        raise InvalidInput("'outputs' must be a list of objects with a 'name'.")
    chosen: list[tuple[str, bool | None]] = []
    for o in outputs:
        name = o.get("name") if isinstance(o, dict) else None
        if name not in known:
            raise InvalidInput(f"output {name!r} is not an output of this model; it has {known}.")
        parameters = o.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidInput(f"output {name!r} has 'parameters' that are not a JSON object.")
        binary = parameters.get("binary_data")
        chosen.append((str(name), binary if isinstance(binary, bool) else None))
    return chosen  # binary None = follow binary_data_output


def encode(model_name: str, model_version: str, request: Request, names: list[str],
           arrays: list[np.ndarray], datatypes: dict[str, str]) -> tuple[bytes, int | None]:
    """The response body, and the JSON length when binary tensors follow it (else None)."""
    as_binary = dict(request.outputs) if request.outputs else {}
    outputs = []
    chunks = []
    for name, array in zip(names, arrays):
        datatype = datatypes.get(name) or tensors.datatype_of(array)
        binary = as_binary.get(name)
        if binary is None:
            binary = request.binary_output
        out: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            raw = tensors.to_binary(array, datatype)
            out["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            out["data"] = tensors.to_json(array, datatype)
        outputs.append(out)
    doc: dict[str, Any] = {"model_name": model_name, "model_version": model_version, "id": request.id}
    if request.parameters:
        doc["parameters"] = request.parameters  # passed through: the model reads none of them
    doc["outputs"] = outputs
    head = orjson.dumps(doc, option=_DUMPS)
    if not chunks:
        return head, None
    return b"".join([head, *chunks]), len(head)


def decision_summary(names: list[str], arrays: list[np.ndarray], limit: int = 32) -> str | None:
    """A short, non-identifying summary of what the model decided, for the audit trail: the
    first integer, boolean or string output (a classifier's label), when it is small."""
    for name, array in zip(names, arrays):
        if array.size <= limit and (array.dtype.kind in "iub" or array.dtype == object):
            values = array.ravel().tolist()
            if array.dtype == object:
                values = [_text(v) for v in values]
            return f"{name}={','.join(map(str, values))}"[:256]
    return None


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def error(message: str) -> bytes:
    return orjson.dumps({"error": message})

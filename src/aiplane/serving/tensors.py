"""One tensor between V2 wire forms and NumPy: JSON `data` and the binary tensor extension.

Every check that bounds memory (element count, byte size) runs before anything is allocated
from the request. BYTES tensors are NumPy object arrays of `bytes` (UTF-8 text when they came
as JSON strings); BF16 tensors are `uint16` arrays of the raw bfloat16 bits, since NumPy has
no bfloat16 type.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import numpy as np

from aiplane.domain.errors import InvalidInput

NUMPY_DTYPES: dict[str, Any] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"), "BYTES": np.dtype(object),
}
DATATYPES = tuple(NUMPY_DTYPES)
_V2_OF_NUMPY = {v: k for k, v in NUMPY_DTYPES.items() if k not in ("BYTES", "BF16")}
_LENGTH = struct.Struct("<I")


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of a model output (object and string arrays are BYTES)."""
    found = _V2_OF_NUMPY.get(array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype)
    if found is None and array.dtype.kind not in "OUS":
        raise InvalidInput(f"the model produced an output of NumPy type {array.dtype}, which V2 cannot carry.")
    return found or "BYTES"


def check_datatype(name: str, datatype: Any) -> str:
    if datatype not in NUMPY_DTYPES:
        raise InvalidInput(f"input {name!r} has unknown datatype {datatype!r}; use one of {', '.join(DATATYPES)}.")
    return str(datatype)


def from_json(name: str, datatype: str, shape: list[int], count: int, data: Any) -> np.ndarray:
    """Decode nested or flat JSON `data` of `count` elements into an array of `shape`."""
    if not isinstance(data, list):
        raise InvalidInput(f"input {name!r} needs 'data' as a JSON array, got {type(data).__name__}.")
    if datatype == "BYTES":
        flat = _flatten_text(name, data, count)
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
    elif datatype == "BF16":
        bits = from_json(name, "FP32", shape, count, data).view(np.uint32)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
    else:
        _check_kinds(name, datatype, data)
        try:
            array = np.asarray(data, dtype=NUMPY_DTYPES[datatype])
        except (ValueError, TypeError, OverflowError):
            raise InvalidInput(f"input {name!r} has data that is not a regular array of {datatype} values.") from None
        if array.dtype.kind == "f" and not np.isfinite(array).all():  # JSON has no NaN or Infinity: an overflow
            raise InvalidInput(f"input {name!r} has a value beyond the range of {datatype}; send values that fit it.")
    if array.size != count:
        raise InvalidInput(f"input {name!r} has {array.size} values but shape {shape} needs {count}.")
    return array.reshape(shape)


# What JSON values each datatype takes; NumPy would otherwise parse "1.5" into a float, take
# true as 1 and cut 1.5 to 1 in an integer tensor, all silently.
_FLOATS = frozenset({int, float})
_KINDS: dict[str, tuple[frozenset[type], str]] = {
    "BOOL": (frozenset({bool}), "true or false"),
    **{t: (frozenset({int}), "integers") for t in ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                                                  "INT64")},
    **{t: (_FLOATS, "numbers") for t in ("FP16", "FP32", "FP64", "BF16")},
}


def _check_kinds(name: str, datatype: str, data: list[Any]) -> None:
    """Refuse JSON values of the wrong kind (a string or boolean among numbers, say), one level of
    nesting at a time at C speed (`map(type, ...)`), before NumPy converts anything."""
    allowed, words = _KINDS[datatype]
    level: list[Any] = data
    kinds = set(map(type, level))
    while kinds == {list}:
        level = list(itertools.chain.from_iterable(level))
        kinds = set(map(type, level))
    kinds.discard(list)  # lists beside values: a ragged array, which NumPy refuses
    wrong = kinds - allowed
    if wrong:
        found = sorted(_JSON_NAMES.get(k, k.__name__) for k in wrong)
        raise InvalidInput(f"input {name!r} is {datatype}, so its data must be {words}, got {' and '.join(found)}.")


_JSON_NAMES = {str: "a string", bool: "a boolean", float: "a fraction", type(None): "null", dict: "an object"}


def refuse_non_finite(name: str, array: np.ndarray) -> None:
    """NaN and infinities are refused unless the deployment allows them (`--allow-non-finite`)."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"input {name!r} holds NaN or infinite values, which this deployment refuses; send finite "
                           "values, or deploy with --allow-non-finite.")


def _flatten_text(name: str, data: list[Any], count: int) -> list[bytes]:
    out: list[bytes] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            if not isinstance(item, str):
                raise InvalidInput(f"input {name!r} is BYTES, so its data must be strings, got {type(item).__name__}.")
            if len(out) >= count:
                raise InvalidInput(f"input {name!r} has more values than its shape needs ({count}).")
            out.append(item.encode("utf-8", "surrogatepass"))
        else:
            stack.pop()
    return out


def from_binary(name: str, datatype: str, shape: list[int], count: int, raw: memoryview) -> np.ndarray:
    """Decode `raw` (exactly the tensor's bytes, little-endian, row-major) into an array."""
    if datatype == "BYTES":
        return _bytes_from_binary(name, raw, count).reshape(shape)
    dtype = NUMPY_DTYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(f"input {name!r} has binary_data_size {len(raw)} but shape {shape} of {datatype} "
                           f"needs {count * dtype.itemsize} bytes.")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape)
    if datatype == "BOOL" and array.view(np.uint8).max(initial=0) > 1:
        raise InvalidInput(f"input {name!r} is BOOL, so each binary element must be 0 or 1.")
    return array


def _bytes_from_binary(name: str, raw: memoryview, count: int) -> np.ndarray:
    if count * 4 > len(raw):
        raise InvalidInput(f"input {name!r} has {len(raw)} binary bytes, too few for {count} BYTES elements.")
    array = np.empty(count, dtype=object)
    pos = 0
    for i in range(count):
        if pos + 4 > len(raw):
            raise InvalidInput(f"input {name!r} ends inside the length prefix of BYTES element {i}.")
        (size,) = _LENGTH.unpack_from(raw, pos)
        pos += 4
        if pos + size > len(raw):
            raise InvalidInput(f"input {name!r} has BYTES element {i} of length {size}, past the end of its data.")
        array[i] = bytes(raw[pos:pos + size])
        pos += size
    if pos != len(raw):
        raise InvalidInput(f"input {name!r} has {len(raw) - pos} bytes left after its {count} BYTES elements.")
    return array


def to_binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for item in array.ravel().tolist():
            value = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogatepass")
            parts.append(_LENGTH.pack(len(value)))
            parts.append(value)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=NUMPY_DTYPES[datatype]).tobytes()


def to_json(array: np.ndarray, datatype: str) -> Any:
    """Flat row-major `data` that orjson serializes (NumPy arrays directly, text as str)."""
    if datatype == "BYTES":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in array.ravel().tolist()]
    if datatype == "BF16":
        return (array.ravel().astype(np.uint32) << 16).view(np.float32)
    return np.ascontiguousarray(array.ravel(), dtype=NUMPY_DTYPES[datatype].newbyteorder("="))

"""Sample inputs for measuring a model: arrays of a .npz matched to its inputs, or made up.

A .npz names one array per model input (`input_ids`, `attention_mask`, ...); a model with a
single input may call it `X`, as validation files do. `y` holds labels and is never an input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aiplane.domain.errors import InvalidInput
from aiplane.domain.registry import Signature, TensorSpec

DTYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT64": np.int64, "INT32": np.int32,
          "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_}
VARIABLE_DIM = 16  # made-up inputs: the length of a variable non-batch dimension (e.g. tokens)


def for_model(sig: Signature, arrays: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    """The arrays of `what` (e.g. "the calibration file") keyed by input name, checked against `sig`."""
    names = [t.name for t in sig.inputs]
    if len(names) == 1 and names[0] not in arrays and "X" in arrays:
        arrays = {names[0]: arrays["X"]}
    features = {k: v for k, v in arrays.items() if k != "y"}
    missing = [n for n in names if n not in features]
    if missing:
        raise InvalidInput(f"{what} has arrays {sorted(features)} but the model's inputs are {names}; "
                           "save one array per input, named after it (or X for a single input).")
    out = {t.name: _checked(t, features[t.name], what) for t in sig.inputs}
    counts = {n: int(a.shape[0]) for n, a in out.items()}
    if len(set(counts.values())) > 1:
        raise InvalidInput(f"{what} has different row counts per input ({counts}); give every input the same rows.")
    return out


def _checked(spec: TensorSpec, array: np.ndarray, what: str) -> np.ndarray:
    expected = list(spec.shape)
    if expected and (array.ndim != len(expected) or any(
            want not in (-1, got) for want, got in zip(expected[1:], array.shape[1:]))):
        raise InvalidInput(f"{what}: array {spec.name!r} has shape {list(array.shape)}, but the model takes "
                           f"{expected} (-1: any size); save arrays of the model's input shape.")
    if array.ndim == 0 or array.shape[0] == 0:
        raise InvalidInput(f"{what}: array {spec.name!r} has no rows; give at least one.")
    dtype = DTYPES.get(spec.datatype)
    if dtype is None:
        raise InvalidInput(f"input {spec.name!r} is {spec.datatype}, which cannot be measured from a .npz.")
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(array.dtype, np.integer):
        raise InvalidInput(f"{what}: array {spec.name!r} is {array.dtype}, but the model takes {spec.datatype}; "
                           "save it with an integer dtype.")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise InvalidInput(f"{what}: array {spec.name!r} is {array.dtype}, not numbers; save numeric arrays.")
    return array.astype(dtype, copy=False)


def rows(arrays: dict[str, np.ndarray]) -> int:
    return int(next(iter(arrays.values())).shape[0])


def feed(sig: Signature, arrays: dict[str, np.ndarray], start: int, stop: int) -> dict[str, Any]:
    return {t.name: arrays[t.name][start:stop] for t in sig.inputs}


def batch(sig: Signature, arrays: dict[str, np.ndarray], size: int) -> dict[str, Any]:
    """`size` rows, the sample's rows repeated as often as needed."""
    index = np.arange(size) % rows(arrays)
    return {t.name: np.ascontiguousarray(arrays[t.name][index]) for t in sig.inputs}


def synthetic(sig: Signature, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Made-up inputs for a model without sample data: normal floats, ones for integers
    (a valid token id and a full attention mask)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for t in sig.inputs:
        dtype = DTYPES.get(t.datatype)
        if dtype is None:
            raise InvalidInput(f"input {t.name!r} is {t.datatype}, so inputs cannot be made up for it; "
                               "register the version with --validation data to measure it.")
        shape = (count, *(d if d > 0 else VARIABLE_DIM for d in t.shape[1:]))
        out[t.name] = (rng.standard_normal(shape).astype(dtype) if np.issubdtype(dtype, np.floating)
                       else np.ones(shape, dtype=dtype))
    return out

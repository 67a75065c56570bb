"""ONNX Runtime adapter: open a model, read its signature, check it against validation data."""

from __future__ import annotations

import io
import math
import zipfile
from typing import Any, Callable

import numpy as np
import onnxruntime as ort

from aiplane.domain.errors import InvalidInput
from aiplane.domain.registry import Signature, TensorSpec

ONNX_TO_V2 = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64", "tensor(int8)": "INT8",
    "tensor(int16)": "INT16", "tensor(int32)": "INT32", "tensor(int64)": "INT64",
    "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
    "tensor(bfloat16)": "BF16", "tensor(string)": "BYTES",
}


CUDA = "CUDAExecutionProvider"


def providers(cuda: bool) -> tuple[list[str], str]:
    """The execution providers for a replica, and one line saying where it runs. CUDA only where
    it was asked for (a GPU replica) and ONNX Runtime has it (the onnxruntime-gpu package)."""
    if not cuda:
        return ["CPUExecutionProvider"], "runs on the CPU"
    if CUDA not in ort.get_available_providers():
        return ["CPUExecutionProvider"], ("placed on a GPU, but this ONNX Runtime has no CUDA provider "
                                          "(install onnxruntime-gpu): runs on the CPU")
    return [CUDA, "CPUExecutionProvider"], "runs on the GPU (CUDA)"


def open_session(model: bytes | str, threads: int = 1, cuda: bool = False) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(model, opts, providers=providers(cuda)[0])
    except Exception as exc:  # ORT raises several untyped errors for a bad file
        raise InvalidInput("the file is not a valid ONNX model that ONNX Runtime can load.") from exc


def runner(session: ort.InferenceSession, sig: Signature) -> Callable[[dict[str, np.ndarray], list[str]], list[np.ndarray]]:
    """A function running the model on decoded V2 inputs; ORT's errors become InvalidInput."""
    text = {t.name for t in sig.inputs if t.datatype == "BYTES"}
    bf16 = {t.name for t in sig.inputs if t.datatype == "BF16"}

    def run(inputs: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
        feed: dict[str, Any] = inputs
        if text or bf16:
            feed = {n: _as_text(n, a) if n in text else _as_bf16(a) if n in bf16 else a for n, a in inputs.items()}
        try:
            return list(session.run(names, feed))
        except Exception as exc:  # ORT reports bad values (e.g. out-of-range indices) as plain errors
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(f"the model rejected the input: {first[:300]}") from exc

    return run


def _as_text(name: str, array: np.ndarray) -> np.ndarray:
    try:
        values = [v.decode("utf-8") if isinstance(v, bytes) else v for v in array.ravel().tolist()]
    except UnicodeDecodeError:
        raise InvalidInput(f"input {name!r} is a string tensor, so its BYTES elements must be UTF-8 text.") from None
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(array.shape)


def _as_bf16(array: np.ndarray) -> Any:
    # NumPy has no bfloat16: hand ORT the raw 16-bit words typed as ONNX BFLOAT16 (element type 16).
    return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(np.ascontiguousarray(array), 16)


def _spec(arg: Any) -> TensorSpec:
    datatype = ONNX_TO_V2.get(arg.type)
    if datatype is None:
        raise InvalidInput(
            f"tensor {arg.name!r} has type {arg.type}, which the Open Inference Protocol cannot carry; "
            "export the model with plain tensor inputs and outputs (for scikit-learn: zipmap disabled)."
        )
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return TensorSpec(name=arg.name, datatype=datatype, shape=shape)


def signature(session: ort.InferenceSession) -> Signature:
    return Signature(
        inputs=tuple(_spec(i) for i in session.get_inputs()),
        outputs=tuple(_spec(o) for o in session.get_outputs()),
    )


MAX_ARCHIVE_BYTES = 256 << 20  # unpacked: far more than a validation or calibration set needs
_MAX_MEMBERS = 64


def load_validation(data: bytes, limit: int = MAX_ARCHIVE_BYTES) -> dict[str, np.ndarray]:
    arrays = load_arrays(data, "the validation file", limit)
    if "X" not in arrays:
        raise InvalidInput(f"the validation file has arrays {sorted(arrays)} but no 'X'; save features as X (and labels as y).")
    return arrays


def load_arrays(data: bytes, what: str, limit: int = MAX_ARCHIVE_BYTES) -> dict[str, np.ndarray]:
    """The arrays of a .npz archive (`what` names it in messages, e.g. "the calibration file")."""
    _check_sizes(data, what, limit)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:
        raise InvalidInput(f"{what} is not a NumPy .npz archive; save it with numpy.savez(X=..., y=...).") from exc


def _check_sizes(data: bytes, what: str, limit: int) -> None:
    """Refuse a decompression bomb before anything is unpacked: the members' sizes from the zip
    headers (a member is never read past its declared size), and each array's size from its
    .npy header (numpy allocates that much before reading a byte of data)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return  # not a zip: np.load says so in the usual sentence
    total = sum(m.file_size for m in members)
    if len(members) > _MAX_MEMBERS or total > limit:
        raise InvalidInput(f"{what} would unpack to {total} bytes in {len(members)} arrays, over the limit "
                           f"of {limit} bytes in {_MAX_MEMBERS}; it was refused unread, so use fewer rows.")
    for member in members:
        try:
            with archive.open(member) as f:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
        except Exception:  # not an .npy member: np.load refuses the file in the usual sentence
            return
        declared = math.prod(shape) * dtype.itemsize
        if declared > member.file_size:
            raise InvalidInput(f"array {member.filename!r} in {what} declares {declared} bytes but holds "
                               f"{member.file_size}; the file is damaged or crafted, and was refused unread.")


def check_validation_x(session: ort.InferenceSession, x: np.ndarray) -> None:
    """Refuse a validation X the model's first input cannot take, naming both shapes: before
    running it, so the user reads a feature count, not ONNX Runtime's dimension report."""
    first = _spec(session.get_inputs()[0])
    if x.dtype.kind not in "biuf":
        raise InvalidInput(f"the validation X holds {x.dtype} values, but the model's input {first.name!r} takes "
                           f"{first.datatype} numbers; save numeric features as X.")
    if x.ndim != len(first.shape) or x.ndim == 0:
        raise InvalidInput(f"the validation X has shape {list(x.shape)}, but the model's input {first.name!r} has "
                           f"{len(first.shape)} dimensions {list(first.shape)} (-1 = any); save X as rows of features.")
    for axis, (got, want) in enumerate(zip(x.shape[1:], first.shape[1:]), start=1):
        if want >= 0 and got != want:
            what = "features per row" if axis == 1 and x.ndim == 2 else f"elements along axis {axis}"
            raise InvalidInput(f"the validation X has {got} {what} (shape {list(x.shape)}), but the model's input "
                               f"{first.name!r} takes {want} (shape {list(first.shape)}); validate with the "
                               "features the model was trained on.")


def evaluate(session: ort.InferenceSession, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Run the model on validation X; report accuracy (or MAE) against y when given."""
    first = session.get_inputs()[0]
    x = arrays["X"]
    check_validation_x(session, x)
    dtype = np.float32 if first.type == "tensor(float)" else None
    try:
        outputs = session.run(None, {first.name: x.astype(dtype) if dtype else x})
    except Exception as exc:
        raise InvalidInput(f"the model cannot run on the validation X of shape {list(x.shape)}: {str(exc).splitlines()[0]}") from exc
    metrics: dict[str, Any] = {"validation_samples": int(x.shape[0])}
    if "y" in arrays:
        y = arrays["y"]
        predicted = np.asarray(outputs[0]).reshape(len(y), -1)[:, 0] if len(outputs[0]) == len(y) else None
        if predicted is None:
            raise InvalidInput("the validation y does not have one label per row of X.")
        if np.issubdtype(predicted.dtype, np.integer) or predicted.dtype == object:
            metrics["accuracy"] = float(np.mean(predicted.astype(str) == y.astype(str)))
        else:
            metrics["mae"] = float(np.mean(np.abs(predicted.astype(np.float64) - y.astype(np.float64))))
    return metrics

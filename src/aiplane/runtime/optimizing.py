"""The work behind `model quantize` and `model profile`, run in a child process (see
aiplane.control.jobs): plain bytes in, plain data out, so it pickles across the boundary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aiplane.domain.registry import Signature
from aiplane.runtime import measuring, onnx_model, quantizing, samples

PROFILE_BATCHES = (1, 2, 4, 8, 16, 32, 64)
COMPARED_BATCHES = (1, 32)  # the batch sizes quantization reports before/after
_SAMPLE_ROWS = 64


def quantize(parent: bytes, validation: bytes | None, calibration: bytes | None,
             budget_s: float = 1.0) -> tuple[bytes, dict[str, Any]]:
    """(INT8 model, report): method, sizes, latency before/after, agreement on validation data."""
    session = onnx_model.open_session(parent)
    sig = onnx_model.signature(session)
    calib = None
    if calibration is not None:
        arrays = onnx_model.load_arrays(calibration, "the calibration file")
        calib = samples.for_model(sig, arrays, "the calibration file")
    val, labels = _validation(sig, validation)
    child, method = quantizing.quantize(parent, sig, calib)
    quantized = onnx_model.open_session(child)
    if onnx_model.signature(quantized) != sig:
        raise AssertionError("quantization changed the model's signature")  # the tools keep it; a bug otherwise
    sample = val if val is not None else calib if calib is not None else samples.synthetic(sig, _SAMPLE_ROWS)
    before, after = {}, {}
    for b in COMPARED_BATCHES:
        before[b], after[b] = _interleaved(session, quantized, samples.batch(sig, sample, b), budget_s)
    report: dict[str, Any] = {
        "method": method, "format": "QDQ" if method == "static" else "integer operators (MatMulInteger)",
        "calibration_rows": samples.rows(calib) if calib is not None else 0,
        "size_before": len(parent), "size_after": len(child), "size_ratio": round(len(parent) / len(child), 3),
        "machine": measuring.machine(), "threads": 1,
        "latency_before": {str(b): p for b, p in before.items()}, "latency_after": {str(b): p for b, p in after.items()},
    }
    for b in COMPARED_BATCHES:
        report[f"latency_ratio_batch_{b}"] = round(before[b]["p50_ms"] / after[b]["p50_ms"], 3)
    report["throughput_ratio_batch_32"] = round(after[32]["rows_per_s"] / before[32]["rows_per_s"], 3)
    if val is not None:
        report["agreement"] = _agreement(session, quantized, sig, val, labels)
    return child, report


def _interleaved(parent: Any, child: Any, feed: dict[str, Any], budget_s: float,
                 rounds: int = 3) -> tuple[dict[str, float], dict[str, float]]:
    """Both models timed in turns, keeping each one's best round: on a shared machine the load
    drifts, and timing one model after the other would charge the drift to the comparison."""
    rounds_of: tuple[list[dict[str, float]], list[dict[str, float]]] = ([], [])
    for _ in range(rounds):
        rounds_of[0].append(measuring.latency(parent, feed, budget_s / rounds))
        rounds_of[1].append(measuring.latency(child, feed, budget_s / rounds))
    best = [min(r, key=lambda p: p["p50_ms"]) for r in rounds_of]
    return best[0], best[1]


def _validation(sig: Signature, data: bytes | None) -> tuple[dict[str, np.ndarray] | None, np.ndarray | None]:
    if data is None:
        return None, None
    arrays = onnx_model.load_arrays(data, "the validation file")
    return samples.for_model(sig, arrays, "the validation file"), arrays.get("y")


def _agreement(parent: Any, child: Any, sig: Signature, val: dict[str, np.ndarray],
               labels: np.ndarray | None) -> dict[str, Any]:
    """Agreement over the whole set at once, and row by row: dynamic quantization scales each
    batch by its own range, so an answer depends a little on its batch mates. The recorded
    tolerance is twice the worst difference seen either way, for answers in other batches."""
    whole = measuring.agreement(measuring.run(parent, val), measuring.run(child, val), labels)
    n = min(samples.rows(val), _SAMPLE_ROWS)
    singles = [measuring.agreement(measuring.run(parent, samples.feed(sig, val, i, i + 1)),
                                   measuring.run(child, samples.feed(sig, val, i, i + 1)), None) for i in range(n)]
    worst = max([max(whole["max_abs_diff"].values(), default=0.0)]
                + [max(s["max_abs_diff"].values(), default=0.0) for s in singles])
    whole["tolerance"] = round(2 * worst, 6)
    whole["validation_samples"] = samples.rows(val)
    return whole


def profile(artifact: bytes, validation: bytes | None, budget_s: float = 0.5) -> dict[str, Any]:
    """Latency and throughput against batch size on one core of this machine."""
    session = onnx_model.open_session(artifact)
    sig = onnx_model.signature(session)
    val, _ = _validation(sig, validation)
    sample = val if val is not None else samples.synthetic(sig, _SAMPLE_ROWS)
    points = [measuring.latency(session, samples.batch(sig, sample, b), budget_s) for b in PROFILE_BATCHES]
    int8 = quantizing.is_quantized(artifact)
    return {"machine": measuring.machine(), "threads": 1, "size_bytes": len(artifact), "int8": int8,
            "inputs": "validation data" if val is not None else "made-up inputs", "cpu": points, "gpu": None}

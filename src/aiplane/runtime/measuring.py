"""Measuring a model on this machine: latency at a batch size, and how close two models answer.

Latency runs one ONNX Runtime thread, as a replica does, so a figure is per core. Each point
runs until `budget_s` or `max_runs` (whichever first), after warm-up runs that are not counted.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np
import onnxruntime as ort

from aiplane.domain.errors import InvalidInput


def machine() -> str:
    """The CPU this runs on, in words, e.g. 'AMD EPYC 7B13, 2 cores, onnxruntime 1.32.0'."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, onnxruntime {ort.__version__}"


def latency(session: ort.InferenceSession, feed: dict[str, Any], budget_s: float = 1.0, max_runs: int = 2000,
            warmup: int = 3) -> dict[str, float]:
    """p50 and p99 of one call in ms, and rows per second, at the batch size of `feed`."""
    rows = int(next(iter(feed.values())).shape[0])
    try:
        for _ in range(warmup):
            session.run(None, feed)
        times: list[float] = []
        deadline = time.perf_counter() + budget_s
        while len(times) < max_runs and (len(times) < 5 or time.perf_counter() < deadline):
            start = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - start)
    except Exception as exc:
        raise InvalidInput(f"the model cannot run on sample inputs of {rows} rows: {_first_line(exc)}") from exc
    ms = np.array(times) * 1000
    p50 = float(np.percentile(ms, 50))
    return {"batch": rows, "p50_ms": round(p50, 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "rows_per_s": round(rows / (p50 / 1000), 1), "runs": len(times)}


def run(session: ort.InferenceSession, feed: dict[str, Any]) -> list[np.ndarray]:
    try:
        return [np.asarray(o) for o in session.run(None, feed)]
    except Exception as exc:
        raise InvalidInput(f"the model cannot run on the sample inputs: {_first_line(exc)}") from exc


def agreement(parent: list[np.ndarray], child: list[np.ndarray], labels: np.ndarray | None) -> dict[str, Any]:
    """How close the child's outputs are to the parent's: accuracy on labels (from the first
    output, as registration measures it), row-wise cosine of the first float output, and the
    largest absolute difference of each float output."""
    out: dict[str, Any] = {}
    if labels is not None:
        out["accuracy_before"] = _accuracy(parent[0], labels)
        out["accuracy_after"] = _accuracy(child[0], labels)
    floats = [i for i, o in enumerate(parent) if np.issubdtype(o.dtype, np.floating)]
    if floats:
        a = parent[floats[0]].reshape(len(parent[floats[0]]), -1).astype(np.float64)
        b = child[floats[0]].reshape(len(child[floats[0]]), -1).astype(np.float64)
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cosine = np.sum(a * b, axis=1) / np.where(norms == 0, 1.0, norms)
        out["cosine_mean"], out["cosine_min"] = float(np.mean(cosine)), float(np.min(cosine))
    out["max_abs_diff"] = {str(i): float(np.max(np.abs(parent[i].astype(np.float64) - child[i]))) for i in floats}
    return out


def _accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    if len(predicted) != len(labels):
        raise InvalidInput("the validation y does not have one label per row of X.")
    first = predicted.reshape(len(labels), -1)[:, 0]
    return float(np.mean(first.astype(str) == labels.astype(str)))


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]

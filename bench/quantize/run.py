"""Quantization benchmark: FP32 against INT8 for a MatMul-heavy MLP and all-MiniLM-L6-v2.

    .venv/bin/python bench/quantize/run.py [--skip-minilm] [--budget-s 2]

MiniLM needs the `transformers` extra (pip install '.[transformers]'); without it that row
is skipped and says so. Each model goes through aiplane.runtime.optimizing.quantize, the
same code `aiplane model quantize` runs, so the figures are what a user would be shown: size,
p50 latency on one core at batch 1 and 32, throughput at batch 32, and accuracy on held-out
labels (MLP) or cosine similarity to the FP32 embeddings (MiniLM). The INT8 MiniLM is then
served by `aiplane serve-model` and asked over the V2 protocol with INT64 token inputs.
Goals (issue 14): >= 3.5x smaller, >= 1.5x faster at batch 32, accuracy drop <= 1 point /
cosine >= 0.99. Nothing is asserted: this is a measurement, printed as a table.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiplane.runtime import measuring, optimizing, sklearn_convert  # noqa: E402


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def mlp(budget_s: float) -> list[tuple[str, dict[str, Any]]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(14)
    x = rng.normal(size=(6000, 128)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(128, 4)), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = MLPClassifier((512, 512), max_iter=12, random_state=0).fit(x[:5000], y[:5000])
    parent = sklearn_convert.convert(estimator)
    validation = _npz(X=x[5000:], y=y[5000:])
    rows = [("MLP 128-512-512-4, dynamic", optimizing.quantize(parent, validation, None, budget_s)[1])]
    calibration = _npz(input=x[:512])
    rows.append(("MLP 128-512-512-4, static QDQ", optimizing.quantize(parent, validation, calibration, budget_s)[1]))
    return rows


def minilm(budget_s: float, folder: Path) -> list[tuple[str, dict[str, Any]]]:
    import minilm as m

    fp32 = m.export(folder / "minilm.onnx")
    texts = m.sentences(256)
    tokens = m.tokenize(texts)
    from aiplane.runtime import onnx_model

    session = onnx_model.open_session(fp32.read_bytes())
    ours = session.run(None, tokens)[0]
    reference = m.reference(texts)
    export_cosine = float(np.min(np.sum(ours * reference, axis=1)))
    print(f"MiniLM export check: min cosine of ONNX Runtime FP32 to sentence-transformers = {export_cosine:.6f} "
          f"over {len(texts)} sentences")
    validation = _npz(**tokens)
    child, report = optimizing.quantize(fp32.read_bytes(), validation, None, budget_s)
    (folder / "minilm-int8.onnx").write_bytes(child)
    _serve_check(folder / "minilm-int8.onnx", {k: v[:8] for k, v in tokens.items()}, ours[:8])
    return [("all-MiniLM-L6-v2, dynamic", report)]


def _serve_check(model: Path, tokens: dict[str, np.ndarray], fp32: np.ndarray) -> None:
    """Serve the INT8 model with `aiplane serve-model` and ask it over V2 with INT64 tokens."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "aiplane", "serve-model", "--model", str(model), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = {"inputs": [{"name": n, "shape": list(a.shape), "datatype": "INT64", "data": a.ravel().tolist()}
                           for n, a in tokens.items()]}
        answer = httpx.post(url + f"/v2/models/{model.stem}/infer", json=body, timeout=60).json()
        served = np.array(answer["outputs"][0]["data"], dtype=np.float32).reshape(fp32.shape)
        cosine = np.sum(served * fp32, axis=1) / np.linalg.norm(served, axis=1)
        print(f"MiniLM INT8 served over V2 (serve-model, INT64 tokens): {len(served)} embeddings of "
              f"{served.shape[1]}, min cosine to FP32 {float(np.min(cosine)):.4f}")
    finally:
        proc.terminate()
        proc.wait(10)


def _delta(report: dict[str, Any]) -> tuple[str, bool]:
    a = report.get("agreement", {})
    if "accuracy_before" in a:
        drop = (a["accuracy_before"] - a["accuracy_after"]) * 100
        return f"acc {a['accuracy_before']:.3f}->{a['accuracy_after']:.3f} ({-drop:+.2f} pt)", drop <= 1.0
    return f"cosine {a['cosine_mean']:.4f} (min {a['cosine_min']:.4f})", a["cosine_mean"] >= 0.99


def table(rows: list[tuple[str, dict[str, Any]]]) -> None:
    head = ("model", "FP32 MB", "INT8 MB", "smaller", "faster b1", "faster b32", "thru b32", "quality", "goals")
    lines = []
    for name, r in rows:
        quality, ok = _delta(r)
        goals = [r["size_ratio"] >= 3.5, r["latency_ratio_batch_32"] >= 1.5, ok]
        verdict = "met" if all(goals) else "missed: " + ", ".join(
            g for g, hit in zip(("size", "speed b32", "quality"), goals) if not hit)
        lines.append((name, f"{r['size_before'] / 1e6:.2f}", f"{r['size_after'] / 1e6:.2f}",
                      f"{r['size_ratio']:.2f}x", f"{r['latency_ratio_batch_1']:.2f}x",
                      f"{r['latency_ratio_batch_32']:.2f}x", f"{r['throughput_ratio_batch_32']:.2f}x", quality, verdict))
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]
    for line in (head, *lines):
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths)))
    for name, r in rows:
        b1, b32 = r["latency_before"], r["latency_after"]
        print(f"  {name}: p50 ms batch 1 {b1['1']['p50_ms']:.3f} -> {b32['1']['p50_ms']:.3f}, batch 32 "
              f"{b1['32']['p50_ms']:.3f} -> {b32['32']['p50_ms']:.3f}")
    print(f"measured on {measuring.machine()}, one ONNX Runtime thread per model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-minilm", action="store_true")
    parser.add_argument("--budget-s", type=float, default=2.0, help="seconds of timing per batch size and model")
    args = parser.parse_args()
    rows = mlp(args.budget_s)
    if not args.skip_minilm:
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            print("all-MiniLM-L6-v2: skipped, the transformers extra is not installed (pip install '.[transformers]')")
        else:
            with tempfile.TemporaryDirectory(prefix="aiplane-bench-quantize-") as tmp:
                rows += minilm(args.budget_s, Path(tmp))
    table(rows)


if __name__ == "__main__":
    main()

"""Quantizing and profiling a real ONNX model with ONNX Runtime's tools (no server)."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest

from aiplane.domain.errors import InvalidInput
from aiplane.runtime import optimizing
from tests.conftest import MlpModel


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _ops(model: bytes) -> set[str]:
    return {n.op_type for n in onnx.load_from_string(model).graph.node}


def test_dynamic_quantization_shrinks_the_weights_and_keeps_the_answers(mlp_model: MlpModel):
    child, report = optimizing.quantize(mlp_model.onnx.read_bytes(), mlp_model.validation.read_bytes(), None, 0.05)
    assert report["method"] == "dynamic" and "MatMulInteger" in _ops(child) and "MatMul" not in _ops(child)
    assert report["size_before"] == len(mlp_model.onnx.read_bytes()) and report["size_after"] == len(child)
    assert report["size_ratio"] > 2  # 16x64 + 64x64 + 64x3 FP32 weights -> INT8; biases, graph and scales stay
    agreement = report["agreement"]
    assert agreement["validation_samples"] == 300
    assert abs(agreement["accuracy_before"] - agreement["accuracy_after"]) <= 0.02
    assert agreement["cosine_mean"] > 0.99 and agreement["cosine_min"] > 0.9 and 0 < agreement["tolerance"] < 0.1
    for batch in ("1", "32"):
        assert report["latency_before"][batch]["batch"] == int(batch) and report["latency_after"][batch]["p50_ms"] > 0
    assert "cores" in report["machine"] and report["threads"] == 1


def test_a_calibration_set_gives_static_qdq_quantization(mlp_model: MlpModel):
    child, report = optimizing.quantize(mlp_model.onnx.read_bytes(), mlp_model.validation.read_bytes(),
                                        mlp_model.calibration.read_bytes(), 0.05)
    assert report["method"] == "static" and report["format"] == "QDQ" and report["calibration_rows"] == 200
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(child)
    assert report["agreement"]["cosine_mean"] > 0.99


def test_without_validation_data_the_report_has_no_agreement(mlp_model: MlpModel):
    _, report = optimizing.quantize(mlp_model.onnx.read_bytes(), None, None, 0.05)
    assert "agreement" not in report and report["size_ratio"] > 2


def test_an_already_quantized_model_is_refused_in_one_sentence(mlp_model: MlpModel):
    child, _ = optimizing.quantize(mlp_model.onnx.read_bytes(), None, None, 0.05)
    with pytest.raises(InvalidInput, match=r"^the model is already quantized \(it has .*MatMulInteger.*\); "
                                           r"quantize its FP32 parent instead\.$"):
        optimizing.quantize(child, None, None)


def test_a_model_without_weighted_operators_is_refused(mlp_model: MlpModel):
    with pytest.raises(InvalidInput, match=r"no MatMul, Gemm or Conv operators .*TreeEnsembleClassifier"):
        optimizing.quantize(mlp_model.tree.read_bytes(), None, None)


@pytest.mark.parametrize("arrays, message", [
    ({"features": np.zeros((8, 16), np.float32)}, r"has arrays \['features'\] but the model's inputs are \['input'\]"),
    ({"input": np.zeros((8, 15), np.float32)}, r"array 'input' has shape \[8, 15\], but the model takes \[-1, 16\]"),
    ({"input": np.zeros((8, 16, 1), np.float32)}, r"array 'input' has shape \[8, 16, 1\]"),
    ({"input": np.zeros((0, 16), np.float32)}, r"array 'input' has no rows"),
])
def test_a_calibration_file_that_does_not_fit_the_inputs_is_refused(mlp_model: MlpModel, arrays, message):
    with pytest.raises(InvalidInput, match=message):
        optimizing.quantize(mlp_model.onnx.read_bytes(), None, _npz(**arrays))


def test_a_calibration_file_that_is_not_an_npz_is_refused(mlp_model: MlpModel):
    with pytest.raises(InvalidInput, match=r"^the calibration file is not a NumPy \.npz archive"):
        optimizing.quantize(mlp_model.onnx.read_bytes(), None, b"not a zip")


def test_profile_measures_every_batch_size_on_one_core(mlp_model: MlpModel):
    doc = optimizing.profile(mlp_model.onnx.read_bytes(), mlp_model.validation.read_bytes(), budget_s=0.02)
    assert [p["batch"] for p in doc["cpu"]] == list(optimizing.PROFILE_BATCHES)
    assert all(p["p99_ms"] >= p["p50_ms"] > 0 and p["rows_per_s"] > 0 for p in doc["cpu"])
    assert doc["int8"] is False and doc["inputs"] == "validation data" and doc["gpu"] is None
    child, _ = optimizing.quantize(mlp_model.onnx.read_bytes(), None, None, 0.02)
    assert optimizing.profile(child, None, budget_s=0.02)["int8"] is True

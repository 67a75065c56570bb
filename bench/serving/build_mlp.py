"""Build the compute-heavy benchmark model: an MLP with two 1024-unit hidden layers.

Usage: python build_mlp.py OUT_DIR   (run in the peers' `model` venv, like build_model.py)

Writes model.onnx (float32 input "input" [None, 30], outputs "label", "probabilities"),
body_1.json / body_32.json (same V2 bodies as the small model) and expected.json (labels).
"""
import json
import os
import sys

import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
X, y = load_breast_cancer(return_X_y=True)
X32 = X.astype(np.float32)
model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(1024, 1024), max_iter=30,
                                                      random_state=0)).fit(X32, y)
onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 30]))],
                      options={id(model.steps[-1][1]): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
with open(os.path.join(out, "model.onnx"), "wb") as f:
    f.write(onx.SerializeToString())
expected = {}
for rows in (1, 32):
    body = {"inputs": [{"name": "input", "shape": [rows, 30], "datatype": "FP32",
                        "data": [float(v) for v in X32[:rows].ravel()]}]}
    with open(os.path.join(out, f"body_{rows}.json"), "w") as f:
        json.dump(body, f, separators=(",", ":"))
    expected[str(rows)] = [int(v) for v in model.predict(X32[:rows])]
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
print(f"MLP train accuracy {model.score(X32, y):.4f}; wrote {out}")

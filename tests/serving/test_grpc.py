"""gRPC `inference.GRPCInferenceService` of a real replica, called by Triton's `tritonclient.grpc`.

The client runs in its own process: Triton's, KServe's and aiplane's generated protobuf modules
all define the `inference` package, and one process may hold only one of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import TrainedModel, free_port
from tests.serving.conftest import Replica

pytestmark = pytest.mark.serial

_CLIENT = r'''
import json, sys
import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

url, rows_file, mode = sys.argv[1], sys.argv[2], sys.argv[3]
rows = np.load(rows_file)
client = triton.InferenceServerClient(url)
out = {"live": client.is_server_live(), "ready": client.is_model_ready("bc"),
       "inputs": [i.name for i in client.get_model_metadata("bc").inputs],
       "extensions": list(client.get_server_metadata().extensions)}
x = triton.InferInput("input", list(rows.shape), "FP32")
if mode == "bad":
    x = triton.InferInput("input", [rows.shape[0], 29], "FP32")
    x.set_data_from_numpy(rows[:, :29].copy())
    try:
        client.infer("bc", [x])
    except InferenceServerException as exc:
        out["error"] = [exc.status(), exc.message()]
    try:
        client.is_model_ready("nope")
    except InferenceServerException as exc:
        out["missing"] = exc.status()
else:
    x.set_data_from_numpy(rows)
    result = client.infer("bc", [x], outputs=[triton.InferRequestedOutput("label"),
                                              triton.InferRequestedOutput("probabilities")], request_id="g-1")
    out.update(id=result.get_response().id, label=result.as_numpy("label").tolist(),
               probabilities=result.as_numpy("probabilities").tolist())
print(json.dumps(out))
'''


def _call(port: int, rows: np.ndarray, mode: str, tmp_path) -> dict:
    rows_file = tmp_path / "rows.npy"
    np.save(rows_file, rows)
    done = subprocess.run([sys.executable, "-c", _CLIENT, f"127.0.0.1:{port}", str(rows_file), mode],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("batching", [[], ["--max-batch-size", "8", "--max-batch-delay-ms", "1"]])
def test_tritonclient_grpc_gets_onnx_runtime_answers(replica_factory, trained_model: TrainedModel, tmp_path,
                                                     batching):
    port = free_port()
    replica: Replica = replica_factory(trained_model.onnx, "bc", "--grpc-port", str(port), *batching)
    rows = trained_model.x[:5]
    got = _call(port, rows, "ok", tmp_path)
    session = ort.InferenceSession(str(trained_model.onnx), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"], {"input": rows})
    assert got["live"] and got["ready"] and got["inputs"] == ["input"] and "binary_tensor_data" in got["extensions"]
    assert got["id"] == "g-1" and got["label"] == label.tolist()
    assert np.allclose(np.array(got["probabilities"]), probabilities, atol=1e-6)
    assert replica.client.get("/v2/health/ready").status_code == 200  # HTTP still serves beside gRPC


def test_grpc_errors_carry_status_codes(replica_factory, trained_model: TrainedModel, tmp_path):
    port = free_port()
    replica_factory(trained_model.onnx, "bc", "--grpc-port", str(port))
    got = _call(port, trained_model.x[:2], "bad", tmp_path)
    status, message = got["error"]
    assert status == "StatusCode.INVALID_ARGUMENT" and "expects [-1, 30]" in message
    assert got["missing"] == "StatusCode.NOT_FOUND"

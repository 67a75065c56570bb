"""Replica fixtures: `aiplane serve-model` as a real process, and small real ONNX models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest

from tests.conftest import free_port

# Every V2 datatype that ONNX Runtime hands back as NumPy (BF16 has no NumPy type).
DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES"]


class Replica:
    """A running `aiplane serve-model` on a free TCP port."""

    def __init__(self, model: Path, name: str, *args: str, cpus: set[int] | None = None) -> None:
        """`cpus`: run the replica on only these CPUs (its affinity mask), as `taskset` would."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiplane", "serve-model", "--model", str(model), "--port", str(self.port),
             "--name", name, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                if self.client.get("/v2/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("serve-model did not become ready")

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(15)
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def replica_factory() -> Iterator[object]:
    started: list[Replica] = []

    def make(model: Path, name: str, *args: str, cpus: set[int] | None = None) -> Replica:
        r = Replica(model, name, *args, cpus=cpus)
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


def onnx_types() -> dict[str, int]:
    """V2 datatype -> ONNX TensorProto element type, BF16 included."""
    from onnx import TensorProto

    return {"BOOL": TensorProto.BOOL, "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16,
            "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8,
            "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
            "FP16": TensorProto.FLOAT16, "FP32": TensorProto.FLOAT, "FP64": TensorProto.DOUBLE,
            "BF16": TensorProto.BFLOAT16, "BYTES": TensorProto.STRING}


@pytest.fixture(scope="session")
def identity_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ONNX model that returns each of its inputs `in_<DATATYPE>` as `out_<DATATYPE>`, shape [-1, 3]."""
    from onnx import helper

    onnx_type = onnx_types()
    nodes = [helper.make_node("Identity", [f"in_{d}"], [f"out_{d}"]) for d in DATATYPES]
    inputs = [helper.make_tensor_value_info(f"in_{d}", onnx_type[d], [None, 3]) for d in DATATYPES]
    outputs = [helper.make_tensor_value_info(f"out_{d}", onnx_type[d], [None, 3]) for d in DATATYPES]
    model = helper.make_model(helper.make_graph(nodes, "identity", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path_factory.mktemp("identity") / "identity.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def sample(datatype: str, rows: int, seed: int = 0) -> np.ndarray:
    """A [rows, 3] array of `datatype` with values that survive JSON."""
    rng = np.random.default_rng(seed)
    if datatype == "BYTES":
        words = np.array([f"w{i}-é".encode() for i in rng.integers(0, 1000, rows * 3)], dtype=object)
        return words.reshape(rows, 3)
    if datatype == "BOOL":
        return rng.integers(0, 2, (rows, 3)).astype(bool)
    from aiplane.serving.tensors import NUMPY_DTYPES

    dtype = NUMPY_DTYPES[datatype]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, (rows, 3), dtype=dtype, endpoint=True)
    return rng.standard_normal((rows, 3)).astype(dtype)

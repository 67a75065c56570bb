"""A replica killed with SIGKILL under load, through a real `aiplane up`: with two replicas the
gateway retries the request on the other one and no client sees a failure, on HTTP and gRPC;
with one, the client gets a 503 in the V2 error shape, and every answer has its audit event."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any, Callable, Iterator

import grpc
import httpx
import numpy as np
import pytest

from tests.conftest import Platform, TrainedModel, free_port

pytestmark = pytest.mark.serial
_THREADS, _PER_THREAD = 4, 60  # a bounded loop: 240 requests, a kill after the first quarter


class World:
    def __init__(self, platform: Platform, grpc_port: int, key: str, row: list[float]) -> None:
        self.platform, self.address, self.key, self.row = platform, f"127.0.0.1:{grpc_port}", key, row

    def replicas(self, deployment: str) -> list[dict[str, Any]]:
        listing = json.loads(self.platform.cli("deploy", "list", "-o", "json").stdout)
        return next(d["replica_status"] for d in listing if d["name"] == deployment)

    def wait_all_ready(self, deployment: str, count: int) -> list[int]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replicas = self.replicas(deployment)
            if len(replicas) == count and all(r["state"] == "ready" for r in replicas):
                return [r["pid"] for r in replicas]
            time.sleep(0.2)
        raise AssertionError(f"replicas of {deployment} not ready: {self.replicas(deployment)}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[World]:
    grpc_port = free_port()
    p = Platform(tmp_path_factory.mktemp("crash") / "data", args=("--grpc-port", str(grpc_port)))
    try:
        yield _populated(p.start(), grpc_port, trained_model)
    finally:
        p.stop()
        p.kill_everything()


def _populated(p: Platform, grpc_port: int, trained_model: TrainedModel) -> World:
    assert p.cli("tenant", "create", "t", "--cpus", "4", "--memory", "8Gi").returncode == 0
    assert p.cli("model", "register", "t/bc", str(trained_model.onnx)).returncode == 0
    for name, replicas in (("two", "2"), ("one", "1")):
        done = p.cli("deploy", "create", f"t/{name}", "--model", "bc:1", "--min-replicas", replicas,
                     "--max-replicas", replicas)
        assert done.returncode == 0, done.stderr
    key = json.loads(p.cli("key", "create", "--tenant", "t", "--role", "predictor", "-o", "json").stdout)["secret"]
    return World(p, grpc_port, key, trained_model.x[0].tolist())


def _under_load(call: Callable[[], str], kill: Callable[[], None]) -> list[str]:
    """Run `call` _PER_THREAD times on each of _THREADS threads; `kill` once a quarter are done.
    The outcomes that were not "ok"."""
    done, failures, lock = [0], [], threading.Lock()
    killed = threading.Event()

    def loop() -> None:
        for _ in range(_PER_THREAD):
            outcome = call()
            with lock:
                done[0] += 1
                if outcome != "ok":
                    failures.append(outcome)
                if done[0] == _THREADS * _PER_THREAD // 4 and not killed.is_set():
                    killed.set()
                    kill()

    threads = [threading.Thread(target=loop) for _ in range(_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert killed.is_set()
    return failures


def _kill_one(world: World, deployment: str, count: int) -> Callable[[], None]:
    pid = world.wait_all_ready(deployment, count)[0]
    return lambda: os.kill(pid, signal.SIGKILL)


def test_with_two_replicas_a_killed_one_costs_no_http_request(world: World):
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": world.row}]}
    kill = _kill_one(world, "two", 2)
    with httpx.Client(base_url=world.platform.url, headers={"Authorization": f"Bearer {world.key}"},
                      timeout=30, limits=httpx.Limits(max_connections=_THREADS)) as client:
        def call() -> str:
            response = client.post("/v2/models/two/infer", json=body)
            return "ok" if response.status_code == 200 else f"{response.status_code} {response.text[:200]}"

        failures = _under_load(call, kill)
    assert failures == [], failures
    world.wait_all_ready("two", 2)  # the killed one was restarted


def _model_infer_request(model: str, rows: np.ndarray) -> bytes:
    """ModelInferRequest bytes written by hand (fields 1, 5 and 7 of inference.proto): a
    generated `inference` module loaded in this process would clash in protobuf's descriptor
    pool with the KServe client's copy of the same proto (tests/serving/test_interop.py)."""
    def varint(n: int) -> bytes:
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out

    def field(tag: int, value: bytes) -> bytes:
        return bytes([tag]) + varint(len(value)) + value

    shape = b"".join(varint(d) for d in rows.shape)
    tensor = field(0x0A, b"input") + field(0x12, b"FP32") + field(0x1A, shape)
    return field(0x0A, model.encode()) + field(0x2A, tensor) + field(0x3A, rows.tobytes())


def test_with_two_replicas_a_killed_one_costs_no_grpc_call(world: World):
    payload = _model_infer_request("two", np.asarray([world.row], dtype="<f4"))
    kill = _kill_one(world, "two", 2)
    with grpc.insecure_channel(world.address) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")

        def call() -> str:
            try:
                infer(payload, metadata=(("authorization", "Bearer " + world.key),), timeout=30)
                return "ok"
            except grpc.RpcError as exc:
                return f"{exc.code()} {exc.details()}"

        failures = _under_load(call, kill)
    assert failures == [], failures
    world.wait_all_ready("two", 2)


def test_with_one_replica_a_killed_one_is_a_503_in_the_v2_shape_with_its_audit_event(world: World):
    pid = world.wait_all_ready("one", 1)[0]
    body = {"id": "lone", "inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": world.row}]}
    os.kill(pid, signal.SIGKILL)
    with world.platform.http(world.key) as client:
        response = client.post("/v2/models/one/infer", json=body)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json" and int(response.headers["retry-after"]) >= 1
    assert set(response.json()) == {"error"} and response.json()["error"].endswith("retry shortly.")
    with world.platform.http(world.platform.admin_key) as client:
        events = client.get("/api/v1/audit", params={"action": "predict", "deployment": "one", "limit": 50}).json()
    event = next(e for e in events if e["audit_id"] == response.headers["x-aiplane-audit-id"])
    assert event["status"] == 503 and event["tenant"] == "t"
    world.wait_all_ready("one", 1)


def test_a_prediction_refused_for_its_rate_limit_has_its_audit_event_too(world: World):
    limited = json.loads(world.platform.cli("key", "create", "--tenant", "t", "--role", "predictor", "--rate-limit",
                                            "0.1", "-o", "json").stdout)["secret"]
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": world.row}]}
    with world.platform.http(limited) as client:
        answers = [client.post("/v2/models/two/infer", json=body) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    with world.platform.http(world.platform.admin_key) as client:
        events = client.get("/api/v1/audit", params={"action": "predict", "deployment": "two", "limit": 20,
                                                     "order": "desc"}).json()
    statuses = {e["audit_id"]: e["status"] for e in events}
    assert [statuses.get(a.headers.get("x-aiplane-audit-id", "")) for a in answers] == [200, 429]

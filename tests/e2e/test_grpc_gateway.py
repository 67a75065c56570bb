"""gRPC through the governed gateway: a real `aiplane up --grpc-port`, called by Triton's
`tritonclient.grpc` and by a raw channel, with the keys, scopes and audit trail of HTTP /v2.

Clients that load a generated `inference` package run in their own process (see
tests/serving/test_grpc.py); the malformed-bytes test needs none and runs here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from typing import Any, Iterator

import grpc
import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import Platform, TrainedModel, free_port

pytestmark = pytest.mark.serial

_CLIENT = r'''
import base64, json, sys
import grpc
import numpy as np
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

address, rows_file, keys = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rows = np.load(rows_file)
client = triton.InferenceServerClient(address)
out = {}

def auth(role, tenant=None):
    headers = {"authorization": "Bearer " + keys[role]} if role else {}
    if tenant:
        headers["x-aiplane-tenant"] = tenant
    return headers

def attempt(name, call):
    try:
        out[name] = ["OK", call()]
    except InferenceServerException as exc:
        out[name] = [exc.status(), exc.message()]

def infer(role, model="bc", tenant=None, request_id=""):
    x = triton.InferInput("input", list(rows.shape), "FP32")
    x.set_data_from_numpy(rows)
    result = client.infer(model, [x], headers=auth(role, tenant), request_id=request_id,
                          outputs=[triton.InferRequestedOutput("label"), triton.InferRequestedOutput("probabilities")])
    return {"id": result.get_response().id, "label": result.as_numpy("label").tolist(),
            "probabilities": result.as_numpy("probabilities").tolist()}

attempt("live", lambda: client.is_server_live())
attempt("ready", lambda: client.is_server_ready())
attempt("metadata", lambda: list(client.get_server_metadata(headers=auth("predictor")).extensions))
attempt("metadata_no_key", lambda: client.get_server_metadata().name)
attempt("model_ready", lambda: client.is_model_ready("bc", headers=auth("predictor")))
attempt("model_metadata", lambda: [i.name for i in client.get_model_metadata("bc", headers=auth("predictor")).inputs])
attempt("infer", lambda: infer("predictor", request_id="g-1"))
attempt("infer_no_id", lambda: infer("predictor"))
attempt("platform_key", lambda: infer("admin", tenant="alpha")["label"])
attempt("platform_key_no_tenant", lambda: infer("admin"))
attempt("no_key", lambda: infer(None))
attempt("bad_key", lambda: infer("bad"))
attempt("other_tenant", lambda: infer("beta"))
attempt("wrong_role", lambda: infer("deployer"))
attempt("unknown_model", lambda: infer("predictor", model="nope"))
attempt("wrong_version", lambda: client.is_model_ready("bc", "7", headers=auth("predictor")))

# Raw bytes, as the gateway forwards them: what the audit trail's HMACs are computed over.
request = service_pb2.ModelInferRequest(model_name="bc", id="raw-1")
request.inputs.add(name="input", datatype="FP32", shape=list(rows.shape))
request.raw_input_contents.append(rows.astype("<f4").tobytes())
body = request.SerializeToString()
channel = grpc.insecure_channel(address)
answer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(
    body, metadata=(("authorization", "Bearer " + keys["predictor"]),))
out["raw"] = [base64.b64encode(body).decode(), base64.b64encode(answer).decode()]
print(json.dumps(out))
'''


class World:
    def __init__(self, platform: Platform, grpc_port: int, keys: dict[str, str]) -> None:
        self.platform, self.address, self.keys = platform, f"127.0.0.1:{grpc_port}", keys


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[World]:
    grpc_port = free_port()
    p = Platform(tmp_path_factory.mktemp("grpc") / "data", {"AIPLANE_AUDIT_COMMIT_TIMEOUT_S": "2"},
                 args=("--grpc-port", str(grpc_port)))
    p.start()
    keys = {"admin": p.admin_key, "bad": "aip_000000000000_" + "0" * 48}
    for tenant in ("alpha", "beta"):
        _ok(p.cli("tenant", "create", tenant, "--cpus", "4", "--memory", "8Gi"))
    for name, tenant, role in (("predictor", "alpha", "predictor"), ("deployer", "alpha", "deployer"),
                               ("beta", "beta", "predictor")):
        keys[name] = json.loads(_ok(p.cli("key", "create", "--tenant", tenant, "--role", role, "-o", "json")))["secret"]
    keys["limited"] = json.loads(_ok(p.cli("key", "create", "--tenant", "alpha", "--role", "predictor",
                                            "--rate-limit", "0.1", "-o", "json")))["secret"]
    _ok(p.cli("model", "register", "alpha/bc", str(trained_model.onnx)))
    _ok(p.cli("deploy", "create", "alpha/bc", "--model", "bc:1"))
    yield World(p, grpc_port, keys)
    p.stop()
    p.kill_everything()


@pytest.fixture(scope="module")
def calls(world: World, trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rows_file = tmp_path_factory.mktemp("rows") / "rows.npy"
    np.save(rows_file, trained_model.x[:5])
    done = subprocess.run([sys.executable, "-c", _CLIENT, world.address, str(rows_file), json.dumps(world.keys)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + world.platform.output()
    return json.loads(done.stdout)


def test_tritonclient_grpc_through_the_gateway_gets_onnx_runtime_answers(calls: dict[str, Any],
                                                                         trained_model: TrainedModel):
    session = ort.InferenceSession(str(trained_model.onnx), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"], {"input": trained_model.x[:5]})
    status, got = calls["infer"]
    assert status == "OK" and got["id"] == "g-1" and got["label"] == label.tolist()
    assert np.allclose(np.array(got["probabilities"]), probabilities, atol=1e-6)
    assert calls["infer_no_id"][0] == "OK" and len(calls["infer_no_id"][1]["id"]) == 32  # generated
    assert calls["platform_key"] == ["OK", label.tolist()]
    assert calls["live"] == ["OK", True] and calls["ready"] == ["OK", True]  # no key needed, as over HTTP
    assert calls["model_ready"] == ["OK", True] and calls["model_metadata"] == ["OK", ["input"]]
    assert calls["metadata"] == ["OK", ["binary_tensor_data", "model_repository"]]


@pytest.mark.parametrize("case, code, says", [
    ("no_key", "UNAUTHENTICATED", "no API key was sent; send the metadata 'authorization: Bearer <key>'."),
    ("metadata_no_key", "UNAUTHENTICATED", "no API key was sent"),
    ("bad_key", "UNAUTHENTICATED", "the API key is unknown, revoked or expired"),
    ("wrong_role", "PERMISSION_DENIED", "role 'deployer' may not call the data plane; use a predictor key."),
    # Another tenant's deployment does not exist for a key, exactly as over HTTP (404).
    ("other_tenant", "NOT_FOUND", "model 'bc' is not deployed in tenant 'beta'."),
    ("unknown_model", "NOT_FOUND", "model 'nope' is not deployed in tenant 'alpha'."),
    ("wrong_version", "NOT_FOUND", "model 'bc' is not deployed in tenant 'alpha'."),
    ("platform_key_no_tenant", "INVALID_ARGUMENT", "a platform key must name the tenant with the x-aiplane-tenant"),
])
def test_refusals_carry_the_grpc_code_and_one_sentence(calls: dict[str, Any], case: str, code: str, says: str):
    status, message = calls[case]
    assert status == f"StatusCode.{code}" and message.startswith(says) and message.endswith(".")


def test_the_audit_trail_holds_the_grpc_prediction_and_verifies(world: World, calls: dict[str, Any]):
    with world.platform.http(world.platform.admin_key) as client:
        events = client.get("/api/v1/audit", params={"limit": 100, "order": "desc"}).json()
    predictions = {e["request_id"]: e for e in events if e["action"] == "predict"}
    event = predictions["g-1"]
    assert event["status"] == 200 and event["tenant"] == "alpha" and event["deployment"] == "bc"
    assert event["decision"].startswith("label=")
    assert calls["infer_no_id"][1]["id"] in predictions  # the replica's generated id is the request id
    body, answer = (base64.b64decode(b) for b in calls["raw"])
    key = (world.platform.data_dir / "audit" / "hmac.key").read_bytes()
    raw = predictions["raw-1"]
    assert raw["input_hmac"] == hmac.digest(key, body, "sha256").hex()
    assert raw["output_hmac"] == hmac.digest(key, answer, "sha256").hex()
    assert raw["input_hmac"] != hashlib.sha256(body).hexdigest()  # keyed, not a plain digest
    assert "OK:" in _ok(world.platform.cli("audit", "verify"))


def test_malformed_bytes_get_invalid_argument_and_the_gateway_keeps_serving(world: World):
    auth = (("authorization", "Bearer " + world.keys["predictor"]),)
    with grpc.insecure_channel(world.address) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        ready = channel.unary_unary("/inference.GRPCInferenceService/ModelReady")
        cases = {
            "garbage": b"\xff\xff\xff\xff",
            "truncated": b"\x0a\x05bc",  # a name that claims five bytes and has two
            "no model name": b"\x1a\x02id",
            "bad tensor inside": b"\x0a\x02bc\x2a\x03\xff\xff\xff",  # field 5 (inputs) is not a message
        }
        for label, body in cases.items():
            with pytest.raises(grpc.RpcError) as caught:
                infer(body, metadata=auth)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, label
            assert caught.value.details().endswith("."), label
        assert ready(b"\x0a\x02bc", metadata=auth) == b"\x08\x01"  # ModelReadyResponse(ready=true)
    assert world.platform.proc is not None and world.platform.proc.poll() is None


def test_a_key_over_its_rate_limit_gets_resource_exhausted_with_retry_after(world: World):
    auth = (("authorization", "Bearer " + world.keys["limited"]),)
    with grpc.insecure_channel(world.address) as channel:
        ready = channel.unary_unary("/inference.GRPCInferenceService/ModelReady")
        assert ready(b"\x0a\x02bc", metadata=auth) == b"\x08\x01"  # the burst: one call
        with pytest.raises(grpc.RpcError) as caught:
            ready(b"\x0a\x02bc", metadata=auth)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "is over its rate limit of 0.1 requests per second" in caught.value.details()
    assert int(dict(caught.value.trailing_metadata())["retry-after"]) >= 1


def _limited_key(world: World) -> str:
    """A predictor key allowed one request per 100 s: its burst is one request, then none for long."""
    return json.loads(_ok(world.platform.cli("key", "create", "--tenant", "alpha", "--role", "predictor",
                                             "--rate-limit", "0.01", "-o", "json")))["secret"]


@pytest.mark.parametrize("first", ["http", "grpc"])
def test_http_and_grpc_draw_on_one_rate_budget(world: World, trained_model: TrainedModel, first: str):
    key = _limited_key(world)
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                        "data": trained_model.x[:1].ravel().tolist()}]}

    def over_http() -> int:
        with world.platform.http(key) as client:
            return client.post("/v2/models/bc/infer", json=body).status_code

    def over_grpc() -> str:
        with grpc.insecure_channel(world.address) as channel:
            try:
                channel.unary_unary("/inference.GRPCInferenceService/ModelReady")(
                    b"\x0a\x02bc", metadata=(("authorization", "Bearer " + key),))
                return "OK"
            except grpc.RpcError as exc:
                return exc.code().name

    if first == "http":
        assert (over_http(), over_grpc()) == (200, "RESOURCE_EXHAUSTED")
    else:
        assert (over_grpc(), over_http()) == ("OK", 429)


def test_a_grpc_prediction_whose_audit_event_cannot_be_written_is_unavailable(world: World,
                                                                              calls: dict[str, Any]):
    import sqlite3

    body = base64.b64decode(calls["raw"][0])  # a ModelInfer request as tritonclient serialized it
    infer = (("authorization", "Bearer " + world.keys["predictor"]),)
    db = sqlite3.connect(world.platform.data_dir / "aiplane.db", isolation_level=None, timeout=30)
    db.execute("BEGIN EXCLUSIVE")  # the audit writer cannot commit: the event never becomes durable
    try:
        with grpc.insecure_channel(world.address) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(body, metadata=infer, timeout=60)
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "withheld" in caught.value.details()
    with grpc.insecure_channel(world.address) as channel:  # and served again once the store is free
        assert channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(body, metadata=infer, timeout=60)

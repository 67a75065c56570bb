"""The audit trail through a real `aiplane up`: predictions and control actions recorded,
scoped reading, exports that verify offline, tampered exports caught, proofs that check out
with an independent implementation, payload logging with crypto-shredding, fail-closed 503."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import sqlite3
import struct
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests import independent_merkle as ref
from tests.conftest import Platform, TrainedModel, run_cli

pytestmark = pytest.mark.serial


class World:
    def __init__(self, platform: Platform, model: TrainedModel) -> None:
        self.platform, self.model = platform, model
        self.keys: dict[tuple[str, str], str] = {}

    def body(self, rows: int = 1, request_id: str | None = None) -> dict[str, Any]:
        x = self.model.x[:rows]
        doc: dict[str, Any] = {"inputs": [{"name": "input", "shape": [rows, 30], "datatype": "FP32",
                                           "data": x.ravel().tolist()}]}
        if request_id:
            doc["id"] = request_id
        return doc

    def infer(self, tenant: str = "alpha", name: str = "bc", **kw: Any) -> httpx.Response:
        with self.platform.http(self.keys[(tenant, "predictor")]) as client:
            return client.post(f"/v2/models/{name}/infer", json=self.body(**kw))

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        with self.platform.http(token or self.platform.admin_key) as client:
            return client.get("/api/v1" + path, params=params)


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[World]:
    p = Platform(tmp_path_factory.mktemp("audit") / "data", {"AIPLANE_AUDIT_COMMIT_TIMEOUT_S": "2",
                                                               "AIPLANE_AUDIT_CHECKPOINT_INTERVAL_S": "0.5",
                                                               "AIPLANE_AUDIT_UNAUTHENTICATED_WINDOW_S": "0.5",
                                                               "AIPLANE_AUDIT_MAX_PENDING": "2"})
    p.start()
    w = World(p, trained_model)
    for tenant in ("alpha", "beta"):
        _ok(p.cli("tenant", "create", tenant, "--cpus", "4", "--memory", "8Gi"))
        for role in ("predictor", "auditor", "tenant-admin"):
            w.keys[(tenant, role)] = json.loads(_ok(p.cli("key", "create", "--tenant", tenant, "--role", role,
                                                          "-o", "json")))["secret"]
    _ok(p.cli("model", "register", "alpha/bc", str(trained_model.onnx)))
    _ok(p.cli("deploy", "create", "alpha/bc", "--model", "bc:1"))
    _ok(p.cli("model", "register", "beta/other", str(trained_model.onnx)))
    _ok(p.cli("deploy", "create", "beta/other", "--model", "other:1", "--payload-logging"))
    yield w
    p.stop()
    p.kill_everything()


def _event(world: World, audit_id: str) -> dict[str, Any]:
    events = world.get("/audit", limit=50, order="desc").json()
    return next(e for e in events if e["audit_id"] == audit_id)


def _wait_signed(world: World, audit_id: str) -> dict[str, Any]:
    for _ in range(100):
        response = world.get(f"/audit/events/{audit_id}/proof")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.1)
    raise AssertionError(response.text)


def test_a_prediction_is_answered_with_its_request_id_and_leaves_a_pseudonymous_event(world: World):
    request = world.body(rows=1, request_id="req-42")
    with world.platform.http(world.keys[("alpha", "predictor")]) as client:
        response = client.post("/v2/models/bc/infer", json=request)
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
    assert response.json()["id"] == "req-42"
    event = _event(world, response.headers["x-aiplane-audit-id"])
    label = world.model.estimator.predict(world.model.x[:1])[0]
    assert event["action"] == "predict" and event["tenant"] == "alpha" and event["deployment"] == "bc"
    assert event["model"] == "bc" and event["model_version"] == "1"
    assert event["artifact_digest"] == "sha256:" + hashlib.sha256(world.model.onnx.read_bytes()).hexdigest()
    assert event["request_id"] == "req-42" and event["decision"] == f"label={label}"
    assert event["status"] == 200 and event["outcome"] == "success" and event["latency_ms"] > 0
    assert event["actor"] == world.keys[("alpha", "predictor")].split("_")[1] and event["role"] == "predictor"
    assert event["source_ip"] == "127.0.0.1" and event["stage"] == "ResponseComplete"
    # A keyed HMAC, not a plain hash: the digest of the body does not reveal or match it.
    assert len(event["input_hmac"]) == 64 and event["input_hmac"] != hashlib.sha256(response.request.content).hexdigest()
    assert len(event["output_hmac"]) == 64 and event["output_hmac"] != hashlib.sha256(response.content).hexdigest()
    generated = world.infer()
    assert generated.status_code == 200 and generated.headers["x-request-id"]
    assert _event(world, generated.headers["x-aiplane-audit-id"])["request_id"] == generated.headers["x-request-id"]


def test_a_failed_prediction_is_audited_too(world: World):
    with world.platform.http(world.keys[("alpha", "predictor")]) as client:
        response = client.post("/v2/models/bc/infer", json={"inputs": [{"name": "nope", "shape": [1], "datatype": "FP32", "data": [1]}]})
    assert response.status_code == 400
    event = _event(world, response.headers["x-aiplane-audit-id"])
    assert event["status"] == 400 and event["outcome"] == "failure" and event["request_id"] == response.headers["x-request-id"]


def test_control_actions_are_audited_with_actor_tenant_and_outcome(world: World):
    admin_id = world.platform.admin_key.split("_")[1]
    events = world.get("/audit", limit=100).json()
    actions = [(e["action"], e["tenant"], e["status"]) for e in events if e["action"] != "predict"]
    assert ("tenant.create", None, 201) in actions
    assert ("key.create", "alpha", 201) in actions and ("model.register", "alpha", 201) in actions
    assert ("deployment.create", "beta", 201) in actions
    assert all(e["actor"] == admin_id for e in events if e["action"] == "tenant.create")
    with world.platform.http(world.keys[("beta", "tenant-admin")]) as client:
        denied = client.post("/api/v1/tenants", json={"name": "x"})
    assert denied.status_code == 403
    event = _event(world, denied.headers["x-aiplane-audit-id"])
    assert event["action"] == "tenant.create" and event["outcome"] == "failure" and event["tenant"] == "beta"


def test_a_control_change_is_recorded_before_it_is_made_and_after(world: World):
    with world.platform.http(world.platform.admin_key) as client:
        response = client.post("/api/v1/tenants", json={"name": "gamma"})
    assert response.status_code == 201
    request_id = response.headers["x-request-id"]
    events = [e for e in world.get("/audit", limit=50, order="desc").json() if e["request_id"] == request_id]
    received, completed = sorted(events, key=lambda e: e["seq"])
    assert received["audit_id"] == request_id and received["stage"] == "RequestReceived"
    assert received["status"] is None and received["outcome"] == "unknown"
    assert completed["audit_id"] == response.headers["x-aiplane-audit-id"] and completed["stage"] == "ResponseComplete"
    assert completed["status"] == 201 and completed["outcome"] == "success"
    for key in ("action", "actor", "tenant", "resource", "received_at"):
        assert received[key] == completed[key], key
    assert received["action"] == "tenant.create"


@pytest.mark.parametrize("key, status", [(("alpha", "predictor"), 403), (("beta", "tenant-admin"), 403)])
def test_a_control_call_the_guard_refuses_leaves_only_its_outcome(world: World, key: tuple[str, str], status: int):
    """(A call without a valid key is counted instead: tests/e2e/test_audit_flood.py.)"""
    headers = {"Authorization": f"Bearer {world.keys[key]}"}
    with httpx.Client(base_url=world.platform.url, headers=headers) as client:
        refused = client.post("/api/v1/tenants", json={"name": "nobody"})
    assert refused.status_code == status
    events = [e for e in world.get("/audit", limit=50, order="desc").json()
              if e["request_id"] == refused.headers["x-request-id"]]
    assert [(e["stage"], e["status"], e["audit_id"]) for e in events] == [
        ("ResponseComplete", status, refused.headers["x-aiplane-audit-id"])]


def test_when_the_audit_log_cannot_be_written_a_control_change_is_not_made(world: World):
    db = sqlite3.connect(world.platform.data_dir / "aiplane.db", isolation_level=None, timeout=30)
    db.execute("BEGIN EXCLUSIVE")  # the audit writer cannot commit the request's first event
    try:
        with world.platform.http(world.platform.admin_key) as client:
            response = client.post("/api/v1/tenants", json={"name": "never"})
        assert response.status_code == 503, response.text
        assert "was not made" in response.json()["detail"]
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert world.get("/tenants/never").status_code == 404
    request_id = response.headers["x-request-id"]
    for _ in range(100):  # the writer still commits the request's event once the store is free
        events = [e for e in world.get("/audit", action="tenant.create", limit=50, order="desc").json()
                  if e["request_id"] == request_id]
        if events:
            break
        time.sleep(0.05)
    assert [e["stage"] for e in events] == ["RequestReceived"]  # asked for, never made


def test_tenant_auditors_read_only_their_own_tenant_and_can_filter(world: World):
    world.infer("beta", "other")
    beta = world.keys[("beta", "auditor")]
    events = world.get("/audit", beta, limit=1000).json()
    assert events and {e["tenant"] for e in events} == {"beta"}
    assert world.get("/audit", beta, tenant="alpha").status_code == 403
    assert world.get("/audit", world.keys[("beta", "predictor")]).status_code == 403
    only = world.get("/audit", action="predict", deployment="bc", since="1h").json()
    assert only and all(e["deployment"] == "bc" and e["action"] == "predict" for e in only)
    assert world.get("/audit", since="2999-01-01T00:00:00Z").json() == []
    tail = json.loads(_ok(world.platform.cli("audit", "tail", "--tenant", "alpha", "--action", "predict", "-o", "json")))
    assert tail and all(e["tenant"] == "alpha" for e in tail)


def _export(world: World, tmp_path: Path, name: str, *args: str, token: str | None = None) -> Path:
    out = tmp_path / name
    _ok(world.platform.cli("audit", "export", "--out", str(out), *args, token=token))
    return out


@pytest.fixture(scope="module")
def signed_export(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    for _ in range(3):
        assert world.infer().status_code == 200
    world.platform.cli("audit", "checkpoint")
    folder = tmp_path_factory.mktemp("export")
    key = folder / "audit.pub"
    key.write_text(_ok(world.platform.cli("audit", "public-key")))
    return _export(world, folder, "audit.jsonl"), key


@pytest.fixture
def exported(signed_export: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A fresh copy of the signed export for each test to damage."""
    copy = tmp_path / "audit.jsonl"
    copy.write_bytes(signed_export[0].read_bytes())
    return copy, signed_export[1]


def test_an_export_verifies_offline_with_the_public_key_and_online(world: World, exported: tuple[Path, Path]):
    export, key = exported
    out = _ok(run_cli("audit", "verify", "--file", str(export), "--public-key", str(key)))
    assert out.startswith("OK:")
    assert "OK:" in _ok(world.platform.cli("audit", "verify"))


def _rewrite(path: Path, how: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith('{"seq"'))
    at = first + 4
    if how == "modified":  # in place: the line keeps the exporter's exact layout
        assert '"stage":"' in lines[at]
        lines[at] = lines[at].replace('"stage":"', '"stage":"Not', 1)
    elif how == "deleted":
        del lines[at]
    elif how == "inserted":
        lines.insert(at, lines[at + 2])
    elif how == "reordered":
        lines[at], lines[at + 1] = lines[at + 1], lines[at]
    elif how == "truncated":
        lines = lines[: first + 6]
    path.write_text("".join(lines))


@pytest.mark.parametrize("how,words", [("modified", "modified"), ("deleted", "missing"), ("inserted", "inserted at position 4"),
                                       ("reordered", "swapped"), ("truncated", "truncated")])
def test_a_tampered_export_fails_verification_at_the_first_bad_position(exported: tuple[Path, Path], how: str,
                                                                        words: str):
    export, key = exported
    _rewrite(export, how)
    result = run_cli("audit", "verify", "--file", str(export), "--public-key", str(key))
    assert result.returncode == 1
    assert words in result.stderr and ("first bad position: 4" in result.stderr
                                       or how == "truncated" and "first bad position: 6" in result.stderr), result.stderr


def test_bad_input_to_verify_is_one_clear_line_and_a_non_zero_exit(world: World, exported: tuple[Path, Path],
                                                                   tmp_path: Path):
    export, key = exported
    not_export = tmp_path / "notes.txt"
    not_export.write_text("hello\n")
    result = run_cli("audit", "verify", "--file", str(not_export))
    assert result.returncode == 1 and "is not an aiplane audit export" in result.stderr
    other_key = tmp_path / "other.pub"
    from aiplane.crypto.signing import Signer
    other_key.write_bytes(Signer.load_or_create(tmp_path / "other.key").verifier.pem())
    result = run_cli("audit", "verify", "--file", str(export), "--public-key", str(other_key))
    assert result.returncode == 1 and "not by the given public key" in result.stderr
    garbage_key = tmp_path / "garbage.pub"
    garbage_key.write_text("not a key")
    result = run_cli("audit", "verify", "--file", str(export), "--public-key", str(garbage_key))
    assert result.returncode == 1 and "is not a PEM public key" in result.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text(export.read_text().splitlines()[0] + "\n")
    result = run_cli("audit", "verify", "--file", str(empty), "--public-key", str(key))
    assert result.returncode == 1 and "empty" in result.stderr
    assert run_cli("audit", "verify", "--file", str(tmp_path / "missing.jsonl")).returncode == 1
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_text(export.read_text().replace('{"seq":2,', '{"seq": 2,', 1))
    spaced_result = run_cli("audit", "verify", "--file", str(spaced), "--public-key", str(key))
    assert spaced_result.returncode == 1 and "is not an export record" in spaced_result.stderr
    for result in (run_cli("audit", "verify", "--file", str(not_export)), spaced_result):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_tenant_export_shows_only_its_events_yet_verifies_whole(world: World, exported: tuple[Path, Path],
                                                                 tmp_path: Path):
    _, key = exported
    export = _export(world, tmp_path, "beta.jsonl", token=world.keys[("beta", "auditor")])
    entries = [json.loads(line) for line in export.read_text().splitlines()[1:] if line.startswith('{"seq"')]
    shown = [e["entry"] for e in entries if e["entry"] is not None]  # each entry is embedded as a JSON object
    assert shown and {e["tenant"] for e in shown} == {"beta"} and len(shown) < len(entries)
    assert _ok(run_cli("audit", "verify", "--file", str(export), "--public-key", str(key))).startswith("OK:")
    csv_out = _export(world, tmp_path, "beta.csv", "--format", "csv", token=world.keys[("beta", "auditor")])
    rows = csv_out.read_text().splitlines()
    assert rows[0].startswith("seq,audit_id,") and len(rows) == len(shown) + 1 and all(",beta," in r for r in rows[1:])


def test_inclusion_and_consistency_proofs_check_out_with_an_independent_implementation(world: World):
    first = world.infer()
    proof = _wait_signed(world, first.headers["x-aiplane-audit-id"])
    leaf = ref.leaf(proof["entry"].encode())
    assert leaf.hex() == proof["leaf_hash"]
    path = [bytes.fromhex(p) for p in proof["proof"]]
    assert ref.root_from_inclusion(proof["seq"], proof["tree_size"], leaf, path).hex() == proof["root"]
    assert f"root {proof['root']}" in proof["checkpoint"]
    second = world.infer()
    later = _wait_signed(world, second.headers["x-aiplane-audit-id"])
    doc = world.get("/audit/consistency", first=proof["tree_size"], second=later["tree_size"]).json()
    implied = ref.roots_from_consistency(doc["first"]["size"], doc["second"]["size"], bytes.fromhex(doc["first"]["root"]),
                                         [bytes.fromhex(p) for p in doc["proof"]])
    assert (implied[0].hex(), implied[1].hex()) == (proof["root"], later["root"])
    hidden = world.get(f"/audit/events/{first.headers['x-aiplane-audit-id']}/proof", world.keys[("beta", "auditor")])
    assert hidden.status_code == 404


def test_payload_logging_keeps_payloads_encrypted_until_the_tenant_key_is_erased(world: World):
    response = world.infer("beta", "other")
    audit_id = response.headers["x-aiplane-audit-id"]
    payload = world.get(f"/audit/events/{audit_id}/payload", world.keys[("beta", "auditor")]).json()
    assert json.loads(base64.b64decode(payload["input"])) == world.body()
    assert base64.b64decode(payload["output"]) == response.content
    assert _event(world, audit_id)["level"] == "RequestResponse"
    plain = world.infer()  # alpha/bc logs no payload
    assert world.get(f"/audit/events/{plain.headers['x-aiplane-audit-id']}/payload").status_code == 404
    db = sqlite3.connect(world.platform.data_dir / "aiplane.db")
    assert not any(b"FP32" in bytes(row[0]) for row in db.execute("SELECT payload FROM audit_log WHERE payload IS NOT NULL"))
    db.close()
    out = _ok(world.platform.cli("tenant", "erase-payloads", "beta"))
    assert "1 data key(s) destroyed" in out
    assert world.get(f"/audit/events/{audit_id}/payload").json()["erased"] is True
    world.platform.cli("audit", "checkpoint")
    assert "OK:" in _ok(world.platform.cli("audit", "verify"))
    again = world.infer("beta", "other")  # a new data key; new payloads are readable
    assert world.get(f"/audit/events/{again.headers['x-aiplane-audit-id']}/payload").json()["erased"] is False


def test_when_the_audit_log_cannot_be_written_predictions_fail_closed_with_503(world: World):
    db = sqlite3.connect(world.platform.data_dir / "aiplane.db", isolation_level=None, timeout=30)
    db.execute("BEGIN EXCLUSIVE")  # nobody else may write: the audit writer waits, the gateway gives up
    try:
        response = world.infer()
        assert response.status_code == 503, response.text
        assert "withheld" in response.json()["error"] and "outputs" not in response.text
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert world.infer().status_code == 200


def _writer_pid(world: World) -> int:
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"audit-writer" in cmdline and str(world.platform.data_dir).encode() in b" ".join(cmdline):
            return int(proc.name)
    raise AssertionError("no audit writer process found for this platform")


def test_with_too_many_events_waiting_new_predictions_are_refused_at_once(world: World):
    """AIPLANE_AUDIT_MAX_PENDING is 2 here: two predictions wait for a writer that cannot commit
    (they fail after the commit timeout but stay queued, and are written later); the third is
    refused without being queued, so it never reaches the log."""
    db = sqlite3.connect(world.platform.data_dir / "aiplane.db", isolation_level=None, timeout=30)
    db.execute("BEGIN EXCLUSIVE")
    try:
        answers = [world.infer(request_id=f"pending-{i}") for i in range(3)]
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert [r.status_code for r in answers] == [503, 503, 503]
    assert all("withheld" in r.json()["error"] and "outputs" not in r.text for r in answers)
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers)
    deadline = time.monotonic() + 30  # the queued events are written once the store is free
    while True:
        logged = {e["request_id"] for e in world.get("/audit", action="predict", limit=50, order="desc").json()}
        if {"pending-0", "pending-1"} <= logged:
            break
        assert time.monotonic() < deadline, "the queued events were not written after the store was freed"
        time.sleep(0.1)
    assert "pending-2" not in logged  # refused at once: never queued, never written
    assert world.infer().status_code == 200


def _replica_of(world: World, name: str) -> int | None:
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve-model" in cmdline and name.encode() in cmdline and \
                str(world.platform.data_dir).encode() in b" ".join(cmdline):
            return int(proc.name)
    return None


class _HeldDeployment:
    """A deployment being created whose only replica is stopped (SIGSTOP) as soon as it starts,
    so the create call waits, for as long as the test needs, with no replica ready."""

    def __init__(self, world: World, name: str) -> None:
        import threading

        self.world, self.name, self.response = world, name, None
        self.thread = threading.Thread(target=self._create)
        self.thread.start()
        deadline = time.monotonic() + 60
        while (pid := _replica_of(world, name)) is None:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the replica never started"
            time.sleep(0.005)
        os.kill(pid, signal.SIGSTOP)
        self.pid = pid

    def _create(self) -> None:
        with self.world.platform.http(self.world.platform.admin_key) as client:
            self.response = client.post("/api/v1/tenants/alpha/deployments", json={"name": self.name, "model": "bc:1"})

    def release(self) -> httpx.Response:
        os.kill(self.pid, signal.SIGCONT)
        self.thread.join(120)
        assert self.response is not None
        return self.response


def test_ready_is_503_with_retry_after_while_no_replica_is_ready(world: World):
    held = _HeldDeployment(world, "waiting")
    try:
        with world.platform.http(world.keys[("alpha", "predictor")]) as client:
            not_ready = client.get("/v2/models/waiting/ready")
            assert not_ready.status_code == 503, not_ready.text
            assert int(not_ready.headers["retry-after"]) >= 1 and not_ready.json()["error"]
    finally:
        created = held.release()
    assert created.status_code == 201, created.text
    with world.platform.http(world.keys[("alpha", "predictor")]) as client:
        assert client.get("/v2/models/waiting/ready").status_code == 200


def test_a_control_change_whose_outcome_cannot_be_recorded_is_503_saying_it_was_made(world: World):
    held = _HeldDeployment(world, "unrecorded")  # its RequestReceived event is durable: the call is running
    writer = _writer_pid(world)
    os.kill(writer, signal.SIGSTOP)  # nothing more becomes durable, the ResponseComplete event included
    try:
        response = held.release()
    finally:
        os.kill(writer, signal.SIGCONT)
    assert response.status_code == 503, response.text
    assert "was made" in response.json()["detail"] and "not made" not in response.json()["detail"]
    assert world.get("/tenants/alpha/deployments/unrecorded").status_code == 200  # and it was
    request_id = response.headers["x-request-id"]
    events = [e for e in world.get("/audit", action="deployment.create", limit=50, order="desc").json()
              if e["request_id"] == request_id]
    assert "RequestReceived" in [e["stage"] for e in events]  # the log holds the request
    with world.platform.http(world.platform.admin_key) as client:
        assert client.delete("/api/v1/tenants/alpha/deployments/unrecorded").status_code in (200, 204)
        assert client.delete("/api/v1/tenants/alpha/deployments/waiting").status_code in (200, 204)


def test_keys_and_sockets_have_their_documented_modes(world: World):
    data = world.platform.data_dir
    mode = lambda p: oct(p.stat().st_mode & 0o777)  # noqa: E731
    assert mode(data) == "0o700" and mode(data / "admin.key") == "0o600"
    assert mode(data / "audit") == "0o700" and mode(data / "audit" / "signing.pub") == "0o644"
    for secret in ("signing.key", "hmac.key", "master.key"):
        assert mode(data / "audit" / secret) == "0o600", secret
    assert mode(data / "run" / "audit-writer.sock") == "0o600"
    replica = next((data / "replicas" / "alpha").glob("bc-*/http.sock"))
    assert replica.is_socket() and mode(replica) == "0o600"


def test_a_killed_audit_writer_is_restarted_and_nothing_is_served_unaudited(world: World):
    before = _writer_pid(world)
    os.kill(before, signal.SIGKILL)
    answers = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = world.infer()
        assert response.status_code in (200, 503), response.text  # 503 while the writer restarts
        answers.append(response)
        if response.status_code == 200 and len(answers) > 1:
            break
        time.sleep(0.05)
    assert answers[-1].status_code == 200, "predictions did not resume after the writer was killed"
    assert _writer_pid(world) != before
    logged = {e["audit_id"] for e in world.get("/audit", limit=200, order="desc").json()}
    for response in answers:
        if response.status_code == 200:
            assert response.headers["x-aiplane-audit-id"] in logged
        else:
            assert "outputs" not in response.text  # withheld
    assert _ok(run_cli("audit", "verify", url=world.platform.url, token=world.platform.admin_key)).startswith("OK")


def test_a_malformed_frame_to_the_audit_writer_closes_only_that_connection(world: World):
    path = world.platform.data_dir / "run" / "audit-writer.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as rogue:
        rogue.connect(str(path))
        rogue.sendall(struct.pack(">II", 5, 0xFFFF_FFFF) + b"nope!")
        rogue.settimeout(10)
        assert rogue.recv(64) == b""  # closed, nothing acknowledged
    assert world.infer().status_code == 200
    assert _ok(run_cli("audit", "verify", url=world.platform.url, token=world.platform.admin_key)).startswith("OK")


def test_failed_authentications_are_recorded_as_platform_events(world: World):
    with httpx.Client(base_url=world.platform.url) as client:
        refused = client.post("/v2/models/bc/infer", json={}, headers={"Authorization": "Bearer aip_0123456789ab_" + "0" * 48})
    assert refused.status_code == 401
    for _ in range(50):  # refusals are queued, not awaited
        events = world.get("/audit", action="authenticate", order="desc", limit=20).json()
        if any(e["resource"] == "data-plane/keys/0123456789ab" for e in events):
            break
        time.sleep(0.1)
    event = next(e for e in events if e["resource"] == "data-plane/keys/0123456789ab")
    assert event["status"] == 401 and event["tenant"] is None and event["actor"] is None and event["source_ip"]
    assert event["decision"] == "1 request"  # counted per source and window (test_audit_flood.py)
    assert world.get("/audit", world.keys[("beta", "auditor")], action="authenticate").json() == []


def test_retention_is_set_per_tenant_and_pruning_keeps_the_log_verifiable(world: World):
    set_ = json.loads(_ok(world.platform.cli("audit", "retention", "beta", "--days", "30", "-o", "json")))
    assert set_ == {"tenant": "beta", "days": 30}
    pruned = json.loads(_ok(world.platform.cli("audit", "prune", "-o", "json")))
    assert pruned.get("beta") == 0 and pruned.get("alpha") == 0  # nothing is 30 days old yet
    assert world.platform.cli("audit", "prune", token=world.keys[("alpha", "tenant-admin")]).returncode == 1
    world.platform.cli("audit", "checkpoint")
    assert "OK:" in _ok(world.platform.cli("audit", "verify"))

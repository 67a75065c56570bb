"""`aiplane up --workers N`: several gateway processes on one port, one control plane.

Each process names itself in `x-aiplane-worker` on data-plane answers (0 is the main process),
so a keep-alive client can tell which one its connection landed on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import Platform, TrainedModel, pids_alive, postgres_url, reset_postgres, run_cli

pytestmark = pytest.mark.serial


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _body(model: TrainedModel, rows: int = 1) -> dict:
    return {"inputs": [{"name": "input", "shape": [rows, 30], "datatype": "FP32",
                        "data": model.x[:rows].ravel().tolist()}]}


def _worker_pids(p: Platform) -> list[int]:
    assert p.proc is not None
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == p.proc.pid and b"gateway-worker" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def _replica_pids(p: Platform) -> list[int]:
    deployments = json.loads(_ok(p.cli("deploy", "list", "-o", "json")))
    return [r["pid"] for d in deployments for r in d["replica_status"] if r["pid"]]


def _pinned(p: Platform, token: str, worker: str, timeout: float = 60) -> httpx.Client:
    """A keep-alive client whose connection landed on gateway process `worker`, once that
    process knows the key (a worker learns of changes within AIPLANE_STATE_POLL_S)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client = p.http(token)
        # server metadata: an authenticated data-plane answer (a platform key names a tenant)
        answer = client.get("/v2", headers={"x-aiplane-tenant": "alpha"})
        if answer.status_code == 200 and answer.headers.get("x-aiplane-worker") == worker:
            return client
        client.close()
        time.sleep(0.05)
    raise AssertionError(f"no connection landed on gateway process {worker}:\n{p.output()}")


class Cluster:
    def __init__(self, p: Platform, model: TrainedModel, predictor: str) -> None:
        self.p, self.model, self.predictor = p, model, predictor

    def predict_fresh(self, token: str | None = None) -> httpx.Response:
        """One prediction on a new connection (the kernel picks the process)."""
        with self.p.http(token or self.predictor) as client:
            return client.post("/v2/models/bc/infer", json=_body(self.model))


def _deploy(p: Platform, model: TrainedModel) -> str:
    _ok(p.cli("tenant", "create", "alpha", "--cpus", "4", "--memory", "8Gi", "--max-replicas", "2"))
    _ok(p.cli("model", "register", "alpha/bc", str(model.onnx)))
    _ok(p.cli("deploy", "create", "alpha/bc", "--model", "bc:1", "--min-replicas", "2", "--max-replicas", "2"))
    key = json.loads(_ok(p.cli("key", "create", "--tenant", "alpha", "--role", "predictor", "-o", "json")))
    with contextlib.closing(_pinned(p, key["secret"], "1")) as client:  # the worker routes once it has seen the ready replicas
        deadline = time.monotonic() + 30
        while client.post("/v2/models/bc/infer", json=_body(model)).status_code != 200:
            assert time.monotonic() < deadline, "the worker never routed to the ready replicas"
            time.sleep(0.05)
    return str(key["secret"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[Cluster]:
    p = Platform(tmp_path_factory.mktemp("workers") / "data", {"AIPLANE_WORKERS": "2"}).start()
    try:
        yield Cluster(p, trained_model, _deploy(p, trained_model))
    finally:
        p.stop()
        p.kill_everything()


@pytest.mark.parametrize("count", ["0", "-2"])
def test_fewer_than_one_worker_is_refused_in_one_sentence(tmp_path: Path, count: str):
    result = run_cli("up", "--workers", count, "--data-dir", str(tmp_path / "data"), "--port", "1")
    assert result.returncode == 1
    lines = (result.stderr + result.stdout).strip().splitlines()
    assert len(lines) == 1 and f"--workers (AIPLANE_WORKERS) is {count}" in lines[0] and "1" in lines[0]


def test_predictions_are_served_by_every_gateway_process(cluster: Cluster):
    expected = cluster.model.estimator.predict(cluster.model.x[:1]).tolist()
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while seen != {"0", "1"} and time.monotonic() < deadline:
        answer = cluster.predict_fresh()
        assert answer.status_code == 200, answer.text
        labels = next(o for o in answer.json()["outputs"] if o["name"] == "label")["data"]
        assert labels == expected
        seen.add(answer.headers["x-aiplane-worker"])
    assert seen == {"0", "1"}, f"only gateway processes {seen} answered"
    assert len(_worker_pids(cluster.p)) == 1


def test_the_control_api_answers_the_same_through_every_process(cluster: Cluster, tmp_path: Path):
    admin = cluster.p.admin_key
    for worker in ("0", "1"):
        with contextlib.closing(_pinned(cluster.p, admin, worker)) as client:
            made = client.post("/api/v1/tenants", json={"name": f"team{worker}"})
            assert made.status_code == 201, made.text
            assert {t["name"] for t in client.get("/api/v1/tenants").json()} >= {"alpha", f"team{worker}"}
            assert client.get("/api/v1/tenants/nope").json()["status"] == 404
            assert client.get("/api/v1/tenants", headers={"Authorization": ""}).status_code == 401
            assert client.get("/openapi.json").json()["info"]["title"] == "aiplane"
            assert "swagger" in client.get("/docs").text.lower()
            assert "aiplane_gateway_processes 2.0" in client.get("/metrics").text
            # a body over the relay's replay limit streams through and is judged by the main process
            big = client.post("/api/v1/tenants", content=b"{" + b" " * (2 << 20) + b"}",
                              headers={"content-type": "application/json"})
            assert big.status_code == 400 and big.headers["content-type"] == "application/problem+json"
            # a chunked answer (the export streams) arrives whole
            export = client.get("/api/v1/audit/export")
            assert export.status_code == 200 and export.text.count("\n") >= 2
            events = client.get("/api/v1/audit", params={"action": "tenant.create"}).json()
            [event] = [e for e in events if e["audit_id"] == made.headers["x-aiplane-audit-id"]]
            assert event["source_ip"] == "127.0.0.1" and event["status"] == 201  # the client's, not the relay's


def test_a_key_revoked_through_one_process_is_refused_by_all(cluster: Cluster):
    key = json.loads(_ok(cluster.p.cli("key", "create", "--tenant", "alpha", "--role", "predictor", "-o", "json")))
    clients = {w: _pinned(cluster.p, key["secret"], w) for w in ("0", "1")}
    admin = _pinned(cluster.p, cluster.p.admin_key, "1")
    try:
        body = _body(cluster.model)
        assert all(c.post("/v2/models/bc/infer", json=body).status_code == 200 for c in clients.values())
        assert admin.delete(f"/api/v1/keys/{key['key_id']}").status_code in (200, 204)
        revoked = time.monotonic()
        refused: dict[str, float] = {}
        while len(refused) < 2 and time.monotonic() - revoked < 30:
            for worker, client in clients.items():
                if worker not in refused and client.post("/v2/models/bc/infer", json=body).status_code == 401:
                    refused[worker] = time.monotonic() - revoked
            time.sleep(0.05)
        assert set(refused) == {"0", "1"}, f"the revoked key still works on processes other than {set(refused)}"
        print(f"revocation took effect after {refused} s")
    finally:
        for c in [*clients.values(), admin]:
            c.close()


def test_audit_chain_verifies_after_concurrent_predictions_through_both_processes(cluster: Cluster):
    answers = _concurrent_predictions(cluster, 160)
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["x-aiplane-worker"] for a in answers} == {"0", "1"}
    _assert_chain_holds(cluster.p, {a.headers["x-aiplane-audit-id"] for a in answers})


def test_each_gateway_process_holds_its_share_of_a_key_rate_limit(cluster: Cluster):
    """2 requests per second over 2 processes: 1 per second each (burst 1), so two back to back on
    one process are one answer and one 429, on either process; one process alone would take both."""
    key = json.loads(_ok(cluster.p.cli("key", "create", "--tenant", "alpha", "--role", "predictor",
                                       "--rate-limit", "2", "-o", "json")))["secret"]
    for worker in ("0", "1"):
        with contextlib.closing(_pinned(cluster.p, key, worker)) as client:
            answers = [client.post("/v2/models/bc/infer", json=_body(cluster.model)) for _ in range(2)]
        assert answers[0].headers["x-aiplane-worker"] == worker  # one connection: one process
        assert [a.status_code for a in answers] == [200, 429], [a.text for a in answers]
        assert "rate limit of 2 requests per second" in answers[1].json()["error"]


def test_a_worker_killed_with_sigkill_is_replaced_and_predictions_continue(cluster: Cluster):
    [victim] = _worker_pids(cluster.p)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pids_alive([victim]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pids_alive([victim])
    for _ in range(10):  # served meanwhile by the main process
        assert cluster.predict_fresh().status_code == 200
    seen = set()
    deadline = time.monotonic() + 60
    while "1" not in seen and time.monotonic() < deadline:
        answer = cluster.predict_fresh()
        assert answer.status_code == 200, answer.text
        seen.add(answer.headers["x-aiplane-worker"])
    assert "1" in seen, "the replacement worker never answered"
    [replacement] = _worker_pids(cluster.p)
    assert replacement != victim
    metrics = httpx.get(cluster.p.url + "/metrics").text
    assert "aiplane_gateway_worker_restarts 1.0" in metrics


def test_sigterm_stops_every_worker_and_replica(cluster: Cluster):
    pids = _worker_pids(cluster.p) + _replica_pids(cluster.p)
    assert len(pids) == 3
    assert cluster.p.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert not pids_alive(pids), "workers or replicas outlived aiplane up after SIGTERM"


def test_ctrl_c_stops_every_worker_and_a_hard_kill_leaves_no_orphan(platform_factory):
    p = platform_factory(env={"AIPLANE_WORKERS": "3"}).start()
    workers = _wait_for_workers(p, 2)
    assert p.stop(signal.SIGINT) in (0, -signal.SIGINT)
    assert not pids_alive(workers), "workers outlived aiplane up after Ctrl-C"
    again = platform_factory(env={"AIPLANE_WORKERS": "2"}, data_dir=p.data_dir).start()
    workers = _wait_for_workers(again, 1)
    assert again.proc is not None
    os.kill(again.proc.pid, signal.SIGKILL)  # no chance to stop them: they must notice and go
    deadline = time.monotonic() + 20
    while pids_alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pids_alive(workers), "a worker outlived aiplane up killed with SIGKILL"


def test_audit_chain_holds_with_two_workers_on_postgresql(platform_factory, trained_model: TrainedModel):
    url = postgres_url()
    reset_postgres(url)
    p = platform_factory(env={"AIPLANE_WORKERS": "2", "AIPLANE_DATABASE_URL": url}).start()
    cluster = Cluster(p, trained_model, _deploy(p, trained_model))
    answers = _concurrent_predictions(cluster, 120)
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["x-aiplane-worker"] for a in answers} == {"0", "1"}
    _assert_chain_holds(p, {a.headers["x-aiplane-audit-id"] for a in answers})
    p.stop()


def _wait_for_workers(p: Platform, count: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _worker_pids(p)
        if len(pids) == count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"expected {count} gateway workers:\n{p.output()}")


def _concurrent_predictions(cluster: Cluster, count: int) -> list[httpx.Response]:
    _pinned(cluster.p, cluster.predictor, "1").close()  # the worker is up before the burst
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: cluster.predict_fresh(), range(count)))


def _assert_chain_holds(p: Platform, audit_ids: set[str]) -> None:
    verified = p.cli("audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr
    recorded: set[str] = set()
    after = -1
    with p.http(p.admin_key) as client:
        while page := client.get("/api/v1/audit", params={"action": "predict", "after": after}).json():
            recorded |= {e["audit_id"] for e in page}
            after = page[-1]["seq"]
    assert audit_ids <= recorded, f"{len(audit_ids - recorded)} predictions have no audit event"

"""Kill `aiplane up` with SIGKILL under load: every answered prediction has its audit event,
and the log still verifies after the restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Platform, TrainedModel

pytestmark = pytest.mark.serial


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_every_answered_prediction_survives_a_sigkill_in_its_audit_log(platform_factory, trained_model: TrainedModel,
                                                                       tmp_path: Path):
    p: Platform = platform_factory().start()
    _ok(p.cli("tenant", "create", "alpha"))
    _ok(p.cli("model", "register", "alpha/bc", str(trained_model.onnx)))
    _ok(p.cli("deploy", "create", "alpha/bc", "--model", "bc:1"))
    key = json.loads(_ok(p.cli("key", "create", "--tenant", "alpha", "--role", "predictor", "-o", "json")))["secret"]
    row = trained_model.x[:1].ravel().tolist()
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": row}]}
    answered: list[tuple[str, str]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=p.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v2/models/bc/infer", json=body)
                except httpx.HTTPError:
                    continue  # the server is gone; keep trying until told to stop
                if response.status_code == 200:
                    answered.append((response.headers["x-aiplane-audit-id"], response.headers["x-request-id"]))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(answered) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.proc is not None
    os.killpg(p.proc.pid, signal.SIGKILL)  # mid-load, no shutdown, no final checkpoint
    p.proc.wait()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert len(answered) >= 300

    again: Platform = platform_factory(data_dir=p.data_dir).start()
    with again.http(again.admin_key) as http:
        logged: dict[str, str] = {}
        after = -1
        while True:
            page = http.get("/api/v1/audit", params={"action": "predict", "limit": 10000, "after": after}).json()
            logged.update({e["audit_id"]: e["request_id"] for e in page})
            if len(page) < 10000:
                break
            after = page[-1]["seq"]
    missing = [a for a, _ in answered if a not in logged]
    assert not missing, f"{len(missing)} answered predictions have no audit event"
    assert all(logged[a] == r for a, r in answered)
    _ok(again.cli("audit", "checkpoint"))
    assert "OK:" in _ok(again.cli("audit", "verify"))

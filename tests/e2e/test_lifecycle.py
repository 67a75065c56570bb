"""Start, stop and start again: the demo, persistence, clean shutdown, PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.conftest import Platform, TrainedModel, pids_alive, postgres_url, reset_postgres, run_cli

pytestmark = pytest.mark.serial


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _curl_line(p: Platform, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in p.output().splitlines():
            if line.startswith("curl "):
                return line
        time.sleep(0.2)
    raise AssertionError(f"no curl line printed:\n{p.output()}")


def _replica_pids(p: Platform) -> list[int]:
    deployments = json.loads(_ok(p.cli("deploy", "list", "-o", "json")))
    return [r["pid"] for d in deployments for r in d["replica_status"] if r["pid"]]


def _snapshot(p: Platform) -> dict[str, object]:
    listing = {what: json.loads(_ok(p.cli(*args, "-o", "json"))) for what, args in {
        "tenants": ("tenant", "list"), "keys": ("key", "list"), "models": ("model", "list"),
        "deployments": ("deploy", "list")}.items()}
    for d in listing["deployments"]:  # type: ignore[union-attr]
        d.pop("replica_status")
    for k in listing["keys"]:  # type: ignore[union-attr]
        k.pop("last_used_at")  # taking the snapshot uses the admin key: that is recorded, as it should be
    return listing


def test_demo_prints_a_working_curl_line_and_comes_back_after_ctrl_c(platform_factory):
    p = platform_factory(demo=True).start()
    curl = _curl_line(p)
    answer = json.loads(subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30).stdout)
    assert answer["model_name"] == "readmission"
    assert {o["name"] for o in answer["outputs"]} == {"label", "probabilities"}
    tenants = json.loads(_ok(p.cli("tenant", "list", "-o", "json")))
    assert {t["name"]: t["compliance"] for t in tenants} == {"clinical": ["hipaa"], "finance": ["soc2"]}
    pids = _replica_pids(p)
    before = _snapshot(p)
    assert pids and p.stop(signal.SIGINT) in (0, -signal.SIGINT)
    assert not pids_alive(pids), "replicas outlived aiplane up after Ctrl-C"

    again = platform_factory(demo=True, data_dir=p.data_dir)
    again.port = p.port
    again.url = p.url
    again.start()
    assert _curl_line(again) == curl  # same keys, same deployment
    assert _snapshot(again) == before
    answer = json.loads(subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30).stdout)
    assert answer["model_name"] == "readmission"


def _populate(p: Platform, model: TrainedModel) -> str:
    _ok(p.cli("tenant", "create", "team", "--cpus", "2", "--memory", "2Gi", "--compliance", "gdpr"))
    _ok(p.cli("model", "register", "team/bc", str(model.onnx), "--validation", str(model.validation)))
    _ok(p.cli("deploy", "create", "team/bc", "--model", "bc:1"))
    return json.loads(_ok(p.cli("key", "create", "--tenant", "team", "--role", "predictor", "-o", "json")))["secret"]


def _predict(p: Platform, token: str, model: TrainedModel) -> list[int]:
    body = {"inputs": [{"name": "input", "shape": [4, 30], "datatype": "FP32", "data": model.x[:4].ravel().tolist()}]}
    with p.http(token) as client:
        response = client.post("/v2/models/bc/infer", json=body)
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]["data"]


def _restart_keeps_everything(platform_factory, trained_model: TrainedModel, env: dict[str, str]) -> None:
    p = platform_factory(env=env).start()
    token = _populate(p, trained_model)
    expected = trained_model.estimator.predict(trained_model.x[:4]).tolist()
    assert _predict(p, token, trained_model) == expected
    before, pids = _snapshot(p), _replica_pids(p)
    assert p.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert not pids_alive(pids), "replicas outlived aiplane up after SIGTERM"
    again = platform_factory(env=env, data_dir=p.data_dir).start()
    assert _snapshot(again) == before
    assert _predict(again, token, trained_model) == expected


def test_restart_finds_tenants_keys_models_and_deployments_on_sqlite(platform_factory, trained_model):
    _restart_keeps_everything(platform_factory, trained_model, {})


def test_restart_finds_everything_on_postgresql(platform_factory, trained_model):
    url = postgres_url()
    reset_postgres(url)
    _restart_keeps_everything(platform_factory, trained_model, {"AIPLANE_DATABASE_URL": url})


def test_a_second_up_on_the_same_data_dir_is_refused_in_one_line(platform_factory):
    p = platform_factory().start()
    second = run_cli("up", "--port", "1", "--data-dir", str(p.data_dir), timeout=60)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"error: another aiplane is already running on data directory '{p.data_dir}'; stop it first."
    ]


def test_admin_key_file_is_private(platform_factory):
    p = platform_factory().start()
    assert oct((p.data_dir / "admin.key").stat().st_mode & 0o777) == "0o600"
    assert p.admin_key.startswith("aip_")

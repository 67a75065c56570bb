"""Quantize, serve, profile and plan on a real `aiplane up --demo`, through the CLI and the API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import MlpModel, Platform

pytestmark = pytest.mark.serial
TENANT = "clinical"


@dataclass
class World:
    platform: Platform
    mlp: MlpModel

    def ok(self, *args: str) -> str:
        result = self.platform.cli(*args)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))

    def fails(self, *args: str) -> str:
        """The one-line error of a CLI command that must fail."""
        result = self.platform.cli(*args)
        assert result.returncode == 1, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
        return lines[0].removeprefix("error: ")

    def versions(self, model: str) -> list[int]:
        return [v["version"] for v in self.json("model", "list", TENANT) if v["model"] == model]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, mlp_model: MlpModel) -> Iterator[World]:
    platform = Platform(tmp_path_factory.mktemp("quantize") / "data", demo=True).start(timeout=240)
    w = World(platform, mlp_model)
    w.ok("model", "register", f"{TENANT}/mlp", str(mlp_model.onnx), "--validation", str(mlp_model.validation))
    yield w
    platform.stop()
    platform.kill_everything()


@pytest.fixture(scope="module")
def quantized(world: World) -> dict[str, Any]:
    return dict(world.json("model", "quantize", f"{TENANT}/mlp:1"))


def test_quantizing_registers_an_int8_child_with_its_measurements(world: World, quantized: dict[str, Any]):
    assert quantized["version"] == 2 and quantized["parent_version"] == 1 and quantized["has_validation"]
    q = quantized["metrics"]["quantization"]
    assert q["method"] == "dynamic" and q["verified"] is True
    assert q["size_before"] > q["size_after"] == quantized["size_bytes"]
    assert set(q["latency_before"]) == set(q["latency_after"]) == {"1", "32"} and "cores" in q["machine"]
    assert q["gate"].startswith("accuracy ") and quantized["metrics"]["accuracy"] > 0.8
    shown = world.ok("model", "show", f"{TENANT}/mlp:2")
    assert "lineage: 1 (registered) -> 2 (int8, dynamic)" in shown
    assert "derived from it: 2 (int8, dynamic)" in world.ok("model", "show", f"{TENANT}/mlp:1")


def test_the_quantize_report_fits_80_columns(world: World):
    out = world.ok("model", "quantize", f"{TENANT}/mlp:1", "--calibration", str(world.mlp.calibration))
    assert "INT8 (static) from version 1" in out and "x smaller" in out and "gate: accuracy" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_the_int8_version_serves_through_v2_within_the_recorded_tolerance(world: World, quantized: dict[str, Any]):
    for name, version in (("mlp-fp32", "1"), ("mlp-int8", "2")):
        world.ok("deploy", "create", f"{TENANT}/{name}", "--model", f"mlp:{version}", "--cpus", "0.5")
    rows = world.mlp.x[900:932]
    body = {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
    answers = {}
    with world.platform.http(world.platform.admin_key) as client:
        for name in ("mlp-fp32", "mlp-int8"):
            response = client.post(f"/v2/models/{name}/infer", json=body, headers={"X-Aiplane-Tenant": TENANT})
            assert response.status_code == 200, response.text
            answers[name] = {o["name"]: np.array(o["data"]) for o in response.json()["outputs"]}
    tolerance = quantized["metrics"]["quantization"]["agreement"]["tolerance"]
    diff = np.abs(answers["mlp-fp32"]["probabilities"] - answers["mlp-int8"]["probabilities"])
    assert diff.max() <= tolerance
    assert np.mean(answers["mlp-fp32"]["label"] == answers["mlp-int8"]["label"]) >= 0.9


def test_without_validation_data_the_version_is_marked_accuracy_unverified(world: World):
    world.ok("model", "register", f"{TENANT}/bare", str(world.mlp.onnx))
    out = world.ok("model", "quantize", f"{TENANT}/bare:1")
    assert "gate: accuracy unverified: the parent has no validation data" in out
    doc = world.json("model", "show", f"{TENANT}/bare:2")
    assert doc["metrics"]["quantization"]["verified"] is False and "agreement" not in doc["metrics"]["quantization"]


def test_bad_input_is_one_sentence_and_registers_nothing(world: World, quantized: dict[str, Any], tmp_path: Path):
    before = world.versions("mlp")
    assert world.fails("model", "quantize", f"{TENANT}/mlp:2").startswith("the model is already quantized (it has")
    wrong_names, wrong_shape = tmp_path / "names.npz", tmp_path / "shape.npz"
    np.savez(wrong_names, features=world.mlp.x[:10])
    np.savez(wrong_shape, input=world.mlp.x[:10, :8])
    assert world.fails("model", "quantize", f"{TENANT}/mlp:1", "--calibration", str(wrong_names)) == (
        "the calibration file has arrays ['features'] but the model's inputs are ['input']; save one array per "
        "input, named after it (or X for a single input).")
    assert "has shape [10, 8], but the model takes [-1, 16]" in world.fails(
        "model", "quantize", f"{TENANT}/mlp:1", "--calibration", str(wrong_shape))
    world.ok("model", "register", f"{TENANT}/tree", str(world.mlp.tree))
    assert "no MatMul, Gemm or Conv operators" in world.fails("model", "quantize", f"{TENANT}/tree:1")
    assert "is not a fraction" in world.fails("model", "quantize", f"{TENANT}/mlp:1", "--max-accuracy-drop", "2")
    assert world.versions("mlp") == before and world.versions("tree") == [1]
    with world.platform.http(world.platform.admin_key) as client:
        response = client.post(f"/api/v1/tenants/{TENANT}/models/mlp/versions/2/quantize")
    assert response.status_code == 400 and response.json()["detail"].startswith("the model is already quantized")


def test_an_accuracy_drop_over_the_gate_is_refused_saying_by_how_much(world: World, tmp_path: Path):
    before = world.versions("mlp")
    skewed = tmp_path / "skewed.npz"  # activations calibrated 100x too wide: INT8 steps too coarse
    np.savez(skewed, input=world.mlp.x[:200] * 100)
    message = world.fails("model", "quantize", f"{TENANT}/mlp:1", "--calibration", str(skewed))
    assert re.fullmatch(r"the INT8 version's accuracy is 0\.\d{4} against 0\.\d{4} for version 1, a drop of "
                        r"\d+\.\d\d points, \d+\.\d\d over --max-accuracy-drop 1 points; nothing was registered "
                        r"\(give representative --calibration data or allow a larger drop\)\.", message), message
    assert world.versions("mlp") == before


def test_profile_of_the_demo_model_shows_the_advice_and_its_cost(world: World):
    out = world.ok("model", "profile", f"{TENANT}/readmission-risk:1", "--requests-per-day", "1000000",
                   "--p99-ms", "100")
    assert "BATCH" in out and "Advice (on-prem prices, A100-80GB)" in out and "$/M REQUESTS" in out
    assert "- cpu: measured: one core serves" in out and "- gpu: estimated, no GPU on this machine" in out
    assert "advice: cpu" in out and max(len(line) for line in out.splitlines()) <= 80
    doc = world.json("model", "show", f"{TENANT}/readmission-risk:1")
    assert [p["batch"] for p in doc["profile"]["cpu"]] == [1, 2, 4, 8, 16, 32, 64]
    assert doc["profile"]["inputs"] == "validation data" and doc["profile"]["gpu"] is None
    assert "profile: p99" in world.ok("model", "show", f"{TENANT}/readmission-risk:1")
    assert "requests_per_day: -5.0 is negative; use a positive number." == world.fails(
        "model", "profile", f"{TENANT}/readmission-risk:1", "--requests-per-day", "-5")


def test_plan_uses_the_stored_profile_and_follows_a_change_of_it(world: World, tmp_path: Path):
    world.ok("model", "profile", f"{TENANT}/readmission-risk:1")
    portfolio = tmp_path / "portfolio.yaml"
    portfolio.write_text(yaml.safe_dump({"workloads": [
        {"name": "readmission", "model": f"{TENANT}/readmission-risk:1", "industry": "healthcare",
         "latency_p99_ms": 200, "requests_per_day": 1_000_000}]}))
    measured = _plan(world, portfolio)
    profile = world.json("model", "show", f"{TENANT}/readmission-risk:1")["profile"]
    stated = [f"p99 {p['p99_ms']:g} ms at batch {p['batch']}, {p['rows_per_s']:,.0f} rows/s per core" for p in
              profile["cpu"]]
    assert any(s in why for why in measured["inference"]["why"] for s in stated), measured["inference"]["why"]
    # Measured again on a machine doing one row a second: the stored profile changes, and so does the plan.
    slow = {**profile, "machine": "a much slower CPU", "cpu": [{**p, "rows_per_s": 1.0} for p in profile["cpu"]]}
    engine = sa.create_engine(f"sqlite:///{world.platform.data_dir / 'aiplane.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE model_versions SET profile = :p WHERE version = 1 AND model_id = "
                             "(SELECT id FROM models WHERE name = 'readmission-risk')"), {"p": json.dumps(slow)})
    engine.dispose()
    changed = _plan(world, portfolio)
    assert any("a much slower CPU" in why for why in changed["inference"]["why"])
    assert changed["optimized_monthly"] > measured["optimized_monthly"]
    document = yaml.safe_load(portfolio.read_text())
    with world.platform.http(world.platform.admin_key) as client:
        served = client.post("/api/v1/plan", json=document)
        key = client.post("/api/v1/keys", json={"role": "predictor", "tenant": "finance"}).json()["secret"]
    assert served.status_code == 200 and served.json()["workloads"][0]["optimized_monthly"] == \
        changed["optimized_monthly"]
    with world.platform.http(key) as client:  # a key of another tenant may plan, not read clinical's models
        assert client.post("/api/v1/plan", json=document).status_code == 403
    naming_none = tmp_path / "bare.yaml"
    naming_none.write_text(yaml.safe_dump({"workloads": [{"name": "x", "model": f"{TENANT}/mlp:1",
                                                          "requests_per_day": 10}]}))
    result = world.platform.cli("plan", str(naming_none))
    assert result.returncode == 1 and f"'{TENANT}/mlp:1' has no measured profile; run 'aiplane model profile" \
        in result.stderr


def _plan(world: World, portfolio: Path) -> dict[str, Any]:
    doc = json.loads(world.ok("plan", str(portfolio), "--format", "json"))
    return dict(doc["workloads"][0])

"""`aiplane plan` as a user runs it: a real process, no server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

EXAMPLE = str(ROOT / "examples" / "portfolio.yaml")


def _write(tmp_path: Path, text: str, name: str = "portfolio.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_terminal_report_needs_no_server_and_shows_the_totals():
    result = run_cli("plan", EXAMPLE, url="http://127.0.0.1:9")  # nothing listens there
    assert result.returncode == 0, result.stderr
    assert "Infrastructure plan: 4 workloads" in result.stdout
    assert "$125,578" in result.stdout and "GPU pooling (MIG)" in result.stdout
    assert "A100-80GB GPU, cloud" not in result.stdout  # price lines only with --details
    detailed = run_cli("plan", EXAMPLE, "--details")
    assert "A100-80GB GPU, cloud" in detailed.stdout and "Options weighed" in detailed.stdout


def test_each_format_goes_to_stdout_or_to_a_file(tmp_path: Path):
    doc = json.loads(run_cli("plan", EXAMPLE, "--format", "json").stdout)
    assert doc["summary"]["baseline_monthly"] == 125577.97
    assert json.loads(run_cli("plan", EXAMPLE, "--output", "json").stdout) == doc
    for fmt, marker in (("md", "# Infrastructure plan"), ("html", "<!DOCTYPE html>")):
        out = tmp_path / f"plan.{fmt}"
        result = run_cli("plan", EXAMPLE, "--format", fmt, "--out", str(out))
        assert result.returncode == 0 and f"wrote {out}" in result.stdout
        assert out.read_text().startswith(marker)


def test_regenerating_the_readme_chart_gives_the_committed_file():
    result = run_cli("plan", EXAMPLE, "--format", "svg")
    assert result.returncode == 0
    assert result.stdout == (ROOT / "docs" / "img" / "plan-savings.svg").read_text()


def test_a_catalog_file_overrides_the_built_in_prices(tmp_path: Path):
    catalog = _write(tmp_path, "prices:\n  gpus:\n    A100-80GB: {cloud_per_hour: 4.10}\n", "catalog.yaml")
    one = _write(tmp_path, "workloads:\n  - {name: m, training: {gpus: 16}, inference: {gpus: 4}}\n")
    doc = json.loads(run_cli("plan", one, "--catalog", catalog, "--format", "json").stdout)
    assert doc["workloads"][0]["baseline"]["monthly"] == pytest.approx(20 * 730 * 4.10)
    inline = _write(tmp_path, "prices: {gpus: {A100-80GB: {cloud_per_hour: 5}}}\n"
                              "workloads:\n  - {name: m, training: {gpus: 16}, inference: {gpus: 4}}\n", "inline.yaml")
    doc = json.loads(run_cli("plan", inline, "--catalog", catalog, "--format", "json").stdout)
    assert doc["workloads"][0]["baseline"]["monthly"] == pytest.approx(20 * 730 * 5)  # the portfolio's own prices win


def test_bad_input_is_one_line_naming_the_file_and_field(tmp_path: Path):
    cases = {
        "workloads:\n  - {name: a, requests_per_day: 10, colour: red}\n": "workloads[0].colour: is not a known field",
        "workloads:\n  - {name: a, requests_per_day: 10, latency_p99_ms: -5}\n":
            "workloads[0].latency_p99_ms: -5 is negative; use a positive number.",
        "workloads:\n  - {name: a, requests_per_day: 10, gpu_model: V100}\n":
            "workloads[0].gpu_model: 'V100' is not in the price catalog",
        "workloads: [\n": "is not valid YAML at line 2; fix the syntax.",
    }
    for text, message in cases.items():
        path = _write(tmp_path, text)
        result = run_cli("plan", path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
        assert result.stderr.startswith(f"error: {path}: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    missing = run_cli("plan", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "nope.yaml: no such file" in missing.stderr


def test_an_infeasible_workload_is_reported_and_the_exit_code_says_so(tmp_path: Path):
    path = _write(tmp_path, "workloads:\n  - {name: ok, requests_per_day: 1000}\n"
                            "  - {name: fast, industry: manufacturing, latency_p99_ms: 2, requests_per_day: 10}\n")
    result = run_cli("plan", path, "--format", "md")
    assert result.returncode == 1
    assert "## ok" in result.stdout and "Infeasible: workloads[1].latency_p99_ms: 2 ms cannot be met" in result.stdout
    assert result.stderr.startswith(f"infeasible: {path}: workloads[1].latency_p99_ms: 2 ms cannot be met")

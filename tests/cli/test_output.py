"""What the CLI prints for people fits an 80-column terminal: every line, every command, with
list tables one line per row and nested values (metrics) as `key=value`, not Python reprs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.conftest import ROOT, Platform, TrainedModel, run_cli

pytestmark = pytest.mark.serial
NARROW = {"COLUMNS": "80"}


@pytest.fixture(scope="module")
def filled(platform: Platform, trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Platform:
    rows = tmp_path_factory.mktemp("rows") / "rows.npy"
    np.save(rows, trained_model.x[:2])
    for args in (("tenant", "create", "oncology-research", "--cpus", "4", "--memory", "8Gi", "--max-replicas", "4",
                  "--compliance", "hipaa,gdpr", "--cost-center", "CC-7001"),
                 ("model", "register", "oncology-research/tumour-classifier", str(trained_model.pickle),
                  "--validation", str(trained_model.validation)),
                 ("deploy", "create", "oncology-research/tumour-classifier", "--model", "tumour-classifier:1"),
                 ("key", "create", "--tenant", "oncology-research", "--role", "predictor", "--name", "batch-scorer"),
                 ("predict", "oncology-research/tumour-classifier", "--input", str(rows))):
        result = platform.cli(*args)
        assert result.returncode == 0, result.stderr
    return platform


COMMANDS = [
    "tenant list", "tenant show oncology-research", "key list", "model list",
    "model show oncology-research/tumour-classifier:1", "deploy list",
    "deploy status oncology-research/tumour-classifier", "audit tail", "audit verify",
    "deploy update oncology-research/tumour-classifier --target-concurrency 6",
    "tenant set-quota oncology-research --rate-limit 100", f"plan {ROOT / 'examples' / 'portfolio.yaml'} --details",
]


@pytest.fixture(scope="module")
def printed(filled: Platform) -> dict[str, str]:
    """Each command's standard output at COLUMNS=80 (run side by side: they only read, but two)."""
    def run(command: str) -> str:
        result = run_cli(*command.split(" "), url=filled.url, token=filled.admin_key, env_extra=NARROW)
        assert result.returncode == 0, (command, result.stderr)
        return result.stdout

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(COMMANDS, pool.map(run, COMMANDS)))


def test_every_line_of_every_command_fits_80_columns(printed: dict[str, str]):
    for command, out in printed.items():
        lines = out.splitlines()
        assert lines and max(len(line) for line in lines) <= 80, f"{command}:\n{out}"
        assert "{'" not in out and "['" not in out, f"{command}:\n{out}"  # no Python reprs


def test_list_tables_keep_each_row_on_one_line(filled: Platform, printed: dict[str, str]):
    out = printed["key list"]
    for key in json.loads(filled.cli("key", "list", "-o", "json").stdout):
        line = next(line for line in out.splitlines() if line.startswith(key["key_id"]))
        assert key["role"] in line and (key["name"] or "-") in line, out


def test_model_show_reads_as_fields_with_metrics_as_key_value(printed: dict[str, str]):
    out = printed["model show oncology-research/tumour-classifier:1"]
    fields = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"tenant", "model", "version", "digest", "metrics"} <= fields, out
    assert "accuracy=" in out and "validation_samples=100" in out, out

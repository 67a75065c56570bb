"""Wrong input to the CLI, against a real `aiplane up`: every case ends with a non-zero exit
code and one line on stderr that names the problem, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.conftest import Platform, TrainedModel, free_port, run_cli

pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Path:
    d = tmp_path_factory.mktemp("wrong-inputs")
    np.savez(d / "rows.npz", X=trained_model.x[:2])
    np.savez(d / "five-features.npz", X=trained_model.x[:10, :5], y=np.zeros(10))
    np.savez(d / "text-features.npz", X=np.array([["a"] * 30]))
    np.save(d / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "words.npy", np.array(["a", "b"]))
    np.save(d / "nan.npy", np.full((1, 30), np.nan, dtype=np.float32))
    (d / "text.npy").write_text("1,2,3\n")
    (d / "not-a-pickle.pkl").write_bytes(b"not a pickle")
    (d / "binary.yaml").write_bytes(bytes(range(256)))
    (d / "a-directory").mkdir()
    return d


@pytest.fixture(scope="module")
def deployed(platform: Platform, trained_model: TrainedModel) -> Iterator[Platform]:
    for args in (("tenant", "create", "t1"), ("model", "register", "t1/bc", str(trained_model.onnx)),
                 ("deploy", "create", "t1/bc", "--model", "bc:1")):
        result = platform.cli(*args)
        assert result.returncode == 0, result.stderr
    yield platform


CASES = [
    # (arguments, with {d} for the folder of wrong files and {model}/{pickle} for good ones; what the line names)
    ("predict t1/bc --input {d}/rows.npz", "is a .npz archive, not one array"),
    ("predict t1/bc --input {d}/text.npy", "is not a .npy file"),
    ("predict t1/bc --input {d}/objects.npy", "holds Python objects, which are never unpickled"),
    ("predict t1/bc --input {d}/words.npy", "values, not numbers"),
    ("predict t1/bc --input {d}/nan.npy", "NaN or infinite"),
    ("predict t1/bc --input {d}/a-directory", "Is a directory"),
    ("predict t1/bc --input {d}/missing.npy", "No such file"),
    ("predict t1/bc --json [1,", "--json is not valid JSON"),
    ("predict t1/bc", "give exactly one of --json or --input"),
    ("predict bc --json {{}}", "is not of the form TENANT/NAME"),
    ("model register t1/m {model} --validation {d}/five-features.npz", "has 5 features per row"),
    ("model register t1/m {pickle} --validation {d}/five-features.npz", "has 5 features per row"),
    ("model register t1/m {pickle} --validation {d}/text-features.npz", "values, but the model's input"),
    ("model register t1/m {model} --validation {d}/text.npy", "not a NumPy .npz archive"),
    ("model register t1/m {d}/not-a-pickle.pkl", "is not a pickled or joblib scikit-learn estimator"),
    ("model register t1/m {d}/text.npy", "not a valid ONNX model"),
    ("model show t1/bc:one", "is not valid"),
    ("audit export --out {d}/a-directory", "Is a directory"),
    ("audit retention t1 --days many", "Invalid value for '--days'"),
    ("audit tail --limit 0", "limit"),
    ("deploy scale t1/bc --replicas two", "not a whole number"),
    ("deploy update t1/bc --memory 1GB", "not a valid quantity"),
    ("tenant list --output yaml", "'yaml' is not one of"),
    ("tenant set-quota t1 --mig 2", "is not PROFILE=COUNT"),
    ("deploy launch t1/bc", "No such command 'launch'"),
    ("key create --role predictor --tenant t1 --colour red", "No such option: --colour"),
    ("plan {d}/binary.yaml", "cannot be read"),
    ("audit verify --file {d}/text.npy", "is not an aiplane audit export"),
]


def _run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The CLI's entry point (`aiplane.cli.main:main`) in this process: the same code as the
    installed command, without an interpreter start per case (the subprocess cases below cover it)."""
    from aiplane.cli.main import main

    old_argv = sys.argv
    sys.argv = ["aiplane", *argv]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = old_argv
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.parametrize("args, fragment", CASES, ids=[c[0].split(" {")[0] for c in CASES])
def test_a_wrong_input_gets_one_line_and_no_traceback(deployed: Platform, files: Path, trained_model: TrainedModel,
                                                      args: str, fragment: str, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIPLANE_URL", deployed.url)
    monkeypatch.setenv("AIPLANE_TOKEN", deployed.admin_key)
    argv = args.format(d=files, model=trained_model.onnx, pickle=trained_model.pickle).split(" ")
    code, out, err = _run_in_process(argv, capsys)
    _one_line(code, out, err, fragment)


@pytest.mark.parametrize("args, fragment", [CASES[0], CASES[-6]], ids=["npz-as-input", "usage"])
def test_the_installed_command_answers_the_same(deployed: Platform, files: Path, args: str, fragment: str):
    result = deployed.cli(*args.format(d=files).split(" "))
    _one_line(result.returncode, result.stdout, result.stderr, fragment)


def _one_line(code: int, out: str, err: str, fragment: str) -> None:
    assert code != 0, out
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err


def test_an_unreachable_server_is_one_line_naming_aiplane_url():
    result = run_cli("tenant", "list", url=f"http://127.0.0.1:{free_port()}", token="aip_x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "AIPLANE_URL" in result.stderr


def test_the_good_inputs_next_to_them_work(deployed: Platform, trained_model: TrainedModel, tmp_path: Path):
    np.save(tmp_path / "rows.npy", trained_model.x[:3])
    result = deployed.cli("predict", "t1/bc", "--input", str(tmp_path / "rows.npy"))
    assert result.returncode == 0, result.stderr
    label = next(o for o in json.loads(result.stdout)["outputs"] if o["name"] == "label")
    assert label["data"] == trained_model.estimator.predict(trained_model.x[:3]).tolist()

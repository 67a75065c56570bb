"""Shared fixtures: a real trained model, real `aiplane up` processes on free ports, PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
# The checkout under test, not whichever one the virtual environment was installed from (a
# shared .venv in a second worktree would otherwise test the first one's code), in this process
# and in every `aiplane` process the tests start.
sys.path.insert(0, str(ROOT / "src"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT / "src"), os.environ.get("PYTHONPATH"))))
# `aiplane up` records the last platform it started for the account (aiplane.cli.locating): the
# tests' platforms are recorded apart from the user's.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="aiplane-test-state-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, url: str | None = None, token: str | None = None, cwd: Path | None = None,
            timeout: float = 180, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")}
    env.update(env_extra or {})
    if url:
        env["AIPLANE_URL"] = url
    if token:
        env["AIPLANE_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "aiplane", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def fails_in_one_line(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    """A CLI command that failed as every one must: exit code 1, one line on stderr naming `fragment`."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


@dataclass
class TrainedModel:
    estimator: Any
    pickle: Path
    onnx: Path
    validation: Path
    x: np.ndarray


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """LogisticRegression on scikit-learn's bundled breast_cancer data (30 FP32 features)."""
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from aiplane.runtime import sklearn_convert

    x, y = load_breast_cancer(return_X_y=True)
    x = x.astype(np.float32)
    estimator = LogisticRegression(max_iter=5000).fit(x, y)
    folder = tmp_path_factory.mktemp("model")
    joblib.dump(estimator, folder / "model.pkl")
    (folder / "model.onnx").write_bytes(sklearn_convert.convert(estimator))
    np.savez(folder / "val.npz", X=x[:100], y=y[:100])
    return TrainedModel(estimator, folder / "model.pkl", folder / "model.onnx", folder / "val.npz", x)


@dataclass
class MlpModel:
    """A small MatMul-heavy network (the quantizer's subject), its data and a tree model beside it."""

    onnx: Path
    validation: Path
    calibration: Path
    tree: Path
    x: np.ndarray


@pytest.fixture(scope="session")
def mlp_model(tmp_path_factory: pytest.TempPathFactory) -> MlpModel:
    """MLPClassifier (two hidden layers of 64) on seeded synthetic data: 16 features, 3 classes."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    from aiplane.runtime import sklearn_convert

    rng = np.random.default_rng(3)
    x = rng.normal(size=(1200, 16)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(16, 3)), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = MLPClassifier((64, 64), max_iter=30, random_state=0).fit(x[:900], y[:900])
    folder = tmp_path_factory.mktemp("mlp")
    (folder / "mlp.onnx").write_bytes(sklearn_convert.convert(estimator))
    (folder / "tree.onnx").write_bytes(sklearn_convert.convert(DecisionTreeClassifier(max_depth=3).fit(x, y)))
    np.savez(folder / "val.npz", X=x[900:], y=y[900:])
    np.savez(folder / "calib.npz", input=x[:200])
    return MlpModel(folder / "mlp.onnx", folder / "val.npz", folder / "calib.npz", folder / "tree.onnx", x)


class Platform:
    """A real `aiplane up` process in its own session, with its own data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, demo: bool = False,
                 args: tuple[str, ...] = (), ca: Path | None = None) -> None:
        self.data_dir = data_dir
        self.args = args  # more `aiplane up` options
        self.port = free_port()
        self.ca = ca  # with TLS: the CA file clients trust (https:// then)
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.env = env or {}
        self.demo = demo
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}-up.log"

    def start(self, timeout: float = 120) -> Platform:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")}
        env.update(self.env)
        cmd = [sys.executable, "-m", "aiplane", "up", "--port", str(self.port), "--data-dir", str(self.data_dir),
               *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd + (["--demo"] if self.demo else []), stdout=log, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"aiplane up exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1, verify=self.verify()).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"aiplane up did not become healthy:\n{self.output()}")

    def verify(self) -> Any:
        """What clients of this platform trust: its CA file with TLS, else the default."""
        import ssl

        return ssl.create_default_context(cafile=str(self.ca)) if self.ca and self.ca.exists() else True

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def admin_key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, url=self.url, token=token or self.admin_key,
                       env_extra={"AIPLANE_CA_BUNDLE": str(self.ca)} if self.ca else None)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, verify=self.verify())

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError("aiplane up did not stop within 30 s of the signal")
        return self.proc.returncode

    def kill_everything(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def platform_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Platform] = []

    def make(env: dict[str, str] | None = None, demo: bool = False, data_dir: Path | None = None) -> Platform:
        p = Platform(data_dir or tmp_path / f"data{len(started)}", env, demo)
        started.append(p)
        return p

    yield make
    for p in started:
        p.kill_everything()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One running platform shared by a module's tests (SQLite)."""
    p = Platform(tmp_path_factory.mktemp("platform") / "data", {"AIPLANE_GATEWAY_MAX_BODY_BYTES": str(1 << 20)})
    p.start()
    yield p
    p.stop()
    p.kill_everything()


def postgres_url() -> str:
    url = os.environ.get("AIPLANE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("AIPLANE_TEST_POSTGRES_URL is not set; run the tests with `make test`.")
        pytest.skip(_NO_POSTGRES)
    return url


def reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z":
            continue
        alive.append(pid)
    return alive


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A migrated, empty store: once on SQLite, once on the throwaway PostgreSQL."""
    from aiplane.store.database import Database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        url = postgres_url()
        reset_postgres(url)
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


_NO_POSTGRES = "no PostgreSQL; `make test` starts one"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Say loudly, as the last lines of the run, that the PostgreSQL half of the store cases did not run."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _NO_POSTGRES in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} cases that need PostgreSQL were SKIPPED", red=True, bold=True)
        terminalreporter.write_line("Only SQLite was tested. Run `make test` (or scripts/with-postgres.sh "
                                    ".venv/bin/python -m pytest) to run them against PostgreSQL too.", red=True)

"""The README's five-minute tour, run as written against a real `aiplane up --demo`.

The commands come from the fenced `sh` blocks of the tour section, in order, and run in one
bash (so `KEY=...` carries to the next line) in a folder holding the tour's own files (a
pickled estimator, its validation rows, rows to predict). The only conventions, stated in the
README: a command followed by a `# error: MESSAGE` line must fail with MESSAGE on its one line
of stderr, every other must succeed, and `<PID>` is filled with a replica PID. The CLI finds the
platform as a user's would, through the record `aiplane up` leaves; no AIPLANE_* is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.conftest import ROOT, Platform

pytestmark = pytest.mark.serial
_FENCE = re.compile(r"^\s*```sh\n(.*?)^\s*```", re.S | re.M)
_EXPECTED_ERROR = re.compile(r"^#\s*error:\s*(.+)$")
_PLACEHOLDER = re.compile(r"<[A-Z_]+>")


@dataclass
class Step:
    command: str
    error: str | None = None  # the message it must fail with; None: it must succeed


def tour_steps(readme: str) -> list[Step]:
    start = readme.index("## A five-minute tour")
    section = readme[start:readme.index("\n## ", start + 1)]
    steps: list[Step] = []
    for block in _FENCE.findall(section):
        for raw in block.splitlines():
            line = raw.strip()
            expected = _EXPECTED_ERROR.match(line)
            if expected:
                assert steps, f"'# error:' with no command before it: {line}"
                steps[-1].error = expected.group(1).rstrip()
            elif line and not line.startswith("#"):
                steps.append(Step(line))
    return steps


def test_the_tour_parser_reads_commands_and_expected_errors():
    steps = tour_steps("## A five-minute tour\n1. x\n   ```sh\n   a --b   # note\n   # error: it failed.\n"
                       "   c\n   ```\n## Next\n```sh\nnot-in-the-tour\n```\n")
    assert steps == [Step("a --b   # note", "it failed."), Step("c")]


@pytest.fixture(scope="module")
def tour_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's folder: the files step 3 names, made here (a small scikit-learn classifier)."""
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    x = x[:, :6].astype(np.float32)
    folder = tmp_path_factory.mktemp("tour")
    # A neural network, as step 3's `model quantize` line says (INT8 needs MatMul/Gemm layers).
    net = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=1000, random_state=0))
    joblib.dump(net.fit(x, y), folder / "model.pkl")
    np.savez(folder / "val.npz", X=x[:50], y=y[:50])
    np.save(folder / "rows.npy", x[:3])
    return folder


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    state = tmp_path_factory.mktemp("state")
    p = Platform(tmp_path_factory.mktemp("up") / ".aiplane", {"XDG_STATE_HOME": str(state)}, demo=True)
    p.start(timeout=240)
    yield p
    p.stop()
    p.kill_everything()


def _banner_curl(p: Platform) -> str:
    deadline = time.monotonic() + 120
    while not (lines := [line for line in p.output().splitlines() if line.startswith("curl ")]):
        assert time.monotonic() < deadline, p.output()
        time.sleep(0.2)
    return lines[0]


def _replica_pid(env: dict[str, str], cwd: Path) -> str:
    status = subprocess.run([sys.executable, "-m", "aiplane", "deploy", "status", "radiology/triage", "-o", "json"],
                            capture_output=True, text=True, env=env, cwd=cwd, check=True)
    return str(json.loads(status.stdout)["replica_status"][0]["pid"])


def test_the_readme_tour_runs_as_written(demo: Platform, tour_dir: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")}
    env.update(demo.env, PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")  # source .venv/bin/activate

    # Step 1: the printed curl line.
    answer = subprocess.run(["bash", "-c", _banner_curl(demo)], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0 and {o["name"] for o in json.loads(answer.stdout)["outputs"]} == \
        {"label", "probabilities"}, answer.stdout + answer.stderr

    steps = tour_steps((ROOT / "README.md").read_text())
    assert len(steps) >= 15 and any(s.error for s in steps), steps
    shell = subprocess.Popen(["bash"], stdin=subprocess.PIPE, text=True, env=env, cwd=tour_dir)
    assert shell.stdin is not None
    out = tour_dir / "out"
    try:
        for i, step in enumerate(steps):
            command = step.command
            if "<PID>" in command:
                command = command.replace("<PID>", _replica_pid(env, tour_dir))
            assert not _PLACEHOLDER.search(command), f"the tour has a placeholder the test cannot fill: {command}"
            done = out.with_name(f"rc.{i}")
            shell.stdin.write(f"{{ {command}\n}} >{out}.{i} 2>{out}.{i}.err; echo $? >{done}.tmp; "
                              f"mv {done}.tmp {done}\n")
            shell.stdin.flush()
            deadline = time.monotonic() + 240
            while not done.exists():
                assert time.monotonic() < deadline and shell.poll() is None, f"step {i} did not finish: {command}"
                time.sleep(0.05)
            code, stderr = int(done.read_text()), Path(f"{out}.{i}.err").read_text()
            if "<PID>" in step.command:
                _wait_until_replaced(command.split()[-1], env, tour_dir)
            if step.error is None:
                assert code == 0, f"README tour: `{step.command}` failed:\n{stderr}"
            else:
                lines = stderr.strip().splitlines()
                assert code != 0 and len(lines) == 1 and step.error in lines[0], \
                    f"README tour: `{step.command}` should fail with '{step.error}', got {code}:\n{stderr}"
    finally:
        shell.stdin.close()
        shell.wait(30)
    assert (tour_dir / "audit.jsonl").stat().st_size > 0 and (tour_dir / "audit.pub").read_text().startswith("-----")


def _wait_until_replaced(pid: str, env: dict[str, str], cwd: Path) -> None:
    """Step 6's claim: the supervisor starts a new replica for the one killed."""
    deadline = time.monotonic() + 60
    while True:
        status = json.loads(subprocess.run([sys.executable, "-m", "aiplane", "deploy", "status", "radiology/triage",
                                            "-o", "json"], capture_output=True, text=True, env=env, cwd=cwd,
                                           check=True).stdout)
        pids = [str(r["pid"]) for r in status["replica_status"]]
        if pid not in pids and status["replicas"]["ready"] == status["replicas"]["desired"]:
            return
        assert time.monotonic() < deadline, status
        time.sleep(0.5)

"""One `aiplane up` for a benchmark: started in its own session, ready when /healthz answers,
stopped with Ctrl-C (SIGKILL after 30 s). Shared by bench/audit and bench/tenancy."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx


@contextlib.contextmanager
def running_up(data_dir: Path, port: int, log_path: Path, env: dict[str, str] | None = None,
               cpus: str | None = None) -> Iterator[str]:
    """The platform's URL while it runs; `env` adds to this environment without its AIPLANE_*
    variables, `cpus` pins it with taskset."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")} | (env or {})
    cmd = [sys.executable, "-m", "aiplane", "up", "--port", str(port), "--data-dir", str(data_dir)]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

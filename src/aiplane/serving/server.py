"""Run a ModelApp under uvicorn (uvloop + httptools) on a TCP port or a Unix socket."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import uvicorn

from aiplane.domain.errors import InvalidInput
from aiplane.runtime import onnx_model
from aiplane.serving.app import ModelApp


def build_app(model: Path, name: str, version: str, max_body_bytes: int, threads: int) -> ModelApp:
    if not model.is_file():
        raise InvalidInput(f"model file {str(model)!r} does not exist.")
    session = onnx_model.open_session(str(model), threads=threads)
    return ModelApp(session, onnx_model.signature(session), name, version, max_body_bytes)


def serve(app: ModelApp, host: str, port: int | None, socket: Path | None, parent_pid: int | None) -> None:
    if parent_pid:
        _exit_with_parent(parent_pid)
    config = uvicorn.Config(
        app, host=host, port=port or 0, uds=str(socket) if socket else None, loop="uvloop",
        http="httptools", lifespan="off", access_log=False, log_level="warning",
        # The gateway keeps connections open and reuses them; do not close idle ones early.
        timeout_keep_alive=3600,
    )
    uvicorn.Server(config).run()


def _exit_with_parent(parent_pid: int) -> None:
    """A replica must never outlive its supervisor, even one killed with SIGKILL."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5.0)
                os._exit(1)  # graceful shutdown did not finish; leave no orphan behind
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()

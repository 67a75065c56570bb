"""Run a ModelApp under uvicorn (uvloop + httptools) on a TCP port or a Unix socket."""

from __future__ import annotations

import asyncio
import os
import socket as pysocket
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import uvloop

from aiplane.domain.errors import InvalidInput
from aiplane.runtime import onnx_model
from aiplane.serving import grpc_server, parent_watch, sockets
from aiplane.serving.app import ModelApp
from aiplane.serving.batching import Batcher


@dataclass(frozen=True)
class BatchingOptions:
    max_batch_size: int = 1  # 1 = off: each request runs on the event loop as it arrives
    max_batch_delay_ms: float = 0.0
    max_queue: int = 1024

    def validate(self) -> BatchingOptions:
        if self.max_batch_size < 1 or self.max_batch_delay_ms < 0 or self.max_queue < 1:
            raise InvalidInput(f"batching options {self} are out of range; use a max batch size and queue of "
                               "at least 1 and a non-negative delay.")
        return self


def build_app(model: Path | bytes, name: str, version: str, max_body_bytes: int, threads: int,
              batching: BatchingOptions | None = None, allow_non_finite: bool = False,
              cuda: bool = False) -> ModelApp:
    """The app serving `model` (a file, or its bytes read before this process gave up its rights)."""
    if isinstance(model, Path) and not model.is_file():
        raise InvalidInput(f"model file {str(model)!r} does not exist.")
    session = onnx_model.open_session(model if isinstance(model, bytes) else str(model), threads=threads, cuda=cuda)
    sig = onnx_model.signature(session)
    run = onnx_model.runner(session, sig)
    batcher = None
    if batching is not None and batching.max_batch_size > 1:
        if not all(t.shape and t.shape[0] == -1 for t in sig.inputs):
            raise InvalidInput("batching needs a model whose inputs all have a variable first (batch) dimension; "
                               "export it with a dynamic batch axis or set --max-batch-size 1.")
        batcher = Batcher(run, [t.name for t in sig.outputs], batching.max_batch_size,
                          batching.max_batch_delay_ms / 1000, batching.max_queue, in_thread=usable_cpus() > 1)
    return ModelApp(run, sig, name, version, max_body_bytes, batcher, allow_non_finite)


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a cpuset), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on this platform
        return os.cpu_count() or 1


def serve(app: ModelApp, host: str, port: int | None, socket: Path | None, parent_pid: int | None,
          grpc_port: int | None = None, grpc_socket: Path | None = None) -> None:
    if parent_pid:
        parent_watch.exit_with_parent(parent_pid)
    config = uvicorn.Config(
        app, host=host, port=port or 0, loop="uvloop", ws="none",  # no WebSockets: nothing to import for them
        http="httptools", lifespan="off", access_log=False, log_level="warning",
        proxy_headers=False,  # nothing here reads the client address; skip rewriting it per request
        # The gateway keeps connections open and reuses them; do not close idle ones early.
        timeout_keep_alive=3600,
    )
    addresses = ([f"{host}:{grpc_port}"] if grpc_port is not None else []) + (
        [f"unix:{grpc_socket}"] if grpc_socket is not None else [])
    # A Unix socket is bound here, 0600 (uvicorn would make it 0666): only this user connects.
    listening = [sockets.private_unix(socket)] if socket is not None else None
    if not addresses:
        uvicorn.Server(config).run(sockets=listening)
    else:
        if grpc_socket is not None:
            grpc_socket.unlink(missing_ok=True)
        uvloop.run(_serve_with_grpc(uvicorn.Server(config), listening, app, addresses))


async def _serve_with_grpc(http: uvicorn.Server, listening: list[pysocket.socket] | None, app: ModelApp,
                           addresses: list[str]) -> None:
    # Listening before HTTP is up: a replica the supervisor finds ready serves both.
    old = os.umask(0o177)  # gRPC binds its Unix socket itself: 0600 as well
    try:
        grpc = grpc_server.start(app, asyncio.get_running_loop(), addresses)
    finally:
        os.umask(old)
    try:
        await http.serve(sockets=listening)
    finally:
        grpc.stop(grace=1.0)

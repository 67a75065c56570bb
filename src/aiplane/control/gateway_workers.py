"""Gateway worker processes (`aiplane up --workers N`): start N-1, restart the ones that die,
stop them all on shutdown.

Each worker binds the same host:port (SO_REUSEPORT, so the kernel spreads connections over
the processes), serves the data plane from its own cache of the store, and relays everything
else to this process over `control_socket`. Like replicas, workers run in their own session
(Ctrl-C reaches only `aiplane up`, which stops them) and watch their parent, so none outlives
a supervisor killed hard.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Mapping

from aiplane.control import processes

log = logging.getLogger("aiplane.supervisor")


class _Worker:
    def __init__(self, pool: GatewayWorkers, index: int) -> None:
        self.pool, self.index = pool, index
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.stopping = False
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"gateway worker {index}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def _run(self) -> None:
        backoff = processes.Backoff(0.5, 10.0)
        while not self.stopping:
            started = asyncio.get_running_loop().time()
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.pool.command(self.index), env=dict(self.pool.env), stdin=asyncio.subprocess.DEVNULL,
                    start_new_session=True)
                code = await self.proc.wait()
            except OSError as exc:
                code = None
                log.error("cannot start gateway worker %d: %s", self.index, exc)
            if self.stopping:
                break
            self.restarts += 1
            log.warning("gateway worker %d exited with code %s; restarting", self.index, code)
            await asyncio.sleep(backoff.after(asyncio.get_running_loop().time() - started))

    async def stop(self, grace_s: float) -> None:
        self.stopping = True
        await processes.stop(self.proc, self.task, grace_s)


class GatewayWorkers:
    def __init__(self, count: int, control_socket: str, env: Mapping[str, str], grace_s: float = 15.0) -> None:
        self.count = count  # extra processes, besides this one
        self.control_socket = control_socket
        self.env = env
        self.grace_s = grace_s  # the worker's own graceful shutdown takes up to 10 s
        self._workers: list[_Worker] = []

    def command(self, index: int) -> list[str]:
        return [sys.executable, "-m", "aiplane", "gateway-worker", "--index", str(index),
                "--control-socket", self.control_socket, "--parent-pid", str(os.getpid())]

    def start(self) -> None:
        self._workers = [_Worker(self, i) for i in range(1, self.count + 1)]

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop(self.grace_s) for w in self._workers))
        self._workers = []

    def signal(self, sig: int) -> None:
        """Pass `sig` on to every running worker (SIGHUP: reload the TLS files)."""
        for w in self._workers:
            if w.pid is not None and w.proc is not None:
                w.proc.send_signal(sig)

    def running(self) -> int:
        return sum(1 for w in self._workers if w.pid is not None)

    def restarts(self) -> int:
        return sum(w.restarts for w in self._workers)

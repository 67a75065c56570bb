"""Runs the audit writer process (`aiplane audit-writer`) for `aiplane up`, and restarts it.

While it is down, predictions fail with 503 (fail-closed) and the client reconnects as soon
as it listens again. It runs in its own session, so Ctrl-C reaches `up` alone and `up` stops
it last, after the requests in flight have their events; it exits by itself when `up` dies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from aiplane.control import processes

log = logging.getLogger("aiplane.audit")


class WriterProcess:
    def __init__(self, socket_path: Path, log_path: Path, settings_env: dict[str, str]) -> None:
        """`settings_env`: the AIPLANE_* variables that give the writer the same store and keys."""
        self.socket_path, self.log_path, self.settings_env = socket_path, log_path, settings_env
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._spawn()
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="audit writer watch")

    async def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (it commits what it has read, then exits), SIGKILL after `timeout_s`."""
        self._stopping = True
        if self._watcher is not None:
            await processes.stop(self.proc, self._watcher, timeout_s)

    async def _spawn(self) -> None:
        env = processes.inherited_env("HOME", "TMPDIR")
        env.update(self.settings_env, PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "aiplane", "audit-writer", "--socket", str(self.socket_path),
               "--parent-pid", str(os.getpid())]
        with open(self.log_path, "ab") as logfile:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=logfile, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)

    async def _watch(self) -> None:
        backoff = processes.Backoff(0.1, 5.0)
        loop = asyncio.get_running_loop()
        while not self._stopping:
            assert self.proc is not None
            started = loop.time()
            code = await self.proc.wait()
            if self._stopping:
                return
            delay = backoff.after(loop.time() - started)
            self.restarts += 1
            log.error("the audit writer exited with status %s; restarting it in %.1f s (see %s)",
                      code, delay, self.log_path)
            await asyncio.sleep(delay)
            try:
                await self._spawn()
            except OSError as exc:  # the old process stays in self.proc: the next turn waits no time and backs off
                log.error("cannot start the audit writer (%s); trying again", exc)

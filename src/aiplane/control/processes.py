"""What the platform's child processes (replicas, the audit writer, gateway workers) share: the
environment they inherit, the delay before restarting one, and stopping one together with the
task that watched it."""

from __future__ import annotations

import asyncio
import os
import signal

# What a child needs from this environment to run this Python; nothing else (no secrets) passes.
_INHERITED = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV")


def inherited_env(*also: str) -> dict[str, str]:
    """The variables of this environment a child keeps: the base list, and `also`."""
    return {k: os.environ[k] for k in (*_INHERITED, *also) if k in os.environ}


class Backoff:
    """The delay before restarting a child that exited: `first_s`, doubling up to `max_s`, and
    `first_s` again after a child that had run `healthy_s` (a crash now, not a crash loop)."""

    def __init__(self, first_s: float, max_s: float, healthy_s: float = 30.0) -> None:
        self.first_s, self.max_s, self.healthy_s = first_s, max_s, healthy_s
        self._next = first_s

    def after(self, ran_s: float) -> float:
        """The delay to wait now, for a child that ran `ran_s` seconds."""
        if ran_s > self.healthy_s:
            self._next = self.first_s
        delay, self._next = self._next, min(self._next * 2, self.max_s)
        return delay


async def stop(proc: asyncio.subprocess.Process | None, watcher: asyncio.Task[None], grace_s: float) -> None:
    """SIGTERM, SIGKILL after `grace_s`, then cancel the task that restarts it and wait for it."""
    if proc is not None and proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
    watcher.cancel()
    try:
        await watcher
    except asyncio.CancelledError:
        pass

"""What the platform's child processes (replicas, the audit writer, gateway workers) share: the
environment they inherit, and stopping one together with the task that watched it."""

from __future__ import annotations

import asyncio
import os
import signal

# What a child needs from this environment to run this Python; nothing else (no secrets) passes.
_INHERITED = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV")


def inherited_env(*also: str) -> dict[str, str]:
    """The variables of this environment a child keeps: the base list, and `also`."""
    return {k: os.environ[k] for k in (*_INHERITED, *also) if k in os.environ}


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

"""Stopping a child process (a replica, a gateway worker) and the task that watched it."""

from __future__ import annotations

import asyncio
import signal


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

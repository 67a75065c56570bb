"""The audit writer's supervision keeps trying when a restart cannot even start the process."""

import asyncio
import os
import shutil
import signal
from pathlib import Path

from aiplane.control.audit_writer_process import WriterProcess
from aiplane.store.database import Database


def test_a_restart_that_cannot_start_the_writer_is_tried_again(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    Database(url).migrate()
    logs = tmp_path / "logs"
    logs.mkdir()
    writer = WriterProcess(tmp_path / "w.sock", logs / "writer.log",
                           {"AIPLANE_DATA_DIR": str(tmp_path), "AIPLANE_DATABASE_URL": url})

    async def go() -> None:
        await writer.start()
        first = writer.proc
        assert first is not None
        shutil.rmtree(logs)  # its log file cannot be opened: the restart fails with an OSError
        os.kill(first.pid, signal.SIGKILL)
        for _ in range(100):
            if writer.restarts >= 2:  # at least one failed start, and the watcher went on
                break
            await asyncio.sleep(0.05)
        assert writer.restarts >= 2 and writer.proc is first
        logs.mkdir()
        for _ in range(200):
            if writer.proc is not first and writer.proc.returncode is None:
                break
            await asyncio.sleep(0.05)
        assert writer.proc is not first and writer.proc.returncode is None
        await writer.stop()

    asyncio.run(go())

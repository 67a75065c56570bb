"""`aiplane audit-writer`: the audit log's writer process, started by `aiplane up` (hidden)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from aiplane.settings import Settings


def audit_writer(
    socket: Path = typer.Option(..., "--socket", help="Unix socket to listen on."),
    parent_pid: int = typer.Option(None, "--parent-pid", help="Exit when this process is gone."),
) -> None:
    """Append audit events sent over SOCKET to the store in group commits (run by `aiplane up`)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Only what writing needs: this process should stay small.
    from aiplane.domain.clock import SystemClock
    from aiplane.gateway import audit_server
    from aiplane.gateway.audit_log import PayloadSealer, payload_keys
    from aiplane.store.audit_appender import Appender
    from aiplane.store.database import Database

    settings = Settings.from_env()  # `up` passes its data directory and store in the environment
    db = Database(settings.database_url)
    try:
        sealer = PayloadSealer(payload_keys(settings.server.data_dir), SystemClock())
        audit_server.run(socket, Appender(db), sealer, parent_pid, settings.audit.max_batch)
    finally:
        db.dispose()

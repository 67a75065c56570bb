"""`aiplane admin recover`: offline recovery of platform-admin access."""

from __future__ import annotations

from pathlib import Path

import typer

from aiplane.cli.output import console
from aiplane.settings import Settings

app = typer.Typer(no_args_is_help=True)


@app.command("recover")
def recover(data_dir: Path = typer.Option(..., "--data-dir", help="The data directory 'aiplane up' uses.")) -> None:
    """Create a new platform-admin key offline (no server, no key needed); the event is audited."""
    from aiplane.control import recovery

    key_id, secret, key_file = recovery.recover(Settings.from_env(server__data_dir=data_dir))
    console.print(f"Recovered: new platform-admin key {key_id} (audited as admin.recover; also written to "
                  f"{key_file}, mode 0600). Secret (shown once, store it now):", highlight=False, soft_wrap=True)
    print(secret, flush=True)

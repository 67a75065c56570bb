"""`aiplane key ...`"""

from __future__ import annotations

import typer

from aiplane.cli.client import Client
from aiplane.cli.output import Column, Format, console, emit

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
COLUMNS: list[Column] = [("key_id", "KEY ID"), ("name", "NAME"), ("role", "ROLE"), ("tenant", "TENANT"),
                         ("revoked_at", "REVOKED"), ("expires_at", "EXPIRES", True), ("created_at", "CREATED", True),
                         ("last_used_at", "LAST USED", True), ("rate_limit", "RATE LIMIT", True)]


@app.command("create")
def create(
    role: str = typer.Option(..., "--role", help="platform-admin, tenant-admin, deployer, predictor or auditor."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant the key acts in (none for platform roles)."),
    name: str = typer.Option(None, "--name", help="A label for the key."),
    expires_in: str = typer.Option(None, "--expires-in", help="Lifetime such as 90d, 12h, 30m."),
    rate_limit: str = typer.Option(None, "--rate-limit", help="Requests per second for this key (optional)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the secret, e.g. KEY=$(aiplane key create ... -q)."),
    output: Format = OUTPUT,
) -> None:
    """Create a key. The secret is printed once and never again."""
    body = {"role": role, "tenant": tenant, "name": name, "expires_in": expires_in, "rate_limit": rate_limit}
    doc = Client().api("POST", "/keys", json=body)
    if quiet:
        print(doc["secret"], flush=True)
        return
    if output is Format.json:
        emit(doc, output)
        return
    emit(doc, output, COLUMNS)
    console.print("Secret (shown once, store it now):")
    print(doc["secret"], flush=True)


@app.command("list")
def list_(tenant: str = typer.Option(None, "--tenant"), output: Format = OUTPUT) -> None:
    """List keys (never their secrets)."""
    emit(Client().api("GET", "/keys", params={"tenant": tenant} if tenant else None), output, COLUMNS)


@app.command("revoke")
def revoke(key_id: str, output: Format = OUTPUT) -> None:
    """Revoke a key; it stops working at once."""
    emit(Client().api("DELETE", f"/keys/{key_id}"), output, COLUMNS)

"""`aiplane sso ...`: which identity-provider claims give which (tenant, role)."""

from __future__ import annotations

import typer

from aiplane.cli.client import Client
from aiplane.cli.output import Format, emit

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
COLUMNS = [("id", "ID"), ("claim", "CLAIM"), ("value", "VALUE"), ("tenant", "TENANT"), ("role", "ROLE")]


@app.command("map")
def map_(
    claim: str = typer.Option(..., "--claim", help="Token claim to match, such as groups, roles, email or sub."),
    value: str = typer.Option(..., "--value", help="Value the claim must hold (an item, for a list claim)."),
    role: str = typer.Option(..., "--role", help="tenant-admin, deployer, predictor, auditor or platform-admin."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant the role acts in (none for platform roles)."),
    output: Format = OUTPUT,
) -> None:
    """Give people whose token's CLAIM holds VALUE the ROLE in TENANT (platform-admins only)."""
    body = {"claim": claim, "value": value, "role": role, "tenant": tenant}
    emit(Client().api("POST", "/sso/mappings", json=body), output, COLUMNS)


@app.command("list")
def list_(output: Format = OUTPUT) -> None:
    """List the mappings."""
    emit(Client().api("GET", "/sso/mappings"), output, COLUMNS)


@app.command("unmap")
def unmap(mapping_id: int, output: Format = OUTPUT) -> None:
    """Delete mapping ID; the roles it gave are gone from the next request."""
    Client().api("DELETE", f"/sso/mappings/{mapping_id}")
    emit({"id": mapping_id, "deleted": True}, output)

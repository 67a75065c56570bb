"""`aiplane tenant ...`"""

from __future__ import annotations

from typing import Any

import typer

from aiplane.cli.client import Client
from aiplane.cli.output import Column, Format, console, emit, errors
from aiplane.domain.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
COLUMNS: list[Column] = [("name", "TENANT"), ("quota.cpus", "CPUS"), ("quota.memory", "MEMORY"),
                         ("quota.gpus", "GPUS"), ("quota.mig", "MIG"), ("quota.max_replicas", "MAX REPLICAS"),
                         ("quota.rate_limit", "RATE LIMIT"), ("compliance", "COMPLIANCE", True),
                         ("cost_center", "COST CENTER", True)]


def _mig(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    out = {}
    for item in values:
        profile, sep, count = item.partition("=")
        if not sep:
            raise InvalidInput(f"--mig {item!r} is not PROFILE=COUNT; use e.g. --mig 1g.10gb=2.")
        out[profile] = count
    return out


def _body(cpus: str | None, memory: str | None, gpus: str | None, mig: list[str] | None, max_replicas: str | None,
          rate_limit: str | None, cost_center: str | None, compliance: str | None) -> dict[str, Any]:
    body = {"cpus": cpus, "memory": memory, "gpus": gpus, "mig": _mig(mig), "max_replicas": max_replicas,
            "rate_limit": rate_limit, "cost_center": cost_center,
            "compliance": [c for c in compliance.split(",") if c] if compliance is not None else None}
    return {k: v for k, v in body.items() if v is not None}


CPUS = typer.Option(None, "--cpus", help="CPU quota, e.g. 8 or 500m.")
MEMORY = typer.Option(None, "--memory", help="Memory quota in Kubernetes syntax, e.g. 16Gi.")
GPUS = typer.Option(None, "--gpus", help="Whole-GPU quota.")
MIG = typer.Option(None, "--mig", help="MIG slice quota PROFILE=N, repeatable (e.g. 1g.10gb=2).")
REPLICAS = typer.Option(None, "--max-replicas", help="Most replicas the tenant may run at once.")
RATE = typer.Option(None, "--rate-limit", help="Requests per second across the tenant's deployments.")
COST = typer.Option(None, "--cost-center", help="Cost center for chargeback.")
COMPLIANCE = typer.Option(None, "--compliance", help="Comma-separated regimes: hipaa,gdpr,soc2.")


@app.command("create")
def create(name: str, cpus: str = CPUS, memory: str = MEMORY, gpus: str = GPUS, mig: list[str] = MIG,
           max_replicas: str = REPLICAS, rate_limit: str = RATE, cost_center: str = COST,
           compliance: str = COMPLIANCE, output: Format = OUTPUT) -> None:
    """Create a tenant with its quotas (unset quotas are unlimited)."""
    body = {"name": name, **_body(cpus, memory, gpus, mig, max_replicas, rate_limit, cost_center, compliance)}
    emit(Client().api("POST", "/tenants", json=body), output, COLUMNS)


@app.command("set-quota")
def set_quota(name: str, cpus: str = CPUS, memory: str = MEMORY, gpus: str = GPUS, mig: list[str] = MIG,
              max_replicas: str = REPLICAS, rate_limit: str = RATE, cost_center: str = COST,
              compliance: str = COMPLIANCE, output: Format = OUTPUT) -> None:
    """Change a tenant's quotas; flags not given stay as they are."""
    body = _body(cpus, memory, gpus, mig, max_replicas, rate_limit, cost_center, compliance)
    doc = Client().api("PATCH", f"/tenants/{name}", json=body)
    for warning in doc.get("warnings", []):
        errors.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    emit(doc, output, COLUMNS)


@app.command("list")
def list_(output: Format = OUTPUT) -> None:
    """List tenants."""
    emit(Client().api("GET", "/tenants"), output, COLUMNS)


@app.command("show")
def show(name: str, output: Format = OUTPUT) -> None:
    """Show a tenant's quotas: used / limit per resource."""
    client = Client()
    tenant = client.api("GET", f"/tenants/{name}")
    quota = client.api("GET", f"/tenants/{name}/quota")
    if output is Format.json:
        emit({**tenant, "usage": quota["resources"]}, output)
        return
    emit(tenant, output, COLUMNS)
    rows = [{"resource": k, "used": v["used"], "limit": v["limit"] if v["limit"] is not None else "unlimited"}
            for k, v in quota["resources"].items()]
    emit(rows, output, [("resource", "RESOURCE"), ("used", "USED"), ("limit", "LIMIT")])


@app.command("delete")
def delete(name: str) -> None:
    """Delete a tenant with its keys, models and deployments (replicas are stopped)."""
    Client().api("DELETE", f"/tenants/{name}")
    console.print(f"tenant {name} deleted")


@app.command("erase-payloads")
def erase_payloads(name: str) -> None:
    """Destroy the tenant's payload data keys (crypto-shredding): logged payloads become unreadable,
    the audit log and its proofs stay verifiable."""
    doc = Client().api("POST", f"/tenants/{name}/erase-payloads")
    console.print(f"tenant {name}: {doc['data_keys_destroyed']} data key(s) destroyed; its logged payloads are unreadable")

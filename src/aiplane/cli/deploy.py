"""`aiplane deploy ...`"""

from __future__ import annotations

import typer

from aiplane.cli.client import Client
from aiplane.cli.output import Column, Format, console, emit
from aiplane.domain import names
from aiplane.domain.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
COLUMNS: list[Column] = [("tenant", "TENANT"), ("name", "DEPLOYMENT"), ("model", "MODEL"), ("model_version", "VERSION"),
                         ("phase", "PHASE"), ("replicas.ready", "READY"), ("replicas.desired", "DESIRED", True),
                         ("resources", "PER REPLICA", True), ("replicas.max", "MAX", True),
                         ("batching", "BATCHING", True), ("infer_path", "INFER PATH", True)]
CANARY_COLUMNS: list[Column] = [("canary.model_version", "CANARY"), ("canary.percent", "PERCENT"),
                                ("canary.replicas.ready", "CANARY READY")]


@app.command("create")
def create(
    ref: str = typer.Argument(..., metavar="TENANT/NAME"),
    model: str = typer.Option(..., "--model", help="MODEL:VERSION (VERSION an integer or latest)."),
    device: str = typer.Option("cpu", "--device", help="cpu (GPU and MIG devices where present)."),
    cpus: str = typer.Option(None, "--cpus", help="CPUs per replica [default: 1]."),
    memory: str = typer.Option(None, "--memory", help="Memory per replica [default: 1Gi]."),
    min_replicas: int = typer.Option(1, "--min-replicas", help="Replicas started now."),
    max_replicas: int = typer.Option(None, "--max-replicas", help="Upper bound for scaling."),
    target_concurrency: int = typer.Option(None, "--target-concurrency"),
    max_batch_size: int = typer.Option(None, "--max-batch-size"),
    max_batch_delay_ms: float = typer.Option(None, "--max-batch-delay-ms"),
    payload_logging: bool = typer.Option(False, "--payload-logging"),
    allow_non_finite: bool = typer.Option(False, "--allow-non-finite",
                                          help="Accept NaN and infinite input values (refused with 400 by default)."),
    output: Format = OUTPUT,
) -> None:
    """Deploy a model version: admitted against the quota, replicas started, ready when this returns."""
    tenant, name = names.split_scoped(ref)
    body = {"name": name, "model": model, "device": device, "cpus": cpus, "memory": memory,
            "min_replicas": min_replicas, "max_replicas": max_replicas, "target_concurrency": target_concurrency,
            "max_batch_size": max_batch_size, "max_batch_delay_ms": max_batch_delay_ms,
            "payload_logging": payload_logging, "allow_non_finite": allow_non_finite}
    with console.status(f"Starting replicas of {tenant}/{name}..."):
        doc = Client().api("POST", f"/tenants/{tenant}/deployments", json=body)
    emit(doc, output, COLUMNS)


@app.command("scale")
def scale(
    ref: str = typer.Argument(..., metavar="TENANT/NAME"),
    replicas: str = typer.Option(..., "--replicas", help="Replicas to run (1 to the deployment's max-replicas)."),
    output: Format = OUTPUT,
) -> None:
    """Scale a deployment: growth is admitted against the quota; returns when the replicas are ready."""
    tenant, name = names.split_scoped(ref)
    with console.status(f"Scaling {tenant}/{name} to {replicas} replicas..."):
        doc = Client().api("POST", f"/tenants/{tenant}/deployments/{name}/scale", json={"replicas": replicas})
    emit(doc, output, COLUMNS)


@app.command("update")
def update(
    ref: str = typer.Argument(..., metavar="TENANT/NAME"),
    min_replicas: str = typer.Option(None, "--min-replicas", help="Fewest replicas to run."),
    max_replicas: str = typer.Option(None, "--max-replicas", help="Upper bound for scaling."),
    target_concurrency: str = typer.Option(None, "--target-concurrency",
                                           help="In-flight requests per replica the autoscaler aims for."),
    cpus: str = typer.Option(None, "--cpus", help="CPUs per replica, e.g. 2 or 500m."),
    memory: str = typer.Option(None, "--memory", help="Memory per replica, e.g. 2Gi."),
    max_batch_size: str = typer.Option(None, "--max-batch-size"),
    max_batch_delay_ms: str = typer.Option(None, "--max-batch-delay-ms"),
    output: Format = OUTPUT,
) -> None:
    """Change a deployment in place (flags not given stay as they are): admitted against the
    quota; a change of resources or batching replaces the replicas one at a time, serving on."""
    tenant, name = names.split_scoped(ref)
    body = {"min_replicas": min_replicas, "max_replicas": max_replicas, "target_concurrency": target_concurrency,
            "cpus": cpus, "memory": memory, "max_batch_size": max_batch_size,
            "max_batch_delay_ms": max_batch_delay_ms}
    body = {k: v for k, v in body.items() if v is not None}
    if not body:
        raise InvalidInput("nothing to change; give at least one of --min-replicas, --max-replicas, "
                           "--target-concurrency, --cpus, --memory, --max-batch-size, --max-batch-delay-ms.")
    with console.status(f"Updating {tenant}/{name}..."):
        doc = Client().api("PATCH", f"/tenants/{tenant}/deployments/{name}", json=body)
    emit(doc, output, COLUMNS)


@app.command("list")
def list_(tenant: str = typer.Argument(None), output: Format = OUTPUT) -> None:
    """List deployments."""
    emit(Client().api("GET", f"/tenants/{tenant}/deployments" if tenant else "/deployments"), output, COLUMNS)


@app.command("status")
def status(ref: str = typer.Argument(..., metavar="TENANT/NAME"), output: Format = OUTPUT) -> None:
    """Show a deployment and each replica's state."""
    tenant, name = names.split_scoped(ref)
    doc = Client().api("GET", f"/tenants/{tenant}/deployments/{name}")
    if output is Format.json:
        emit(doc, output)
        return
    emit(doc, output, COLUMNS + (CANARY_COLUMNS if doc.get("canary") else []))
    replica_columns = [("index", "REPLICA"), ("model_version", "VERSION"), ("state", "STATE"), ("pid", "PID"),
                       ("restarts", "RESTARTS")]
    emit(doc["replica_status"] + ((doc.get("canary") or {}).get("replica_status") or []), output, replica_columns)
    if doc.get("rollout_note"):
        console.print(f"last rollout: {doc['rollout_note']}")


@app.command("delete")
def delete(ref: str = typer.Argument(..., metavar="TENANT/NAME")) -> None:
    """Stop a deployment's replicas and delete it."""
    tenant, name = names.split_scoped(ref)
    Client().api("DELETE", f"/tenants/{tenant}/deployments/{name}")
    console.print(f"deployment {tenant}/{name} deleted")


@app.command("canary")
def canary(
    ref: str = typer.Argument(..., metavar="TENANT/NAME"),
    model: str = typer.Option(..., "--model", help="MODEL:VERSION of the canary (a model of the same tenant)."),
    percent: int = typer.Option(..., "--percent", help="Share of requests for the canary, 0 to 100."),
    auto_rollback: bool = typer.Option(False, "--auto-rollback",
                                       help="Roll back on its own when the canary errs or slows down more than "
                                            "the stable version."),
    output: Format = OUTPUT,
) -> None:
    """Start a canary beside the stable version; it takes PERCENT of the traffic once ready."""
    tenant, name = names.split_scoped(ref)
    body = {"model": model, "percent": percent, "auto_rollback": auto_rollback}
    with console.status(f"Starting the canary of {tenant}/{name}..."):
        doc = Client().api("POST", f"/tenants/{tenant}/deployments/{name}/canary", json=body)
    emit(doc, output, COLUMNS + CANARY_COLUMNS)


@app.command("promote")
def promote(ref: str = typer.Argument(..., metavar="TENANT/NAME"), output: Format = OUTPUT) -> None:
    """Make the canary the stable version; the old replicas are drained, no request is dropped."""
    tenant, name = names.split_scoped(ref)
    with console.status(f"Promoting the canary of {tenant}/{name}..."):
        doc = Client().api("POST", f"/tenants/{tenant}/deployments/{name}/promote")
    emit(doc, output, COLUMNS)


@app.command("rollback")
def rollback(ref: str = typer.Argument(..., metavar="TENANT/NAME"), output: Format = OUTPUT) -> None:
    """Remove the canary; the stable version takes all traffic again."""
    tenant, name = names.split_scoped(ref)
    doc = Client().api("POST", f"/tenants/{tenant}/deployments/{name}/rollback")
    emit(doc, output, COLUMNS)

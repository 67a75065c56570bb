"""`aiplane gpu ...`: the pool's status and layout (from the server), and offline what-if packing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from aiplane.cli.client import Client
from aiplane.cli.output import Format, console, emit
from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import demands, inventory, placement
from aiplane.reporting import gpu_pool

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
PLACED = [("tenant", "TENANT"), ("deployment", "DEPLOYMENT"), ("replica", "#"), ("node", "NODE"), ("gpu", "GPU"),
          ("profile", "PROFILE"), ("start", "START")]


STATUS = [("gpu", "GPU"), ("model", "MODEL"), ("profile", "INSTANCE"), ("owner", "OWNER")]


@app.command("status")
def status(output: Format = OUTPUT) -> None:
    """Each GPU of the pool, its MIG instances, who holds them (your tenant's, or taken) and what is free."""
    doc = Client().api("GET", "/gpu")
    if output is Format.json:
        emit(doc, output)
        return
    if doc["pool"] is None:
        console.print(doc["note"], highlight=False)
        return
    s = doc["summary"]
    console.print(f"GPU pool{' (simulated: replicas run on the CPU)' if doc['simulated'] else ''}: "
                  f"{s['gpus_in_use']} of {s['gpus']} GPUs in use, {s['compute_slices']['allocated']} of "
                  f"{s['compute_slices']['total']} compute slices allocated ({s['allocated_percent']:g}%)",
                  highlight=False)
    emit(_rows(doc["gpus"]), output, STATUS)


def _rows(gpus: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for g in gpus:
        name, model = f"{g['node']}/{g['index']}", g["model"] + ("" if g["mig"] else " (MIG off)")
        for i in g["instances"]:
            o = i["owner"]
            who = f"{o['tenant']}/{o['deployment']}#{o['replica']}" if o else i["state"]
            where = "whole GPU" if i["start"] is None else f"{i['profile']}@{i['start']}"
            rows.append({"gpu": name, "model": model, "profile": where, "owner": who})
        c = g["compute_slices"]
        if c["allocated"] < c["total"] and (g["mig"] or not g["instances"]):
            rows.append({"gpu": name, "model": model, "profile": "-",
                         "owner": f"free: {c['total'] - c['allocated']} compute, {g['memory_slices_free']} memory slices"})
    return rows


@app.command("layout")
def layout(fmt: str = typer.Option("mig-parted", "--format", help="mig-parted (the only format).")) -> None:
    """The pool's current MIG layout as a mig-parted config (apply it with nvidia-mig-parted)."""
    if fmt != "mig-parted":
        raise InvalidInput(f"--format {fmt!r} is not a layout format; use mig-parted.")
    sys.stdout.write(Client().api("GET", "/gpu/layout", raw=True, params={"format": fmt}))


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file; give the path of a YAML document.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot be read ({type(exc).__name__}); give a readable UTF-8 YAML file.") from None


@app.command("pack")
def pack(
    inventory_file: Path = typer.Option(..., "--inventory", help="Inventory YAML: nodes, GPU models, MIG on/off."),
    demand_file: Path = typer.Option(..., "--demand", help="Demand YAML: replicas: [{tenant, deployment, profile, count}]."),
    output: Format = OUTPUT,
) -> None:
    """Offline what-if: place the demand on the inventory; print each placement and what does not fit, and why."""
    inv = inventory.parse(read(inventory_file), str(inventory_file))
    asked = demands.parse(read(demand_file), str(demand_file))
    doc = gpu_pool.packing(inv, placement.pack(inv.gpus, asked))
    if output is Format.json:
        emit(doc, output)
        return
    emit(doc["placements"], output, PLACED, title="Placements" + (" (simulated pool)" if inv.simulated else ""))
    for row in doc["unplaced"]:
        console.print(f"[yellow]not placed:[/yellow] {row['reason']}", highlight=False, soft_wrap=True)
    console.print(f"GPUs used: {doc['gpus_used']} of {doc['gpus_total']}; compute slices allocated: "
                  f"{doc['slices']['allocated']} of {doc['slices']['total']}"
                  + ("" if doc["optimal"] else " (best-fit; the pool is too large to prove optimal)"), highlight=False)

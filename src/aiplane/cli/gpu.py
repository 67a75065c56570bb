"""`aiplane gpu ...`: the pool's status and layout (from the server), and offline what-if packing."""

from __future__ import annotations

from pathlib import Path

import typer

from aiplane.cli.output import Format, console, emit
from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import demands, inventory, placement
from aiplane.reporting import gpu_pool

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
PLACED = [("tenant", "TENANT"), ("deployment", "DEPLOYMENT"), ("replica", "#"), ("node", "NODE"), ("gpu", "GPU"),
          ("profile", "PROFILE"), ("start", "START")]


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

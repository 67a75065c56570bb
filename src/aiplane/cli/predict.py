"""`aiplane predict`: one V2 inference through the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from aiplane.cli import arrays
from aiplane.cli.client import Client
from aiplane.cli.output import Format, emit
from aiplane.domain import names
from aiplane.domain.errors import InvalidInput


def predict(
    ref: str = typer.Argument(..., metavar="TENANT/NAME"),
    json_body: str = typer.Option(None, "--json", help="A V2 inference request as JSON."),
    input_file: Path = typer.Option(None, "--input", help="A .npy array for the model's first input."),
    output: Format = typer.Option(Format.json, "--output", "-o", help="json or table."),
) -> None:
    """Send one prediction to TENANT/NAME and print the V2 response."""
    tenant, name = names.split_scoped(ref)
    if (json_body is None) == (input_file is None):
        raise InvalidInput("give exactly one of --json or --input.")
    client = Client()
    headers = {"X-Aiplane-Tenant": tenant}
    if json_body is not None:
        try:
            body: Any = json.loads(json_body)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--json is not valid JSON ({exc.msg}).") from None
    else:
        body = _from_npy(client, name, input_file, headers)
    doc = client.call("POST", f"/v2/models/{name}/infer", json=body, headers=headers)
    if output is Format.json:
        emit(doc, output)
    else:
        emit(doc["outputs"], output, [("name", "OUTPUT"), ("datatype", "DATATYPE"), ("shape", "SHAPE"),
                                      ("data", "DATA")])


def _from_npy(client: Client, name: str, path: Path, headers: dict[str, str]) -> dict[str, Any]:
    array = arrays.load_npy(path)
    meta = client.call("GET", f"/v2/models/{name}", headers=headers)
    first = meta["inputs"][0]
    if array.ndim == len(first["shape"]) - 1:
        array = array[None, ...]
    return {"inputs": [{"name": first["name"], "shape": list(array.shape), "datatype": first["datatype"],
                        "data": array.ravel().tolist()}]}

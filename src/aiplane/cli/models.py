"""`aiplane model ...`"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from aiplane.cli import optimize
from aiplane.cli.client import Client
from aiplane.cli.output import Column, Format, console, emit
from aiplane.domain import names, registry
from aiplane.domain.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)
app.command("quantize")(optimize.quantize)
app.command("profile")(optimize.profile)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
COLUMNS: list[Column] = [("tenant", "TENANT"), ("model", "MODEL"), ("version", "VERSION"), ("source_format", "FROM"),
                         ("digest", "DIGEST"), ("created_at", "REGISTERED", True), ("size_bytes", "BYTES", True),
                         ("metrics", "METRICS", True)]
_SKLEARN_SUFFIXES = (".pkl", ".pickle", ".joblib")


@app.command("register")
def register(
    ref: str = typer.Argument(..., metavar="TENANT/MODEL"),
    file: Path = typer.Argument(..., help="An ONNX file, or a pickled/joblib scikit-learn estimator."),
    format: str = typer.Option(None, "--format", help="onnx or sklearn [default: from the file name]."),
    validation: Path = typer.Option(None, "--validation", help=".npz with X (and y): checked and measured."),
    output: Format = OUTPUT,
) -> None:
    """Register FILE as the next immutable version of TENANT/MODEL."""
    tenant, model = names.split_scoped(ref, "TENANT/MODEL")
    if not file.is_file():
        raise InvalidInput(f"model file {str(file)!r} does not exist.")
    if validation is not None and not validation.is_file():
        raise InvalidInput(f"validation file {str(validation)!r} does not exist.")
    fmt = format or ("sklearn" if file.suffix.lower() in _SKLEARN_SUFFIXES else "onnx")
    checks: dict[str, Any] = {}
    if fmt == "sklearn":
        artifact, checks = _convert(file, validation)
    elif fmt == "onnx":
        artifact = file.read_bytes()
    else:
        raise InvalidInput(f"format {fmt!r} is unknown; use onnx or sklearn.")
    files: dict[str, Any] = {"file": (file.name, artifact, "application/octet-stream")}
    if validation is not None:
        files["validation"] = (validation.name, validation.read_bytes(), "application/octet-stream")
    data = {"format": fmt, **({"metrics": json.dumps(checks)} if checks else {})}
    doc = Client().api("POST", f"/tenants/{tenant}/models/{model}/versions", files=files, data=data)
    emit(doc, output, COLUMNS)


def _convert(file: Path, validation: Path | None) -> tuple[bytes, dict[str, Any]]:
    """Convert here, where the pickle already is: the platform never unpickles what it receives."""
    from aiplane.runtime import onnx_model, sklearn_convert

    estimator = sklearn_convert.load_estimator(file)
    with console.status(f"Converting {type(estimator).__name__} to ONNX..."):
        artifact = sklearn_convert.convert(estimator)
    checks: dict[str, Any] = {"converted_from": type(estimator).__name__}
    if validation is not None:
        x = onnx_model.load_validation(validation.read_bytes())["X"]
        sklearn_convert.check_equal(estimator, artifact, x)
        checks["converted_matches_estimator"] = True
        checks["compared_rows"] = int(x.shape[0])
    return artifact, checks


@app.command("list")
def list_(tenant: str = typer.Argument(None), output: Format = OUTPUT) -> None:
    """List model versions (of one tenant, or every one you may see)."""
    path = f"/tenants/{tenant}/models" if tenant else "/models"
    docs = Client().api("GET", path)
    emit(docs if output is Format.json else [_row(d) for d in docs], output, COLUMNS)


@app.command("show")
def show(ref: str = typer.Argument(..., metavar="TENANT/MODEL[:VERSION]"), output: Format = OUTPUT) -> None:
    """Show one version: signature, digest, metrics."""
    tenant, rest = names.split_scoped(ref, "TENANT/MODEL[:VERSION]")
    model, version = registry.parse_ref(rest)
    doc = Client().api("GET", f"/tenants/{tenant}/models/{model}/versions/{version or 'latest'}")
    if output is Format.json:
        emit(doc, output)
        return
    emit(_row(doc), output, COLUMNS)
    versions = Client().api("GET", f"/tenants/{tenant}/models/{model}/versions")
    console.print(f"lineage: {_lineage(doc, versions)}", highlight=False)
    if doc.get("profile"):
        single = doc["profile"]["cpu"][0]
        console.print(f"profile: p99 {single['p99_ms']:g} ms at batch {single['batch']} on one core of "
                      f"{doc['profile']['machine']} (see 'aiplane model profile')", highlight=False)
    tensors = [{"kind": kind, **t} for kind in ("inputs", "outputs") for t in doc["signature"][kind]]
    emit(tensors, output, [("kind", "KIND"), ("name", "NAME"), ("datatype", "DATATYPE"), ("shape", "SHAPE")])


def _row(doc: dict[str, Any]) -> dict[str, Any]:
    """A table row: measured figures only; the nested reports are in `-o json` and the lineage."""
    metrics = {k: v for k, v in doc["metrics"].items() if not isinstance(v, dict)}
    if "quantization" in doc["metrics"]:
        metrics["int8"] = doc["metrics"]["quantization"]["method"]
        if not doc["metrics"]["quantization"].get("verified", True):
            metrics["accuracy"] = "unverified"
    return {**doc, "metrics": metrics}


def _lineage(doc: dict[str, Any], versions: list[dict[str, Any]]) -> str:
    """e.g. '1 (fp32) -> 2 (int8, dynamic)': the version's ancestors, itself, and its children."""
    by_number = {v["version"]: v for v in versions}
    chain = [doc]
    while chain[0].get("parent_version") in by_number:
        chain.insert(0, by_number[chain[0]["parent_version"]])
    children = [v for v in versions if v.get("parent_version") == doc["version"]]

    def label(v: dict[str, Any]) -> str:
        q = v["metrics"].get("quantization")
        mark = f"int8, {q['method']}" if q else "registered" if v.get("parent_version") is None else "derived"
        return f"{v['version']} ({mark})"

    text = " -> ".join(label(v) for v in chain)
    if children:
        text += f"; derived from it: {', '.join(label(v) for v in children)}"
    return text

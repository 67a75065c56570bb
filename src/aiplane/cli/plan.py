"""`aiplane plan WORKLOADS.yaml`: an architecture and a cost plan, computed locally; the server is asked
only for the measured profiles of models that workloads name (`model: tenant/name:version`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich import box
from rich.table import Table as RichTable

from aiplane.cli.output import Format, console, errors
from aiplane.cli.client import Client
from aiplane.domain import names, registry
from aiplane.domain.errors import AiplaneError, InvalidInput
from aiplane.domain.planning.measured import Measured
from aiplane.domain.planning import catalog as catalogs
from aiplane.domain.planning import planner, portfolio
from aiplane.domain.planning.plans import PortfolioPlan
from aiplane.reporting import formats, report
from aiplane.reporting.formats import ReportFormat

WORKLOADS = typer.Argument(..., help="Portfolio YAML: prices:, assumptions:, workloads: (see docs/planning.md).",
                           show_default=False, metavar="WORKLOADS.yaml")
FORMAT = typer.Option(ReportFormat.TABLE, "--format", help="table (terminal), md, html, json, or svg (the savings chart alone).")
OUT = typer.Option(None, "--out", help="Write the report to this file instead of standard output.")
CATALOG = typer.Option(None, "--catalog", help="YAML file with prices: and assumptions: replacing built-in figures.")
DETAILS = typer.Option(False, "--details", help="Terminal: also print the options weighed and the price lines.")
OUTPUT = typer.Option(None, "--output", "-o", help="json: the same as --format json.")


def plan(workloads: Path = WORKLOADS, format: ReportFormat = FORMAT, out: Path | None = OUT,
         catalog: Path | None = CATALOG, details: bool = DETAILS, output: Format | None = OUTPUT) -> None:
    """Plan where training and inference run, on what, at what monthly cost, and what each saving is worth."""
    base = catalogs.Catalog()
    if catalog is not None:
        base = _located(catalog, lambda: catalogs.with_overrides(base, _load(catalog), ""))
    document = _load_located(workloads)
    profiles = _located(workloads, lambda: _profiles(document))
    result: PortfolioPlan = _located(workloads, lambda: planner.plan(portfolio.parse(document, base, profiles)))
    fmt = ReportFormat.JSON if output is Format.json else format
    if fmt is ReportFormat.TABLE and out is None:
        _print(report.build(result), details)
    else:
        text = formats.render(result, ReportFormat.MD if fmt is ReportFormat.TABLE else fmt)
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {out}")
    infeasible = [w.infeasible for w in result.workloads if w.infeasible]
    for reason in infeasible:
        errors.print(f"[red]infeasible:[/red] {workloads}: {reason}", highlight=False, soft_wrap=True)
    if infeasible:
        raise typer.Exit(1)


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput("no such file; give the path of a YAML document.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot be read ({type(exc).__name__}); give a readable UTF-8 YAML file.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"is not valid YAML{where}; fix the syntax.") from None


def _load_located(path: Path) -> Any:
    return _located(path, lambda: _load(path))


def _profiles(document: Any) -> dict[str, Measured]:
    """The stored profiles of the models the workloads name, read from the server (AIPLANE_URL,
    or the local one); a document naming none needs no server."""
    refs = portfolio.model_refs(document)
    if not refs:
        return {}
    client, found = Client(), {}
    for ref in refs:
        try:
            tenant, rest = names.split_scoped(ref, "TENANT/MODEL:VERSION")
            model, version = registry.parse_ref(rest)
        except InvalidInput:
            continue  # portfolio.parse names the field
        try:
            doc = client.api("GET", f"/tenants/{tenant}/models/{model}/versions/{version or registry.LATEST}")
        except AiplaneError as exc:
            raise InvalidInput(f"model {ref!r}: its profile is read from the server, which answered: "
                               f"{exc.message}") from None
        if doc.get("profile"):
            found[ref] = Measured.from_dict(doc["profile"])
    return found


def _located(path: Path, step: Any) -> Any:
    """Run `step`, prefixing any input error with the file it came from."""
    try:
        return step()
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}") from exc


def _print(r: report.Report, details: bool) -> None:
    console.rule(f"[bold]{r.title}")
    for section in r.sections:
        console.print(f"\n[bold]{section.title}[/bold]", highlight=False)
        for note in section.notes:
            nested = note.startswith(report.INDENT)
            console.print(f"{'      ' if nested else '  '}- {note.strip()}", highlight=False,
                          style="dim" if nested else None)
        for t in section.tables:
            if t.detail and not details:
                continue
            table = RichTable(title=t.title, title_justify="left", show_lines=False, box=box.SIMPLE_HEAD,
                              pad_edge=False)
            for i, header in enumerate(t.headers):
                table.add_column(header, justify="right" if i in t.numeric else "left")
            for row in t.rows:
                table.add_row(*row)
            console.print(table)
    if not details:
        console.print("\n(--details adds the options weighed and the price lines behind every amount; "
                      "--format md|html|json writes a full report)", style="dim", highlight=False)

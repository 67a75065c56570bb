"""`aiplane model quantize` and `aiplane model profile`: long server-side work, shown as it runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import typer
from rich.table import Table

from aiplane.cli.client import Client
from aiplane.cli.output import Format, console, emit
from aiplane.domain import names, optimization, registry
from aiplane.domain.errors import InvalidInput

OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
# The server bounds each job (AIPLANE_CONTROL_OPTIMIZE_TIMEOUT_S, 900 s by default); wait a little longer.
_WAIT_S = 960.0


def quantize(
    ref: str = typer.Argument(..., metavar="TENANT/MODEL:VERSION"),
    calibration: Path = typer.Option(None, "--calibration",
                                     help=".npz of representative inputs (one array per input): static QDQ."),
    max_accuracy_drop: float = typer.Option(optimization.DEFAULT_MAX_DROP, "--max-accuracy-drop",
                                            help="Refuse a larger drop (0.01 = 1 point; cosine >= 0.99)."),
    output: Format = OUTPUT,
) -> None:
    """INT8-quantize a version; registered as the next version when it passes the accuracy gate."""
    tenant, model, version = _ref(ref)
    if calibration is not None and not calibration.is_file():
        raise InvalidInput(f"calibration file {str(calibration)!r} does not exist.")
    files = {"calibration": (calibration.name, calibration.read_bytes(), "application/octet-stream")} \
        if calibration is not None else None
    method = "static QDQ with calibration" if calibration is not None else "dynamic"
    doc = _waiting(f"Quantizing {tenant}/{model}:{version} ({method}), then measuring both versions", lambda: Client(
        timeout=_WAIT_S).api("POST", f"/tenants/{tenant}/models/{model}/versions/{version}/quantize", files=files,
                             data={"max_accuracy_drop": str(max_accuracy_drop)}))
    if output is Format.json:
        emit(doc, output)
        return
    _print_quantization(doc)


def profile(
    ref: str = typer.Argument(..., metavar="TENANT/MODEL:VERSION"),
    requests_per_day: float = typer.Option(None, "--requests-per-day", help="Demand to size and price for."),
    p99_ms: float = typer.Option(None, "--p99-ms", help="Latency ceiling of one request."),
    output: Format = OUTPUT,
) -> None:
    """Measure latency and throughput against batch size here, store it, and advise CPU, GPU or MIG."""
    tenant, model, version = _ref(ref)
    body = {"requests_per_day": requests_per_day, "p99_ms": p99_ms}
    doc = _waiting(f"Profiling {tenant}/{model}:{version} at batch sizes 1 to 64 on this machine", lambda: Client(
        timeout=_WAIT_S).api("POST", f"/tenants/{tenant}/models/{model}/versions/{version}/profile", json=body))
    if output is Format.json:
        emit(doc, output)
        return
    _print_profile(doc)


def _ref(ref: str) -> tuple[str, str, str]:
    tenant, rest = names.split_scoped(ref, "TENANT/MODEL:VERSION")
    model, version = registry.parse_ref(rest)
    return tenant, model, str(version) if version is not None else registry.LATEST


def _waiting(what: str, call: Callable[[], Any]) -> Any:
    """Run `call` in a thread while a spinner shows what is happening and for how long."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["doc"] = call()
        except BaseException as exc:  # re-raised below, in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    start = time.monotonic()
    thread.start()
    with console.status(what) as status:
        while thread.is_alive():
            thread.join(0.5)
            status.update(f"{what}... {time.monotonic() - start:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["doc"]


def _print_quantization(doc: dict[str, Any]) -> None:
    q = doc["metrics"]["quantization"]
    console.print(f"registered {doc['tenant']}/{doc['model']}:{doc['version']}: INT8 ({q['method']})"
                  f" from version {doc['parent_version']}", highlight=False)
    table = Table(show_lines=False)
    for header in ("MEASURE", "FP32", "INT8", "RATIO"):
        table.add_column(header, justify="left" if header == "MEASURE" else "right")
    table.add_row("size, bytes", f"{q['size_before']:,}", f"{q['size_after']:,}", f"{q['size_ratio']:.2f}x smaller")
    for b in ("1", "32"):
        before, after = q["latency_before"][b], q["latency_after"][b]
        table.add_row(f"p50 ms, batch {b}", f"{before['p50_ms']:.3f}", f"{after['p50_ms']:.3f}",
                      f"{q[f'latency_ratio_batch_{b}']:.2f}x faster")
    table.add_row("rows/s, batch 32", f"{q['latency_before']['32']['rows_per_s']:,.0f}",
                  f"{q['latency_after']['32']['rows_per_s']:,.0f}", f"{q['throughput_ratio_batch_32']:.2f}x")
    console.print(table)
    console.print(f"gate: {q['gate']}", highlight=False)
    agreement = q.get("agreement")
    if agreement:
        console.print(f"answers within {agreement['tolerance']:g} of FP32 (max abs difference x 2, "
                      f"{agreement['validation_samples']} validation rows)", highlight=False)
    console.print(f"measured on {q['machine']}, one thread", highlight=False, style="dim")


def _print_profile(doc: dict[str, Any]) -> None:
    prof, adv = doc["profile"], doc["advice"]
    table = Table(title=f"{doc['tenant']}/{doc['model']}:{doc['version']} on one core ({prof['inputs']})",
                  title_justify="left")
    for header in ("BATCH", "P50 MS", "P99 MS", "ROWS/S"):
        table.add_column(header, justify="right")
    for p in prof["cpu"]:
        table.add_row(str(p["batch"]), f"{p['p50_ms']:.3f}", f"{p['p99_ms']:.3f}", f"{p['rows_per_s']:,.0f}")
    console.print(table)
    console.print(f"measured on {prof['machine']}; no GPU here" if not prof.get("gpu") else
                  f"measured on {prof['machine']}", highlight=False, style="dim")
    choices = Table(title=f"Advice ({adv['placement']} prices, {adv['gpu_model']})", title_justify="left")
    for header in ("DEVICE", "SIZE", "$/M REQUESTS", "$/MONTH", "P99 MS"):
        choices.add_column(header, justify="left" if header in ("DEVICE", "SIZE") else "right")
    for c in adv["choices"]:
        if c["ruled_out"]:
            choices.add_row(c["device"], "ruled out", "-", "-", f"{c['p99_ms']:g}")
            continue
        chosen = " *" if c["device"] == adv["chosen"] else ""
        monthly = "-" if c["monthly"] is None else f"{c['monthly']:,.2f}"
        choices.add_row(c["device"] + chosen, c["size"], f"{c['per_million']:,.4f}", monthly, f"{c['p99_ms']:g}")
    console.print(choices)
    for c in adv["choices"]:
        console.print(f"- {c['device']}: {c['reason']}", highlight=False)
    if adv["chosen"]:
        console.print(f"advice: {adv['chosen']} (* cheapest per million requests of the options left)",
                      highlight=False)
    else:
        console.print("advice: no option meets the demand; relax --p99-ms or see the reasons above", highlight=False)

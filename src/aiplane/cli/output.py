"""Printing: rich tables for people, `--output json` for programs.

Tables fit the terminal (80 columns included): one line per row, long cells cut with an ellipsis,
columns marked optional left out when they do not fit, times without their fraction and digests
shortened (`-o json` has every field in full). A single object prints as a list of fields, one
per line, its values folded inside the value column.
"""

from __future__ import annotations

import enum
import json
import re
import sys
from typing import Any, Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

console = Console()
errors = Console(stderr=True)

# (field, header) or (field, header, optional): optional columns go first when a table is too wide.
Column = tuple[str, str] | tuple[str, str, bool]
_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(\+00:00|Z)?$")
_DIGEST = re.compile(r"^sha256:([0-9a-f]{12})[0-9a-f]{52}$")


class Format(str, enum.Enum):
    table = "table"
    json = "json"


def emit(data: Any, fmt: Format, columns: Sequence[Column] | None = None, title: str | None = None) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if isinstance(data, dict):
        _details(data, columns or [(k, k) for k in data])
        return
    rows = list(data)
    _table(rows, columns or [(k, k) for k in (rows[0].keys() if rows else [])], title)


def _table(rows: list[dict[str, Any]], columns: Sequence[Column], title: str | None) -> None:
    cells = [[_cell(_dig(row, c[0]), short=True) for c in columns] for row in rows]
    keep = list(range(len(columns)))
    optional = [i for i, c in enumerate(columns) if len(c) > 2 and c[2]]
    table = _build(title, columns, cells, keep)
    while _natural_width(table) > console.width and optional:
        keep.remove(optional.pop())
        table = _build(title, columns, cells, keep)
    console.print(table)


def _natural_width(table: Table) -> int:
    """The table's width if nothing were squeezed (rich measures within the terminal otherwise)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def _build(title: str | None, columns: Sequence[Column], cells: list[list[str]], keep: list[int]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i in keep:  # a squeezed column keeps at least its header readable
        table.add_column(columns[i][1], no_wrap=True, overflow="ellipsis", min_width=len(columns[i][1]))
    for row in cells:
        table.add_row(*[row[i] for i in keep])
    return table


def _details(doc: dict[str, Any], columns: Sequence[Column]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for c in columns:
        grid.add_row(c[1].lower(), _cell(_dig(doc, c[0]), short=False))
    console.print(grid)


def _dig(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _cell(value: Any, short: bool) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v, short) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_nested(v, short)}" for k, v in value.items()) or "-"
    text = str(value)
    time = _TIME.match(text)
    if time:
        return f"{time.group(1)} {time.group(2)}"
    digest = _DIGEST.match(text) if short else None
    return f"sha256:{digest.group(1)}…" if digest else text


def _nested(value: Any, short: bool) -> str:
    return f"({_cell(value, short)})" if isinstance(value, (dict, list, tuple)) and value else _cell(value, short)

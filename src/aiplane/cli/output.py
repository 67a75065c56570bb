"""Printing: rich tables for people, `--output json` for programs."""

from __future__ import annotations

import enum
import json
import sys
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


class Format(str, enum.Enum):
    table = "table"
    json = "json"


def emit(data: Any, fmt: Format, columns: Sequence[tuple[str, str]] | None = None, title: str | None = None) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if columns is None:
        columns = [(k, k) for k in (rows[0].keys() if rows else [])]
    table = Table(title=title, show_lines=False)
    for _, header in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*[_cell(_dig(row, key)) for key, _ in columns])
    console.print(table)


def _dig(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)

"""Reading plain documents (parsed YAML or JSON) field by field; every error names the field.

Messages look like "workloads[2].latency_p99_ms: -5 is negative; use a positive number."
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from aiplane.domain.errors import InvalidInput


def mapping(value: Any, path: str, allowed: Iterable[str]) -> Mapping[str, Any]:
    """`value` as a mapping whose keys are all in `allowed`."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{path or 'the document'}: expected a mapping of fields, got {_show(value)}.")
    known = list(allowed)
    for key in value:
        if key not in known:
            raise InvalidInput(f"{_join(path, str(key))}: is not a known field; use one of: {', '.join(known)}.")
    return value


def number(value: Any, path: str, *, positive: bool = False, maximum: float | None = None) -> float:
    """A finite, non-negative number (strictly positive when `positive`), at most `maximum`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{path}: {_show(value)} is not a number; use a number such as 1 or 0.5.")
    if value < 0:
        raise InvalidInput(f"{path}: {value} is negative; use a positive number.")
    if positive and value == 0:
        raise InvalidInput(f"{path}: 0 is not allowed; use a number above 0.")
    if maximum is not None and value > maximum:
        raise InvalidInput(f"{path}: {value} is above the maximum {maximum:g}; use a number up to {maximum:g}.")
    return float(value)


def integer(value: Any, path: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{path}: {_show(value)} is not a whole number; use e.g. 4.")
    return int(number(value, path, positive=positive))


def text(value: Any, path: str, choices: Iterable[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{path}: {_show(value)} is not a name; use a non-empty string.")
    options = list(choices) if choices is not None else None
    if options is not None and value not in options:
        raise InvalidInput(f"{path}: {value!r} is not one of: {', '.join(options)}.")
    return value


def flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{path}: {_show(value)} is not true or false.")
    return value


def texts(value: Any, path: str, choices: Iterable[str] | None = None) -> tuple[str, ...]:
    """A list of names (a single name is a list of one), each among `choices` when given."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidInput(f"{path}: {_show(value)} is not a list; use e.g. [a, b].")
    options = list(choices) if choices is not None else None
    return tuple(dict.fromkeys(text(item, f"{path}[{i}]", options) for i, item in enumerate(items)))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."

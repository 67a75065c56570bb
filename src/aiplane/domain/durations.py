"""Durations written as `90d`, `12h`, `30m`, `2w`, `45s`."""

from __future__ import annotations

import re
from datetime import timedelta

from aiplane.domain.errors import InvalidInput

_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DAYS = 36525  # a hundred years: longer is a typo, and would overflow date arithmetic


def parse(field: str, text: str) -> timedelta:
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(f"{field} {text!r} is not a duration; use a positive whole number and a unit, e.g. 90d, 12h or 30m.")
    amount, unit = match.group(1), match.group(2)
    if len(amount) > 12 or int(amount) * _SECONDS[unit] > MAX_DAYS * 86400:
        raise InvalidInput(f"{field} {text!r} is too long; use at most {MAX_DAYS} days (a hundred years).")
    return timedelta(**{_UNIT[unit]: int(amount)})

"""Durations written as `90d`, `12h`, `30m`, `2w`, `45s`."""

from __future__ import annotations

import re
from datetime import timedelta

from aiplane.domain.errors import InvalidInput

_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse(field: str, text: str) -> timedelta:
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(f"{field} {text!r} is not a duration; use a positive whole number and a unit, e.g. 90d, 12h or 30m.")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})

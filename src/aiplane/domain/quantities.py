"""Kubernetes resource quantities: `16Gi`, `512Mi`, `1G`, `500m`, `2`, `1.5`.

Only the Kubernetes quantity syntax is accepted; anything else (`16Gb`, `16 GB`, `-1`) is
rejected with a sentence that says what would have been accepted. Amounts and counts are
bounded by what the store's integer columns hold, so an absurd number is a 400 naming the
field, never an overflow deeper down. Booleans are not numbers, and only ASCII digits count.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from aiplane.domain.errors import InvalidInput

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
            "P": Decimal(10**15), "E": Decimal(10**18)}
MAX_COUNT = 2**31 - 1  # replicas, GPUs, versions, days: the store's integer columns
MAX_AMOUNT = 2**63 - 1  # bytes and millicpus: its big integer columns
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse(field: str, value: str | int | float) -> Decimal:
    """Parse a non-negative quantity into a Decimal of base units."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} {value!r} is not a quantity; use a number or Kubernetes syntax like 16Gi.")
    if isinstance(value, (int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise InvalidInput(
            f"{field} {value!r} is not a valid quantity; use a non-negative number with an optional "
            "Kubernetes suffix (Ki, Mi, Gi, Ti, m, k, M, G, T), e.g. 16Gi or 500m."
        )
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex already guarantees a number
        raise InvalidInput(f"{field} {value!r} is not a number.") from None
    suffix = match.group(2) or ""
    scale = Decimal(_BINARY[suffix]) if suffix in _BINARY else _DECIMAL[suffix]
    return number * scale


def memory_bytes(field: str, value: str | int | float) -> int:
    amount = parse(field, value)
    if amount != amount.to_integral_value():
        raise InvalidInput(f"{field} {value!r} is not a whole number of bytes; use e.g. 512Mi or 16Gi.")
    return _bounded(field, value, int(amount), MAX_AMOUNT)


def millicpus(field: str, value: str | int | float) -> int:
    """CPUs as integer thousandths (`1.5` and `1500m` are both 1500)."""
    amount = parse(field, value) * 1000
    if amount != amount.to_integral_value():
        raise InvalidInput(f"{field} {value!r} is finer than a millicpu; use at most three decimals or 'm'.")
    return _bounded(field, value, int(amount), MAX_AMOUNT)


def _bounded(field: str, value: object, number: int, limit: int) -> int:
    if number > limit:
        raise InvalidInput(f"{field} {value!r} is too large; the most this field holds is {limit}.")
    return number


def format_memory(num_bytes: int) -> str:
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if num_bytes >= unit and num_bytes % unit == 0:
            return f"{num_bytes // unit}{suffix}"
    return str(num_bytes)


def format_cpus(milli: int) -> str:
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def count(field: str, value: int | str, limit: int = MAX_COUNT) -> int:
    """A non-negative whole count (replicas, GPUs), at most `limit`."""
    text = str(value).strip() if not isinstance(value, bool) else ""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidInput(f"{field} {value!r} is not a whole number.")
    if text.startswith("-") and int(digits):
        raise InvalidInput(f"{field} {value!r} is negative; use 0 or more.")
    return _bounded(field, value, int(digits), limit)

"""How amounts and quantities are written in reports."""

from __future__ import annotations


def usd(amount: float) -> str:
    """Whole dollars with thousands separators; a minus sign for negative amounts."""
    rounded = round(amount)
    return f"-${-rounded:,}" if rounded < 0 else f"${rounded:,}"


def rate(price: float) -> str:
    """A unit price, precise enough to recompute the amounts it produced."""
    return f"${price:,.4f}" if price < 100 else f"${price:,.2f}"


def quantity(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 or value >= 100 else f"{value:,.2f}"


def share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def compact(amount: float) -> str:
    """Short amounts for chart labels: $57k, $3.42M."""
    sign, value = ("-" if amount < 0 else ""), abs(amount)
    if value >= 1e6:
        return f"{sign}${value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{sign}${value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{sign}${value / 1e3:.1f}k"
    return f"{sign}${value:.0f}"

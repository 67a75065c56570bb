"""Inline SVG charts: no script, no external font or stylesheet, byte-for-byte deterministic.

`costs(plan)`: baseline vs optimized monthly cost per workload.
`savings(plan)`: per workload, one bar stacked by saving lever (a lever that costs money
is drawn left of zero); the legend gives the portfolio total of each lever, including the
idle share of whole pooled GPUs, which belongs to no single workload.
"""

from __future__ import annotations

from html import escape

from aiplane.domain.planning.plans import Lever, PortfolioPlan
from aiplane.reporting.money import compact, share, usd

COLORS = {Lever.TRAINING_BURST: "#4c78a8", Lever.TRAINING_ON_PREM: "#72b7b2", Lever.CPU_INFERENCE: "#54a24b",
          Lever.GPU_POOLING: "#f58518", Lever.QUANTIZATION: "#b279a2", Lever.INFERENCE_PLACEMENT: "#e45756",
          Lever.POOL_ROUNDING: "#9d755d"}
_FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""
_LABEL_W, _BAR_W, _PAD = 170, 480, 16


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" {_FONT} font-size="12">')
    return "\n".join([head, f"<title>{escape(title)}</title>",
                      f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
                      f'<text x="{_PAD}" y="22" font-size="15" font-weight="600">{escape(title)}</text>',
                      *body, "</svg>"]) + "\n"


def _bar(x: float, y: float, w: float, h: float, color: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(tip)}</title></rect>")


def _text(x: float, y: float, text: str, anchor: str = "start", color: str = "#222222") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}">{escape(text)}</text>'


def costs(plan: PortfolioPlan) -> str:
    rows = [w for w in plan.workloads if not w.infeasible]
    top = max([w.baseline.monthly for w in rows] + [1.0])
    body, y = [], 40.0
    for w in rows:
        body.append(_text(_PAD, y + 19, w.name))
        for value, color, kind in ((w.baseline.monthly, "#9aa5b1", "baseline"),
                                   (w.optimized_monthly, "#2b7bb9", "optimized")):
            width = value / top * _BAR_W
            body.append(_bar(_LABEL_W, y, width, 13, color, f"{w.name} {kind}: {usd(value)}/month"))
            body.append(_text(_LABEL_W + width + 5, y + 11, f"{compact(value)}", color="#444444"))
            y += 15
        y += 12
    body += [_bar(_LABEL_W, y + 2, 12, 12, "#9aa5b1", "baseline"), _text(_LABEL_W + 17, y + 12,
             "baseline: dedicated cloud GPUs, 24x7"), _bar(_LABEL_W + 260, y + 2, 12, 12, "#2b7bb9", "optimized"),
             _text(_LABEL_W + 277, y + 12, "optimized plan")]
    return _svg(_LABEL_W + _BAR_W + 70, int(y + 28), "Monthly cost per workload: baseline vs plan", body)


def savings(plan: PortfolioPlan) -> str:
    rows = [w for w in plan.workloads if not w.infeasible]
    pos = [sum(s.monthly for s in w.savings if s.monthly > 0) for w in rows]
    neg = [-sum(s.monthly for s in w.savings if s.monthly < 0) for w in rows]
    span = max(pos + [1.0]) + max(neg + [0.0])
    scale = _BAR_W / span
    zero = _LABEL_W + max(neg + [0.0]) * scale
    body, y = [], 40.0
    for w, total in zip(rows, pos):
        body.append(_text(_PAD, y + 14, w.name))
        right, left = zero, zero
        for s in w.savings:
            width = abs(s.monthly) * scale
            if s.monthly > 0:
                body.append(_bar(right, y, width, 20, COLORS[s.lever], f"{w.name}, {s.lever.value}: {usd(s.monthly)}"))
                right += width
            elif s.monthly < 0:
                left -= width
                body.append(_bar(left, y, width, 20, COLORS[s.lever], f"{w.name}, {s.lever.value}: {usd(s.monthly)}"))
        body.append(_text(right + 5, y + 14, f"{compact(total)}/mo", color="#444444"))
        y += 30
    body.append(f'<line x1="{zero:.1f}" y1="36" x2="{zero:.1f}" y2="{y - 6:.1f}" stroke="#555555"/>')
    y += 4
    for lever, amount in plan.savings_by_lever().items():
        body += [_bar(_PAD, y, 12, 12, COLORS[lever], lever.value),
                 _text(_PAD + 18, y + 10, f"{lever.value}: {usd(amount)}/month")]
        y += 18
    saved, base = plan.baseline_monthly - plan.optimized_monthly, plan.baseline_monthly
    body.append(f'<text x="{_PAD}" y="{y + 12:.1f}" font-weight="600">{escape(f"all levers: {usd(saved)}/month, ")}'
                f'{escape(f"{share(saved, base)} of the {usd(base)} baseline")}</text>')
    y += 20
    return _svg(_LABEL_W + _BAR_W + 80, int(y + 10), "Monthly savings by lever, per workload", body)

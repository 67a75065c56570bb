"""An SVG line chart of utilization over the month, dedicated vs pooled (no script, deterministic)."""

from __future__ import annotations

from html import escape

from simulate import Outcome

_W, _H, _L, _T, _B = 760, 300, 48, 40, 36
_COLORS = {"dedicated": "#e45756", "pooled (MIG)": "#4c78a8"}


def utilization(series: dict[str, Outcome], title: str) -> str:
    hours = len(next(iter(series.values())).utilization)
    plot_w, plot_h = _W - _L - 16, _H - _T - _B
    x = lambda h: _L + plot_w * h / (hours - 1)  # noqa: E731
    y = lambda u: _T + plot_h * (1 - min(u, 1.0))  # noqa: E731
    body = [f'<rect width="{_W}" height="{_H}" fill="#ffffff"/>',
            f'<text x="{_L}" y="22" font-size="15" font-weight="600">{escape(title)}</text>']
    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        body.append(f'<line x1="{_L}" x2="{_L + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#dddddd"/>')
        body.append(f'<text x="{_L - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#555555">{pct}%</text>')
    for day in range(0, hours // 24 + 1, 5):
        body.append(f'<text x="{x(min(day * 24, hours - 1)):.1f}" y="{_H - _B + 16}" text-anchor="middle" '
                    f'fill="#555555">day {day}</text>')
    for i, (name, outcome) in enumerate(series.items()):
        points = " ".join(f"{x(h):.1f},{y(u):.1f}" for h, u in enumerate(outcome.utilization))
        color = _COLORS.get(name, "#54a24b")
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{points}"/>')
        label = f"{name}: {outcome.gpus} GPUs, mean {outcome.mean:.0%}"
        body.append(f'<text x="{_L + 8 + 300 * i}" y="{_H - 6}" fill="{color}">{escape(label)}</text>')
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
            'role="img" font-family="system-ui, Helvetica, Arial, sans-serif" font-size="12">')
    return "\n".join([head, f"<title>{escape(title)}</title>", *body, "</svg>"]) + "\n"

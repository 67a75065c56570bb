"""The report as one self-contained HTML file: inline CSS and SVG, no script, opens offline."""

from __future__ import annotations

from html import escape

from aiplane.domain.planning.plans import PortfolioPlan
from aiplane.reporting import charts
from aiplane.reporting.report import INDENT, Report, Table

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2rem auto;max-width:72rem;
color:#222;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;margin:.3rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
ul{padding-left:1.2rem}li.why{margin-left:1.4rem;list-style:circle;color:#444}figure{margin:1rem 0}svg{max-width:100%;height:auto}
"""


def render(report: Report, plan: PortfolioPlan) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{escape(report.title)}</h1>"]
    for i, section in enumerate(report.sections):
        out.append(f"<h2>{escape(section.title)}</h2>")
        if section.notes:
            out.append("<ul>" + "".join(_note(n) for n in section.notes) + "</ul>")
        if i == 0:
            out += [f"<figure>{charts.costs(plan)}</figure>", f"<figure>{charts.savings(plan)}</figure>"]
        out += [_table(t) for t in section.tables]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _note(note: str) -> str:
    nested = ' class="why"' if note.startswith(INDENT) else ""
    return f"<li{nested}>{escape(note.strip())}</li>"


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    rows = "".join("<tr>" + "".join(f'<td{" class=n" if i in t.numeric else ""}>{escape(c)}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in t.rows)
    return f"<h3>{escape(t.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

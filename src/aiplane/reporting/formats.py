"""One entry point for the file formats of a plan: json, md, html."""

from __future__ import annotations

import enum
import json

from aiplane.domain.planning.plans import PortfolioPlan
from aiplane.reporting import charts, document, html, markdown, report


class ReportFormat(str, enum.Enum):
    TABLE = "table"  # the terminal's rich tables (rendered by the CLI)
    MD = "md"
    HTML = "html"
    JSON = "json"
    SVG = "svg"  # the chart of savings by lever alone (docs/img/plan-savings.svg)


MEDIA_TYPES = {ReportFormat.MD: "text/markdown; charset=utf-8", ReportFormat.HTML: "text/html; charset=utf-8",
               ReportFormat.JSON: "application/json", ReportFormat.SVG: "image/svg+xml"}


def render(plan: PortfolioPlan, fmt: ReportFormat) -> str:
    if fmt is ReportFormat.JSON:
        return json.dumps(document.build(plan), indent=2) + "\n"
    if fmt is ReportFormat.SVG:
        return charts.savings(plan)
    if fmt is ReportFormat.HTML:
        return html.render(report.build(plan), plan)
    return markdown.render(report.build(plan))

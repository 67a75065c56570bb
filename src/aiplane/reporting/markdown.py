"""The report as Markdown (`aiplane plan --format md`)."""

from __future__ import annotations

from aiplane.reporting.report import INDENT, Report, Table


def render(report: Report) -> str:
    out = [f"# {report.title}", ""]
    for section in report.sections:
        out += [f"## {section.title}", ""]
        for note in section.notes:
            nested = note.startswith(INDENT)
            out += [f"{'  ' if nested else ''}- {_escape(note.strip())}"]
        if section.notes:
            out.append("")
        for table in section.tables:
            out += _table(table)
    return "\n".join(out).rstrip() + "\n"


def _table(t: Table) -> list[str]:
    align = ["---:" if i in t.numeric else "---" for i in range(len(t.headers))]
    lines = [f"**{t.title}**", "", _row(t.headers), "|" + "|".join(align) + "|"]
    lines += [_row(r) for r in t.rows]
    return lines + [""]


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_escape(c) for c in cells) + " |"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")

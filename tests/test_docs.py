"""The project's docs, examples and code cite only what ships with it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SHIPPED = ("README.md", "Makefile", "pyproject.toml", "src", "docs", "examples", "bench", "scripts", "tests")
_TEXT = {".py", ".md", ".yaml", ".yml", ".sh", ".lua", ".conf", ".toml", ".txt", ""}


def _text_files() -> list[Path]:
    files: list[Path] = []
    for name in _SHIPPED:
        path = ROOT / name
        found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files += [p for p in found if p.suffix in _TEXT and "__pycache__" not in p.parts and p != Path(__file__)]
    return files


def test_nothing_cites_reference_material_users_do_not_have():
    citing = [str(p.relative_to(ROOT)) for p in _text_files()
              if "shared/" in (text := p.read_text(errors="replace")) or "REFERENCE-FIGURES" in text]
    assert not citing, f"cite docs/reference-figures.md instead of the unshipped reference in: {citing}"


def test_the_reference_figures_ship_with_their_sources():
    doc = (ROOT / "docs" / "reference-figures.md").read_text()
    for figure in ("$2,850 per GPU-month", "20 x $2,850 = $57,000 per month", "about $36,000 per year",
                   "| data-science | 16 | 128 |", "mig-user-guide"):
        assert figure in doc
    assert "Source" in doc and "docs/reference-figures.md" in (ROOT / "README.md").read_text()

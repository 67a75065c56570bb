"""The role table in docs/security.md is the one the code enforces (aiplane.domain.policy.ALLOWED)."""

from __future__ import annotations

import re
from pathlib import Path

from aiplane.domain.policy import ALLOWED, Action
from aiplane.domain.roles import Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def documented_role_table() -> dict[str, set[str]]:
    """role -> actions, read from the `| action | platform-admin | ... |` table of the docs."""
    lines = DOC.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| action |"))
    roles = [cell.strip() for cell in lines[head].strip("|").split("|")][1:]
    table: dict[str, set[str]] = {role: set() for role in roles}
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        action = re.fullmatch(r"`([a-z.]+)`", cells[0])
        assert action, f"not an action cell in docs/security.md: {cells[0]!r}"
        assert set(cells[1:]) <= {"yes", ""}, line
        for role, cell in zip(roles, cells[1:]):
            if cell == "yes":
                table[role].add(action.group(1))
    return table


def test_the_documented_role_table_is_the_enforced_one():
    documented = documented_role_table()
    enforced = {role.value: {a.value for a in actions} for role, actions in ALLOWED.items()}
    assert set(documented) == {r.value for r in Role}
    every = set().union(*documented.values())
    assert every == {a.value for a in Action}, "the docs' table names every action, and only those"
    assert documented == enforced

"""The CLI finds the platform from any directory (a `.aiplane/` in a parent, else the last
`aiplane up` of the account), and says to set AIPLANE_TOKEN when it finds no key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fails_in_one_line, run_cli

pytestmark = pytest.mark.serial


def test_the_cli_finds_the_platform_from_a_subdirectory_and_from_elsewhere(platform_factory: Any, tmp_path: Path):
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    project = tmp_path / "project"
    project.mkdir()
    p = platform_factory(env=state, data_dir=project / ".aiplane").start()
    deep, elsewhere = project / "models" / "v2", tmp_path / "elsewhere"
    deep.mkdir(parents=True)
    elsewhere.mkdir()
    for cwd in (project, deep, elsewhere):  # no AIPLANE_URL, no AIPLANE_TOKEN, and not on port 8080
        result = run_cli("tenant", "create", f"from-{cwd.name}", "-o", "json", cwd=cwd, env_extra=state)
        assert result.returncode == 0, (cwd, result.stderr)
        assert json.loads(result.stdout)["name"] == f"from-{cwd.name}"
    recorded = json.loads((tmp_path / "state" / "aiplane" / "platform.json").read_text())
    assert recorded == {"data_dir": str((project / ".aiplane").resolve()), "url": p.url}
    assert p.admin_key not in (tmp_path / "state" / "aiplane" / "platform.json").read_text()


def test_without_a_key_the_error_names_aiplane_token(tmp_path: Path):
    empty = {"XDG_STATE_HOME": str(tmp_path / "no-state")}
    fails_in_one_line(run_cli("tenant", "list", cwd=tmp_path, env_extra=empty), "set AIPLANE_TOKEN")


def test_a_refused_key_says_where_it_came_from(platform_factory: Any, tmp_path: Path):
    p = platform_factory().start()
    result = run_cli("tenant", "list", url=p.url, token="aip_000000000000_" + "0" * 48, cwd=tmp_path)
    fails_in_one_line(result, "unknown, revoked or expired; ask an admin for a new one (the key from AIPLANE_TOKEN).")

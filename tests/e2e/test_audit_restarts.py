"""The audit trail across restarts of a real platform.

Retention end to end, with entries really old enough to prune: the platform writes its events
today, then runs again 400 days later (libfaketime moves the main process's wall clock;
monotonic time stays real) and prunes: a tenant keeping 30 days loses its entries' content,
one keeping the default six years keeps everything, and the log still verifies.

A lost signing key: the platform makes a new one on its next start, and verification names
the change (which key signed the old checkpoints, which one is the platform's now).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Platform

pytestmark = pytest.mark.serial
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return str(result.stdout)


def _events(p: Platform, tenant: str) -> list[dict]:
    with p.http(p.admin_key) as http:
        return list(http.get("/api/v1/audit", params={"tenant": tenant, "limit": 1000}).json())


def test_entries_past_their_tenants_retention_are_pruned_and_the_log_still_verifies(tmp_path: Path):
    if not LIBFAKETIME.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{LIBFAKETIME} is missing; `make test` installs the faketime package.")
        pytest.skip("no libfaketime; `make test` installs it (apt package faketime)")
    today = Platform(tmp_path / "data").start()
    try:
        for tenant in ("short", "long"):
            _ok(today.cli("tenant", "create", tenant))
            _ok(today.cli("tenant", "set-quota", tenant, "--cpus", "2"))
        _ok(today.cli("audit", "retention", "short", "--days", "30"))
        before = {t: _events(today, t) for t in ("short", "long")}
        assert all(len(v) >= 2 and all("action" in e for e in v) for v in before.values()), before
        pruned_today = json.loads(_ok(today.cli("audit", "prune", "-o", "json")))
        assert pruned_today.get("short") == 0 and pruned_today.get("long") == 0  # nothing is 30 days old yet
    finally:
        today.stop()
    later = Platform(tmp_path / "data", {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": "+400d",
                                         "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"})
    later.start()
    try:
        pruned = json.loads(_ok(later.cli("audit", "prune", "-o", "json")))
        assert pruned["short"] == len(before["short"]) and pruned["long"] == 0, pruned
        short = {e["seq"]: e for e in _events(later, "short")}
        assert all(short.get(e["seq"], {"seq": e["seq"], "pruned": True}) == {"seq": e["seq"], "pruned": True}
                   for e in before["short"]), short
        assert [e for e in _events(later, "long") if e["seq"] in {b["seq"] for b in before["long"]}] == before["long"]
        _ok(later.cli("audit", "checkpoint"))
        assert "OK:" in _ok(later.cli("audit", "verify"))
    finally:
        later.stop()
        later.kill_everything()


def _signer(p: Platform) -> str:
    """The key id on the newest signed checkpoint (its `key` line)."""
    text = json.loads(_ok(p.cli("audit", "checkpoint", "-o", "json")))["text"]
    return next(line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("key "))


def test_verify_names_a_change_of_signing_key(tmp_path: Path):
    first = Platform(tmp_path / "data").start()
    try:
        _ok(first.cli("tenant", "create", "keyed"))
        assert "OK:" in _ok(first.cli("audit", "verify"))
        old_id = _signer(first)
    finally:
        first.stop()
    for name in ("signing.key", "signing.pub"):  # lost (or rotated by hand)
        (tmp_path / "data" / "audit" / name).rename(tmp_path / name)
    second = Platform(tmp_path / "data").start()
    try:
        _ok(second.cli("tenant", "create", "after"))
        new_id = _signer(second)
        assert new_id != old_id
        result = second.cli("audit", "verify")
    finally:
        second.stop()
        second.kill_everything()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = (result.stderr + result.stdout).strip().splitlines()
    assert len(lines) == 1 and f"signed by key {old_id}" in lines[0] and new_id in lines[0], lines

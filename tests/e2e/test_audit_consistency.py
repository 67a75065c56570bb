"""An auditor's kept checkpoint against the live server: a log cut back and regrown (its head
rewritten, newer checkpoints deleted) verifies on its own, and `audit check-consistency` catches it."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from aiplane.domain.merkle import Frontier
from aiplane.store.database import Database
from aiplane.store.tables import audit_checkpoints, audit_head, audit_log
from tests.conftest import Platform


def _signed(p: Platform, *tenants: str) -> dict[str, object]:
    with p.http(p.admin_key) as http:
        for name in tenants:
            assert http.post("/api/v1/tenants", json={"name": name}).status_code == 201
    out = p.cli("audit", "checkpoint", "-o", "json")
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def _cut_back_to(data_dir: Path, size: int) -> None:
    """What an insider with the database does: drop entries from `size` on, rewrite the head to
    match, and delete the checkpoints that would show it."""
    db = Database(f"sqlite:///{data_dir / 'aiplane.db'}")
    with db.write(bump_generation=False) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq >= size))
        conn.execute(audit_checkpoints.delete().where(audit_checkpoints.c.size > size))
        leaves = [bytes(r[0]) for r in conn.execute(sa.select(audit_log.c.leaf_hash).order_by(audit_log.c.seq))]
        frontier = Frontier()
        for leaf in leaves:
            frontier.append(leaf)
        conn.execute(audit_head.update().values(size=size, last_hash=leaves[-1], frontier=frontier.encode()))
    db.dispose()


def test_a_cut_and_regrown_log_passes_verify_but_not_the_check_against_a_kept_checkpoint(platform_factory,
                                                                                         tmp_path: Path):
    p = platform_factory().start()
    first = _signed(p, "aa")
    _signed(p, "bb", "cc")
    kept = tmp_path / "kept.jsonl"
    assert p.cli("audit", "export", "--out", str(kept)).returncode == 0
    public = tmp_path / "signing.pub"
    public.write_text(p.cli("audit", "public-key").stdout)
    ok = p.cli("audit", "check-consistency", "--file", str(kept), "--public-key", str(public))
    assert ok.returncode == 0 and "extends your checkpoint" in ok.stdout, ok.stdout + ok.stderr
    kept_size = int(json.loads(kept.read_text().splitlines()[0])["size"])
    p.stop()

    _cut_back_to(p.data_dir, int(first["size"]))  # type: ignore[call-overload]
    p.start()
    assert json.loads(p.cli("audit", "verify", "-o", "json").stdout)["ok"]  # the database alone looks fine
    cut = p.cli("audit", "check-consistency", "--file", str(kept), "--public-key", str(public))
    assert cut.returncode == 1 and "were cut (truncated)" in cut.stderr, cut.stdout + cut.stderr

    names = [f"t{i}" for i in range(kept_size)]
    regrown = _signed(p, *names)
    assert int(regrown["size"]) > kept_size  # type: ignore[call-overload]
    assert json.loads(p.cli("audit", "verify", "-o", "json").stdout)["ok"]
    again = p.cli("audit", "check-consistency", "--file", str(kept), "--public-key", str(public))
    assert again.returncode == 1 and "does not extend your checkpoint" in again.stderr, again.stdout + again.stderr
    assert "Traceback" not in again.stderr
    p.stop()

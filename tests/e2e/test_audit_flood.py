"""Requests without a valid key are audited as counts, not one event each: an anonymous flood
with long paths grows the log by a bounded number of small events (docs/audit.md)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import sqlalchemy as sa

from aiplane.store.database import Database
from aiplane.store.tables import audit_log
from tests.conftest import Platform

WINDOW_S = 2.0
FLOOD = 200


def _log_size(p: Platform, since: int = 0) -> tuple[int, int]:
    """(entries, bytes of entries) in the platform's log from position `since` on."""
    db = Database(f"sqlite:///{p.data_dir / 'aiplane.db'}")
    with db.read() as conn:
        n, size = conn.execute(sa.select(sa.func.count(), sa.func.sum(sa.func.length(audit_log.c.entry))).where(
            audit_log.c.seq >= since)).one()
    db.dispose()
    return int(n), int(size or 0)


def _counted(p: Platform, admin: httpx.Client, before: int, requests: int) -> list[dict[str, Any]]:
    """The `authenticate` events after position `before`, once they account for `requests`."""
    events: list[dict[str, Any]] = []
    for _ in range(100):
        events = admin.get("/api/v1/audit", params={"action": "authenticate", "after": before - 1, "limit": 100}).json()
        if sum(int(e["decision"].split()[0]) for e in events) >= requests:
            break
        time.sleep(0.1)
    return events


def test_an_anonymous_flood_with_long_paths_adds_a_few_counted_events(platform_factory):
    p: Platform = platform_factory({"AIPLANE_AUDIT_UNAUTHENTICATED_WINDOW_S": str(WINDOW_S),
                                    "AIPLANE_GATEWAY_AUTH_FAILURES_PER_MINUTE": "6000",
                                    "AIPLANE_GATEWAY_AUTH_FAILURE_BURST": "1000"}).start()
    entries, _ = _log_size(p)
    long_path = "/api/v1/tenants/" + "x" * 4000 + "/erase-payloads"
    bad_key = {"Authorization": "Bearer aip_0123456789ab_" + "0" * 48}
    started = time.monotonic()
    with httpx.Client(base_url=p.url, timeout=30) as anonymous:
        for i in range(FLOOD):
            assert anonymous.post(long_path, json={"name": "t", "tenant": "y" * 200}).status_code == 401
            assert anonymous.post("/v2/models/bc/infer", json={}, headers=bad_key).status_code == 401
        refused = anonymous.post("/api/v1/tenants", json={"name": "nobody"})
    windows = int((time.monotonic() - started) // WINDOW_S) + 2  # the flood spans at most this many
    assert refused.status_code == 401 and "x-aiplane-audit-id" not in refused.headers  # no event of its own
    with httpx.Client(base_url=p.url, headers={"Authorization": f"Bearer {p.admin_key}"}, timeout=30) as admin:
        events = _counted(p, admin, entries, 2 * FLOOD + 1)
    by_plane = {e["resource"].split("/")[0]: e for e in events}
    assert len(events) <= 2 * windows, events  # one per plane and status per window
    assert sum(int(e["decision"].split()[0]) for e in events) == 2 * FLOOD + 1
    assert by_plane["control-plane"]["status"] == 401 and by_plane["control-plane"]["source_ip"] == "127.0.0.1"
    assert by_plane["data-plane"]["resource"] == "data-plane/keys/0123456789ab"
    assert all(len(e["resource"]) <= 256 and e["tenant"] is None and e["actor"] is None for e in events)
    added, grown = _log_size(p, since=entries)
    assert added == len(events)  # nothing else was recorded for the flood
    assert grown < 2 * 1024 * windows, grown  # was one event per request: over 1 MB for this flood

"""The audit log on SQLite and PostgreSQL: group commit, positions across writers, and tampering
with the database in each of the five ways is found at its position."""

from __future__ import annotations

import asyncio
import base64
import socket
import sqlite3
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from aiplane.control import audit_files
from aiplane.control.audit import AuditService
from aiplane.control.tenants import TenantService
from aiplane.crypto.envelope import Envelope
from aiplane.crypto.signing import Signer
from aiplane.domain.audit import AuditEvent
from aiplane.domain.clock import SystemClock
from aiplane.domain.errors import Forbidden, NotFound, Unavailable
from aiplane.domain.policy import Principal
from aiplane.domain.roles import Role
from aiplane.domain.audit import payload_bytes
from aiplane.gateway import audit_server, audit_wire
from aiplane.gateway.audit_log import AuditWriter, PayloadSealer
from aiplane.store.audit import Filters
from aiplane.store.audit_appender import Appender
from aiplane.store.database import Database
from aiplane.store.tables import audit_checkpoints, audit_log
from tests.conftest import postgres_url, reset_postgres

ADMIN = Principal("admin", Role.PLATFORM_ADMIN, None)
CLOCK = SystemClock()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    pg = postgres_url()
    reset_postgres(pg)
    return pg


@pytest.fixture
def db(url: str):
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def service(db: Database, tmp_path: Path) -> AuditService:
    return AuditService(db, CLOCK, Signer.load_or_create(tmp_path / "signing.key"), Envelope(b"m" * 32), 2192)


def event(i: int, tenant: str | None = "alpha", when: datetime | None = None, writer: str = "w") -> AuditEvent:
    at = when or CLOCK.now()
    return AuditEvent(audit_id=f"{writer}-{i}", received_at=at, completed_at=at, actor="key1", role="predictor",
                      tenant=tenant, source_ip="127.0.0.1", action="predict", resource="deployments/bc", status=200,
                      deployment="bc", model="bc", model_version="1", request_id=f"r{i}", decision="label=1")


def record(db: Database, events: list[AuditEvent], payloads: list[bytes | None] | None = None,
           sealer: PayloadSealer | None = None) -> list[int]:
    """Through a real writer (serving from a thread here) and its client, as `up` does."""
    socket_path = Path(tempfile.mkdtemp(prefix="aiplane-audit-")) / "writer.sock"

    async def go() -> list[int]:
        writer = AuditWriter(socket_path)
        await writer.start()
        try:
            return list(await asyncio.gather(*[writer.record(e, p)
                                               for e, p in zip(events, payloads or [None] * len(events))]))
        finally:
            await writer.stop()

    with audit_server.running_in_thread(socket_path, Appender(db), sealer):
        return asyncio.run(go())


def logged(service: AuditService, n: int = 40) -> AuditService:
    """n events with checkpoints after 20 and after n."""
    record(service.db, [event(i) for i in range(20)])
    service.checkpoint()
    record(service.db, [event(i) for i in range(20, n)])
    service.checkpoint()
    return service


def test_group_commit_assigns_consecutive_positions_and_the_untouched_log_verifies(service: AuditService):
    positions = record(service.db, [event(i) for i in range(300)])
    assert sorted(positions) == list(range(300))
    assert service.checkpoint() is not None and service.checkpoint() is None  # nothing new to sign
    report = service.verify(ADMIN)
    assert report.ok and report.entries == 300 and report.signed_entries == 300, report


def test_an_empty_log_says_so_and_does_not_pass(service: AuditService):
    report = service.verify(ADMIN)
    assert not report.ok and "empty" in (report.problem or "")


def test_writers_in_separate_connections_never_share_a_position(url: str, service: AuditService):
    others = [Database(url) for _ in range(3)]
    results: dict[int, list[int]] = {}

    def run(k: int) -> None:
        results[k] = record(others[k], [event(i, writer=f"w{k}") for i in range(200)])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in others:
        d.dispose()
    assert sorted(p for ps in results.values() for p in ps) == list(range(600))
    stored = {e["seq"]: e["audit_id"] for e in service.query(ADMIN, Filters(), 1000)}
    for k, positions in results.items():
        assert [stored[p] for p in positions] == [f"w{k}-{i}" for i in range(200)]
    service.checkpoint()
    assert service.verify(ADMIN).ok


def _entry(db: Database, seq: int) -> bytes:
    with db.read() as conn:
        return bytes(conn.execute(sa.select(audit_log.c.entry).where(audit_log.c.seq == seq)).scalar_one())


def _shift(conn: Any, from_seq: int, by: int) -> None:
    conn.execute(audit_log.update().where(audit_log.c.seq >= from_seq).values(seq=audit_log.c.seq + 1_000_000))
    conn.execute(audit_log.update().where(audit_log.c.seq >= 1_000_000).values(seq=audit_log.c.seq - 1_000_000 + by))


def _tamper(db: Database, how: str) -> None:
    c = audit_log.c
    with db.write(bump_generation=False) as conn:
        if how == "modified":
            changed = _entry(db, 7).replace(b'"decision":"label=1"', b'"decision":"label=0"')
            conn.execute(audit_log.update().where(c.seq == 7).values(entry=changed))
        elif how == "modified-with-its-hash":
            changed = _entry(db, 7).replace(b'"decision":"label=1"', b'"decision":"label=0"')
            import hashlib
            conn.execute(audit_log.update().where(c.seq == 7).values(
                entry=changed, leaf_hash=hashlib.sha256(b"\x00" + changed).digest()))
        elif how == "deleted":
            conn.execute(audit_log.delete().where(c.seq == 12))
        elif how == "inserted":
            copy = conn.execute(sa.select(audit_log).where(c.seq == 30)).mappings().one()
            _shift(conn, 5, 1)
            conn.execute(audit_log.insert().values({**copy, "seq": 5, "audit_id": "forged"}))
        elif how == "reordered":
            conn.execute(audit_log.update().where(c.seq == 3).values(seq=-1))
            conn.execute(audit_log.update().where(c.seq == 4).values(seq=3))
            conn.execute(audit_log.update().where(c.seq == -1).values(seq=4))
        elif how == "truncated":
            conn.execute(audit_log.delete().where(c.seq >= 35))
        elif how == "checkpoint-altered":
            text = conn.execute(sa.select(audit_checkpoints.c.text).where(audit_checkpoints.c.size == 20)).scalar_one()
            conn.execute(audit_checkpoints.update().where(audit_checkpoints.c.size == 20).values(
                text=text.replace("size 20", "size 19")))
        elif how == "checkpoint-removed":
            conn.execute(audit_checkpoints.delete().where(audit_checkpoints.c.size == 20))
        elif how.startswith("column-"):  # one indexed column beside the signed entry
            column, value = _EDITS[how]
            conn.execute(audit_log.update().where(c.seq == 9).values({column: value}))


_EDITS: dict[str, tuple[str, Any]] = {
    "column-tenant": ("tenant", "beta"), "column-tenant-cleared": ("tenant", None), "column-actor": ("actor", "key2"),
    "column-action": ("action", "deploy.delete"), "column-deployment": ("deployment", "other"),
    "column-time": ("created_at", datetime(2020, 1, 1, tzinfo=timezone.utc)), "column-audit-id": ("audit_id", "w-x"),
}


@pytest.mark.parametrize("how,position,words", [
    ("modified", 7, "modified"),
    ("modified-with-its-hash", 7, "modified or replaced"),
    ("deleted", 12, "missing"),
    ("inserted", 5, "belongs at position 30"),
    ("reordered", 3, "belongs at position 4"),
    ("truncated", 35, "truncated"),
    ("checkpoint-altered", 0, "invalid signature"),
    ("checkpoint-removed", 0, "does not follow"),
    ("column-tenant", 9, "stored tenant is 'beta' but the signed entry says 'alpha'"),
    ("column-tenant-cleared", 9, "stored tenant is none"),
    ("column-actor", 9, "stored actor is 'key2'"),
    ("column-action", 9, "stored action"),
    ("column-deployment", 9, "stored deployment"),
    ("column-time", 9, "stored time is '2020-01-01T00:00:00+00:00'"),
    ("column-audit-id", 9, "stored audit_id is 'w-x' but the signed entry says 'w-9'"),
])
def test_tampering_with_the_database_is_found_at_the_first_bad_position(service: AuditService, how: str,
                                                                        position: int, words: str):
    logged(service)
    assert service.verify(ADMIN).ok
    _tamper(service.db, how)
    report = service.verify(ADMIN)
    assert not report.ok
    assert report.first_bad_position == position, report
    assert words in (report.problem or ""), report


def test_payloads_are_sealed_per_tenant_and_erasing_the_key_leaves_the_log_verifiable(service: AuditService):
    sealer = PayloadSealer(service.keys, CLOCK)
    record(service.db, [event(0), event(1, tenant="beta")],
           [payload_bytes(b'{"inputs":1}', b'{"outputs":2}'), payload_bytes(b"beta in", b"beta out")], sealer)
    with service.db.read() as conn:
        stored = b"".join(bytes(r[0]) for r in conn.execute(sa.select(audit_log.c.payload)))
    assert b"inputs" not in stored and b"beta in" not in stored  # encrypted at rest
    doc = service.payload(ADMIN, "w-0")
    assert base64.b64decode(doc["input"]) == b'{"inputs":1}' and base64.b64decode(doc["output"]) == b'{"outputs":2}'
    assert service.erase_payloads(ADMIN, "alpha") == {"tenant": "alpha", "data_keys_destroyed": 1}
    assert service.payload(ADMIN, "w-0")["erased"] is True
    assert base64.b64decode(service.payload(ADMIN, "w-1")["input"]) == b"beta in"  # other tenants untouched
    service.checkpoint()
    assert service.verify(ADMIN).ok
    with pytest.raises(Forbidden):
        service.erase_payloads(Principal("k", Role.TENANT_ADMIN, "beta"), "alpha")


def test_retention_prunes_old_content_but_keeps_the_tree_verifiable(service: AuditService):
    old = CLOCK.now() - timedelta(days=400)
    record(service.db, [event(0, when=old), event(1, tenant="beta", when=old), event(2)])
    service.checkpoint()
    TenantService(service.db, CLOCK, lambda: None).create(ADMIN, "alpha", {}, None, None)
    service.set_retention(ADMIN, "alpha", 365)
    assert service.prune(ADMIN) == {"alpha": 1, "beta": 0}  # beta keeps the six-year default
    events = service.query(ADMIN, Filters(), 10)
    assert events[0] == {"seq": 0, "pruned": True} and events[1]["tenant"] == "beta" and events[2]["seq"] == 2
    assert service.verify(ADMIN).ok


def test_tenant_keys_read_only_their_tenant(service: AuditService):
    record(service.db, [event(0), event(1, tenant="beta"), event(2, tenant=None)])
    beta = Principal("k", Role.AUDITOR, "beta")
    assert [e["tenant"] for e in service.query(beta, Filters(), 10)] == ["beta"]
    assert [e["tenant"] for e in service.query(ADMIN, Filters(), 10)] == ["alpha", "beta", None]
    with pytest.raises(Forbidden):
        service.query(beta, Filters(tenant="alpha"), 10)
    with pytest.raises(Forbidden):
        service.query(Principal("p", Role.PREDICTOR, "beta"), Filters(), 10)


def test_a_row_moved_to_another_tenant_in_the_database_stays_out_of_its_view_and_fails_verify(
        service: AuditService, tmp_path: Path):
    record(service.db, [event(0), event(1, tenant="beta"), event(2)])
    service.checkpoint()
    with service.db.write(bump_generation=False) as conn:  # an insider moves alpha's event 2 to beta
        conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(tenant="beta"))
    report = service.verify(ADMIN)
    assert not report.ok and report.first_bad_position == 2 and "stored tenant is 'beta'" in (report.problem or "")
    beta = Principal("k", Role.AUDITOR, "beta")
    assert [e["audit_id"] for e in service.query(beta, Filters(), 10)] == ["w-1"]
    assert [e["audit_id"] for e in service.query(ADMIN, Filters(tenant="beta"), 10)] == ["w-1"]
    lines = b"".join(service.export_jsonl(beta, Filters())).splitlines()
    assert b"w-2" not in b"".join(lines) and lines[-1].endswith(b'"entry":null}')
    assert b"w-2" not in b"".join(service.export_csv(beta, Filters()))
    with pytest.raises(NotFound):
        service.inclusion_proof(beta, "w-2")


def test_an_export_of_one_tenant_that_shows_another_tenants_event_fails_offline(service: AuditService,
                                                                                 tmp_path: Path):
    record(service.db, [event(0, tenant="beta"), event(1), event(2, tenant="beta")])
    service.checkpoint()
    lines = b"".join(service.export_jsonl(ADMIN, Filters())).splitlines(keepends=True)
    header = orjson.loads(lines[0])
    export = tmp_path / "beta.jsonl"
    export.write_bytes(orjson.dumps(header | {"tenant": "beta"}) + b"\n" + b"".join(lines[1:]))
    report, _ = audit_files.verify_export(export)
    assert not report.ok and report.first_bad_position == 1, report
    assert "belongs to tenant 'alpha', but this is an export of tenant 'beta'" in (report.problem or "")
    honest = tmp_path / "honest.jsonl"
    honest.write_bytes(b"".join(service.export_jsonl(Principal("k", Role.AUDITOR, "beta"), Filters())))
    assert audit_files.verify_export(honest)[0].ok


def test_events_a_client_sent_before_closing_are_committed(db: Database, service: AuditService):
    socket_path = Path(tempfile.mkdtemp(prefix="aiplane-audit-")) / "writer.sock"
    frames = b"".join(audit_wire.event_frame(orjson.dumps(event(i, writer="gone")), None) for i in range(3))
    with audit_server.running_in_thread(socket_path, Appender(db)):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(socket_path))
            client.sendall(frames)  # and goes away without waiting for the acknowledgement
        for _ in range(100):
            if len(service.query(ADMIN, Filters(), 10)) == 3:
                break
            time.sleep(0.05)
    assert [e["audit_id"] for e in service.query(ADMIN, Filters(), 10)] == ["gone-0", "gone-1", "gone-2"]


def test_an_event_that_timed_out_does_not_shift_the_positions_of_later_ones(db: Database, service: AuditService):
    """The writer still commits an event whose waiter gave up; its acknowledgement must not be
    taken for the next event's (which would release that answer before its own event is durable)."""
    if not db.is_sqlite:
        pytest.skip("holds SQLite's write lock")
    socket_path = Path(tempfile.mkdtemp(prefix="aiplane-audit-")) / "writer.sock"
    blocker = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)

    async def go() -> int:
        writer = AuditWriter(socket_path, commit_timeout_s=0.3)
        await writer.start()
        try:
            blocker.execute("BEGIN IMMEDIATE")  # the writer waits for the store
            with pytest.raises(Unavailable):
                await writer.record(event(0, writer="late"))
            blocker.execute("ROLLBACK")
            return await writer.record(event(1, writer="next"))
        finally:
            await writer.stop()

    with audit_server.running_in_thread(socket_path, Appender(db)):
        position = asyncio.run(go())
    stored = {e["audit_id"]: e["seq"] for e in service.query(ADMIN, Filters(), 10)}
    assert stored == {"late-0": 0, "next-1": 1} and position == 1

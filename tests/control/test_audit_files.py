"""Offline verification of JSON Lines exports: the v2 layout (each entry embedded as its own
bytes) verifies, is plain JSON line by line, and any line off that exact layout is refused with
one sentence naming the line; v1 exports still verify."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from aiplane.control import audit_files
from aiplane.control.audit import EXPORT_FORMAT, AuditService
from aiplane.crypto.envelope import Envelope
from aiplane.crypto.signing import Signer
from aiplane.domain.audit import AuditEvent
from aiplane.domain.clock import SystemClock
from aiplane.domain.errors import InvalidInput
from aiplane.domain.policy import Principal
from aiplane.domain.roles import Role
from aiplane.store.audit import Filters
from aiplane.store.audit_appender import Appender, Pending
from aiplane.store.database import Database

ADMIN = Principal("admin", Role.PLATFORM_ADMIN, None)
CLOCK = SystemClock()
ENTRIES = 10


def _event(i: int) -> AuditEvent:
    now = CLOCK.now()
    return AuditEvent(audit_id=f"e{i}", received_at=now, completed_at=now, actor="key1", role="predictor",
                      tenant="alpha" if i % 2 else "beta", source_ip="127.0.0.1", action="predict",
                      resource="deployments/bc", status=200, deployment="bc", decision="label=1")


def _export(db: Database, folder: Path, events: list[Pending], tenant: str | None = None) -> tuple[Path, Path]:
    """Appends `events` (a checkpoint after the sixth and at the end), exports the log; (export, public key)."""
    service = AuditService(db, CLOCK, Signer.load_or_create(folder / "signing.key"), Envelope(b"m" * 32), 2192)
    appender = Appender(db)
    try:
        for batch in (events[:6], events[6:]):
            appender.append(batch)
            service.checkpoint()
    finally:
        appender.close()
    out = folder / "audit.jsonl"
    out.write_bytes(b"".join(service.export_jsonl(ADMIN, Filters(tenant=tenant))))
    return out, folder / "signing.pub"


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    db = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    db.migrate()
    try:
        return _export(db, tmp_path, [Pending.of(_event(i)) for i in range(ENTRIES)])
    finally:
        db.dispose()


def _entry_lines(path: Path) -> tuple[list[str], int]:
    """The file's lines, and the index of the first entry line."""
    lines = path.read_text().splitlines(keepends=True)
    return lines, next(i for i, line in enumerate(lines) if line.startswith('{"seq"'))


def test_an_export_embeds_each_entry_as_json_and_verifies(db: Database, tmp_path: Path):
    export, key = _export(db, tmp_path, [Pending.of(_event(i)) for i in range(ENTRIES)])
    lines, first = _entry_lines(export)
    docs = [json.loads(line) for line in lines]  # every line is plain JSON, ready for jq
    assert docs[0]["format"] == EXPORT_FORMAT == "aiplane-audit-export/v2"
    assert [d["entry"]["seq"] for d in docs[first:]] == list(range(ENTRIES))
    assert {d["entry"]["audit_id"] for d in docs[first:]} == {f"e{i}" for i in range(ENTRIES)}
    report, trusted = audit_files.verify_export(export, key)
    assert report.ok and trusted
    assert (report.entries, report.checkpoints, report.signed_entries) == (ENTRIES, 2, ENTRIES)


def test_entries_not_shown_are_null_and_the_export_still_verifies(db: Database, tmp_path: Path):
    export, key = _export(db, tmp_path, [Pending.of(_event(i)) for i in range(ENTRIES)], tenant="alpha")
    lines, first = _entry_lines(export)
    entries = [json.loads(line)["entry"] for line in lines[first:]]
    assert [e is not None for e in entries] == [i % 2 == 1 for i in range(ENTRIES)]
    assert audit_files.verify_export(export, key)[0].ok


def test_an_entry_with_a_line_break_is_exported_as_a_string_and_verifies(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    db.migrate()
    body = orjson.dumps(_event(3)).replace(b',"action"', b',\n"action"')  # whitespace only a hand-made client sends
    events = [Pending.of(_event(i)) for i in range(ENTRIES)]
    events[3] = Pending.parse(body)
    try:
        export, key = _export(db, tmp_path, events)
    finally:
        db.dispose()
    lines, first = _entry_lines(export)
    assert len(lines) == first + ENTRIES
    assert "\n" in json.loads(lines[first + 3])["entry"]
    assert audit_files.verify_export(export, key)[0].ok


def _damage(line: str, how: str) -> str:
    if how == "extra spaces":
        return line.replace('{"seq":4,', '{"seq": 4,', 1)
    if how == "truncated":
        return line[: len(line) // 2] + "\n"
    at = line.index('"leaf_hash":"') + 13  # the first hex digit
    if how == "63 hex digits":
        return line[:at] + line[at + 1:]
    if how == "uppercase hex":
        return line[:at] + line[at:at + 64].upper() + line[at + 64:]
    if how == "leading zero":
        return line.replace('{"seq":4,', '{"seq":04,', 1)
    if how == "entry as a string":
        doc = json.loads(line)
        return json.dumps({**doc, "entry": json.dumps(doc["entry"], separators=(",", ":"))},
                          separators=(",", ":")) + "\n"
    if how == "a key added":
        return line[:-2] + ',"note":1}\n'
    if how == "blank":
        return "\n"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["extra spaces", "truncated", "63 hex digits", "uppercase hex", "leading zero",
                                 "entry as a string", "a key added", "blank"])
def test_an_entry_line_off_the_exact_layout_is_one_clear_error(exported: tuple[Path, Path], how: str):
    export, key = exported
    lines, first = _entry_lines(export)
    lines[first + 4] = _damage(lines[first + 4], how)
    export.write_text("".join(lines))
    with pytest.raises(InvalidInput) as caught:
        audit_files.verify_export(export, key)
    assert str(caught.value) == (f"line {first + 5} of {str(export)!r} is not an export record; the file was "
                                 f"damaged or edited by hand.")


def test_a_checkpoint_among_the_entries_is_named(exported: tuple[Path, Path]):
    export, key = exported
    lines, first = _entry_lines(export)
    lines.insert(first + 2, lines[first - 1])
    export.write_text("".join(lines))
    with pytest.raises(InvalidInput, match=f"line {first + 3} of .* is a checkpoint among the entries"):
        audit_files.verify_export(export, key)


def test_a_missing_final_newline_still_verifies(exported: tuple[Path, Path]):
    export, key = exported
    export.write_bytes(export.read_bytes().rstrip(b"\n"))
    assert audit_files.verify_export(export, key)[0].ok


def test_a_v1_export_still_verifies_and_tampering_in_it_shows(exported: tuple[Path, Path]):
    export, key = exported
    lines, first = _entry_lines(export)
    header = {**json.loads(lines[0]), "format": "aiplane-audit-export/v1"}
    v1 = [json.dumps(header) + "\n", *lines[1:first]]
    for line in lines[first:]:
        raw = line[line.index(',"entry":') + 9:-2]  # the entry's exact text
        doc = json.loads(line)
        v1.append(json.dumps({"seq": doc["seq"], "leaf_hash": doc["leaf_hash"], "entry": raw}) + "\n")
    export.write_text("".join(v1))
    assert audit_files.verify_export(export, key)[0].ok
    v1[first + 4] = v1[first + 4].replace('\\"status\\":200', '\\"status\\":500')
    export.write_text("".join(v1))
    report = audit_files.verify_export(export, key)[0]
    assert not report.ok and report.first_bad_position == 4 and "modified" in (report.problem or "")


def test_an_export_of_an_unknown_version_is_refused_in_one_sentence(exported: tuple[Path, Path]):
    export, key = exported
    text = export.read_text().replace(EXPORT_FORMAT, "aiplane-audit-export/v9", 1)
    export.write_text(text)
    with pytest.raises(InvalidInput, match=r"is an aiplane-audit-export/v9 export, which this version of aiplane "
                                           r"cannot read \(it reads aiplane-audit-export/v1 and "
                                           r"aiplane-audit-export/v2\); verify it with a newer aiplane\.$"):
        audit_files.verify_export(export, key)

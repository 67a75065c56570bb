"""The audit event: one shape for control actions and predictions.

Modelled on the Kubernetes `audit.k8s.io/v1` Event: `audit_id` (auditID), `stage`, `level`,
`received_at` / `completed_at` (requestReceivedTimestamp / stageTimestamp), `actor` and
`role` (user), `tenant` (namespace), `source_ip` (sourceIPs), `action` (verb), `resource`
(objectRef), `status` and `outcome` (responseStatus), and `user` (user.extra: the person's
issuer, subject, email and name when the call came with an SSO token). A prediction adds its deployment, model,
version and artifact digest, the request id, the latency, keyed HMACs of the input and the
output (pseudonyms: equal payloads can be matched without being revealed) and a short
decision summary. docs/audit.md shows the mapping and the log entry layout.

A log entry is the event's JSON preceded by its position and the hash of the entry before it:

    {"seq":41,"prev":"<64 hex>","audit_id":...}

so the entry bytes alone tell where they belong, and the log is a hash chain as well as the
leaves of a Merkle tree (see `merkle`): a changed, deleted, inserted or moved entry shows at
its own position.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from aiplane.domain.identity import Person

STAGE = "ResponseComplete"
STAGE_RECEIVED = "RequestReceived"  # a control call's first event, written before the change (no status yet)
LEVEL_METADATA = "Metadata"
LEVEL_PAYLOAD = "RequestResponse"  # the payload was kept, encrypted with the tenant's data key
GENESIS = b"\x00" * 32


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 2x, and this one is built per prediction
class AuditEvent:
    audit_id: str
    received_at: datetime
    completed_at: datetime
    actor: str | None
    role: str | None
    tenant: str | None
    source_ip: str | None
    action: str
    resource: str
    status: int | None  # None at STAGE_RECEIVED
    stage: str = STAGE
    level: str = LEVEL_METADATA
    # Predictions only:
    deployment: str | None = None
    model: str | None = None
    model_version: str | None = None
    artifact_digest: str | None = None
    request_id: str | None = None
    latency_ms: float | None = None
    input_hmac: str | None = None
    output_hmac: str | None = None
    decision: str | None = None
    # A person signed in through SSO (issuer, subject, email, name); None for a key, whose
    # id is the actor. Inside the entry, so it is hashed and signed like every other field.
    user: Person | None = None

    @property
    def outcome(self) -> str:
        return _outcome(self.status)


FIELDS = tuple(f.name for f in dataclasses.fields(AuditEvent))


def new_audit_id(unix_ms: int, random74: int) -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: 48 bits of milliseconds, version, 74 random bits.
    Time-ordered ids land at the end of the log's unique index, so a group commit dirties one
    index page instead of one random page per event."""
    return f"{(unix_ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (random74 >> 62 & 0xFFF) << 64 | 0x2 << 62 | random74 & 0x3FFF_FFFF_FFFF_FFFF:032x}"


def entry_prefix(seq: int, prev: bytes) -> bytes:
    """What goes before the event's JSON (without its opening brace) in leaf `seq`'s entry;
    hash the entry bytes as stored, never a re-encoding."""
    return b'{"seq":%d,"prev":"%s",' % (seq, prev.hex().encode())


# The columns stored beside each entry for queries and scoping, in this order. They are copies
# of the signed entry's fields, so verification compares them with it: a column edited in the
# database would otherwise move an event into another tenant's view unnoticed.
COLUMN_NAMES = ("audit_id", "tenant", "actor", "action", "deployment", "time")
# The time as the store returns it: a datetime, or SQLite's text ("2026-12-08 03:14:03.123456", UTC).
Columns = tuple["str | None", "str | None", "str | None", "str | None", "str | None", "datetime | str | None"]


def columns_of(doc: dict[str, Any]) -> Columns:
    """The indexed columns an entry's fields give (time: its completed_at, in UTC)."""
    return (doc.get("audit_id"), doc.get("tenant"), doc.get("actor"), doc.get("action"), doc.get("deployment"),
            utc_time(doc.get("completed_at")))


def columns_agree(doc: dict[str, Any], stored: Columns) -> bool:
    """Whether the stored columns hold the entry's values (verification runs this per entry)."""
    if (doc.get("audit_id"), doc.get("tenant"), doc.get("actor"), doc.get("action"), doc.get("deployment")) != stored[:5]:
        return False
    signed, column = doc.get("completed_at"), stored[5]
    # The common case without parsing: the platform writes UTC times, and SQLite keeps them as text.
    if isinstance(column, str) and isinstance(signed, str) and signed.endswith("+00:00") and len(signed) == 32 \
            and signed[:10] == column[:10] and signed[11:26] == column[11:]:
        return True
    return utc_time(signed) == (utc_time(column) if isinstance(column, str) else column)


def utc_time(value: Any) -> datetime | None:
    """An entry's ISO 8601 time, timezone-aware (a time without a zone is UTC); None if not one.
    Aware times compare equal across zones, so none is converted."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def column_mismatch(doc: dict[str, Any], stored: Columns) -> str | None:
    """What the first stored column that disagrees with the entry holds, or None when all agree."""
    for name, signed, column in zip(COLUMN_NAMES, columns_of(doc), stored):
        if isinstance(column, str) and name == "time":
            column = utc_time(column)
        if signed != column:
            return f"its stored {name} is {_shown(column)} but the signed entry says {_shown(signed)}"
    return None


def _shown(value: str | datetime | None) -> str:
    if value is None:
        return "none"
    return repr(value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else value)


def decode_entry(entry: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(entry)
    status = doc.get("status", 500)
    doc["outcome"] = _outcome(status if status is None else int(status))
    return doc


def _outcome(status: int | None) -> str:
    if status is None:
        return "unknown"  # a RequestReceived event: the result is in the ResponseComplete one
    return "success" if status < 400 else "failure"


def payload_bytes(request: bytes, response: bytes) -> bytes:
    """A logged payload's plaintext: 4-byte big-endian input length, input, output."""
    return struct.pack(">I", len(request)) + request + response


def split_payload(plain: bytes) -> tuple[bytes, bytes]:
    (n,) = struct.unpack(">I", plain[:4])
    return plain[4:4 + n], plain[4 + n:]


def recorded_position(entry: bytes) -> int | None:
    """The position an entry says it has, or None when it does not parse as an entry."""
    if not entry.startswith(b'{"seq":'):
        return None
    digits = entry[7:entry.find(b",", 7)]
    return int(digits) if digits.isdigit() else None

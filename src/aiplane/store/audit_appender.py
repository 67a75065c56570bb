"""The audit log's one append path, on a driver connection of its own.

This runs once per group commit, under every prediction, so it skips SQLAlchemy's
per-statement machinery and talks to the driver directly: four statements a batch (begin,
head update, one multi-row insert, commit; on PostgreSQL the rows go by COPY, which doubled
its durable events/s against a statement with thousands of text parameters).

Positions are assigned under the head row's lock, so writers in several processes (or
connections) never share one. The tree's head is cached between batches; the head update is
conditional on the size the cache expects, and when another writer moved the head the batch is
renumbered from the stored head before anything is inserted.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

import orjson

from aiplane.domain import audit
from aiplane.domain.audit import AuditEvent
from aiplane.domain.merkle import Frontier
from aiplane.store.database import Database
from aiplane.store.tables import audit_log

_COLUMNS = ("seq", "audit_id", "tenant", "actor", "action", "deployment", "created_at", "leaf_hash", "entry",
            "payload", "payload_key")
_ROWS_PER_STATEMENT = 2000  # SQLite's multi-row insert: 11 parameters a row, well under its 32,766

Sealed = tuple[bytes, int]  # ciphertext, data key id


@dataclass(slots=True)
class Pending:
    """An event on its way into the log: its JSON (the entry's body, hashed as is), the columns
    queries use, and the payload to seal when the deployment logs payloads."""

    body: bytes
    audit_id: str
    tenant: str | None
    actor: str | None
    action: str
    deployment: str | None
    created_at: datetime
    plaintext: bytes | None = None

    @classmethod
    def of(cls, event: AuditEvent, plaintext: bytes | None = None) -> Pending:
        return cls(orjson.dumps(event), event.audit_id, event.tenant, event.actor, event.action, event.deployment,
                   event.completed_at, plaintext)

    @classmethod
    def parse(cls, body: bytes, plaintext: bytes | None = None) -> Pending:
        """From an event's JSON as a client sent it; ValueError when it is not one."""
        try:
            doc = orjson.loads(body)
            if not (isinstance(doc, dict) and body[:1] == b"{" and isinstance(doc["audit_id"], str)
                    and isinstance(doc["action"], str)):
                raise ValueError("not an audit event object")
            return cls(body, doc["audit_id"], _text(doc.get("tenant")), _text(doc.get("actor")), doc["action"],
                       _text(doc.get("deployment")), datetime.fromisoformat(doc["completed_at"]), plaintext)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not an audit event: {exc}") from None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("an audit event column is not text")


class DataKeys:
    """Tenant data keys, read and created inside the append transaction (payload logging)."""

    def __init__(self, cursor: Any, mark: str, bind_time: Callable[[Any], Any]) -> None:
        self.cursor, self.mark, self.bind_time = cursor, mark, bind_time

    def live(self, tenant: str) -> tuple[int, bytes] | None:
        self.cursor.execute(f"SELECT id, wrapped FROM audit_data_keys WHERE tenant = {self.mark} "
                            "AND wrapped IS NOT NULL ORDER BY id DESC LIMIT 1", (tenant,))
        row = self.cursor.fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def create(self, tenant: str, wrapped: bytes, now: datetime) -> int:
        m = self.mark
        self.cursor.execute(f"INSERT INTO audit_data_keys (tenant, wrapped, created_at) VALUES ({m}, {m}, {m}) "
                            "RETURNING id", (tenant, wrapped, self.bind_time(now)))
        return int(self.cursor.fetchone()[0])


Sealer = Callable[[DataKeys, Pending], Sealed]


class Appender:
    def __init__(self, db: Database) -> None:
        self.db = db
        dialect = db.engine.dialect
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        processor = audit_log.c.created_at.type._cached_bind_processor(dialect)
        self.bind_time: Callable[[Any], Any] = processor if processor is not None else (lambda value: value)
        self._conn: Any = None
        self._head: tuple[int, bytes, Frontier] | None = None

    def append(self, events: Sequence[Pending], seal: Sealer | None = None) -> int:
        """Append `events` durably, in one transaction; returns the first position. Raises (and
        leaves nothing behind) when the transaction cannot commit."""
        if self._conn is None:
            self._conn = self.db.engine.raw_connection()
        conn = self._conn
        cur = conn.cursor()
        try:
            if self.db.is_sqlite:
                cur.execute("BEGIN IMMEDIATE")
            keys = DataKeys(cur, self.mark, self.bind_time)
            sealed = [None if e.plaintext is None or seal is None or e.tenant is None else seal(keys, e) for e in events]
            head = self._head or self._read_head(cur)
            rows, new_head = self._rows(head, events, sealed)
            if not self._advance(cur, head, new_head):
                head = self._read_head(cur)  # another writer appended since our last batch
                rows, new_head = self._rows(head, events, sealed)
                if not self._advance(cur, head, new_head):
                    raise RuntimeError("the audit head moved while it was locked")
            if self.db.is_sqlite:
                row_marks = f"({', '.join([self.mark] * len(_COLUMNS))})"
                for i in range(0, len(rows), _ROWS_PER_STATEMENT):
                    chunk = rows[i:i + _ROWS_PER_STATEMENT]
                    cur.execute(_insert_sql(row_marks, len(chunk)), tuple(itertools.chain.from_iterable(chunk)))
            else:  # COPY: the rows stream to the server without a statement of thousands of parameters
                with cur.copy(_COPY_SQL) as copy:
                    for row in rows:
                        copy.write_row(row)
            if self.db.is_sqlite:
                cur.execute("COMMIT")
            else:
                conn.commit()
        except BaseException:
            self._head = None
            self._discard()
            raise
        finally:
            if self._conn is not None:
                cur.close()
        self._head = new_head
        return head[0]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _rows(self, head: tuple[int, bytes, Frontier], events: Sequence[Pending],
              sealed: Sequence[Sealed | None]) -> tuple[list[tuple[Any, ...]], tuple[int, bytes, Frontier]]:
        seq, prev, frontier = head[0], head[1], Frontier(head[2].size, list(head[2].nodes))
        sha256, when, prefix = hashlib.sha256, self.bind_time, audit.entry_prefix
        rows: list[tuple[Any, ...]] = []
        for event, payload in zip(events, sealed):
            entry = prefix(seq, prev) + event.body[1:]
            leaf = sha256(b"\x00" + entry).digest()
            frontier.append(leaf)
            rows.append((seq, event.audit_id, event.tenant, event.actor, event.action, event.deployment,
                         when(event.created_at), leaf, entry, payload[0] if payload else None,
                         payload[1] if payload else None))
            prev = leaf
            seq += 1
        return rows, (seq, prev, frontier)

    def _read_head(self, cur: Any) -> tuple[int, bytes, Frontier]:
        lock = "" if self.db.is_sqlite else " FOR UPDATE"
        cur.execute(f"SELECT size, last_hash, frontier FROM audit_head WHERE id = 1{lock}")
        size, last, packed = cur.fetchone()
        return int(size), bytes(last), Frontier.decode(int(size), bytes(packed))

    def _advance(self, cur: Any, old: tuple[int, bytes, Frontier], new: tuple[int, bytes, Frontier]) -> bool:
        """Move the head from `old` to `new`; False (and nothing changed) when it is not at `old`.
        On PostgreSQL the update also takes the row lock that serialises writers."""
        m = self.mark
        cur.execute(f"UPDATE audit_head SET size = {m}, last_hash = {m}, frontier = {m} "
                    f"WHERE id = 1 AND size = {m} AND last_hash = {m}",
                    (new[0], new[1], new[2].encode(), old[0], old[1]))
        return bool(cur.rowcount == 1)

    def _discard(self) -> None:
        """After a failure: roll back, and drop the connection so the next batch starts clean."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.invalidate()
        except Exception:  # already unusable; the pool replaces it either way
            pass


_COPY_SQL = f"COPY audit_log ({', '.join(_COLUMNS)}) FROM STDIN"


@functools.lru_cache(maxsize=64)
def _insert_sql(row_marks: str, rows: int) -> str:
    return f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES {', '.join([row_marks] * rows)}"

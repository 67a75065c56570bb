"""Group commit: one writer thread appends audit events in batches, one transaction each.

Callers `await record(event)`; the writer takes every event queued while the previous batch
was committing, appends them in one transaction (one fsync), and only then resolves their
futures. A failed commit fails every future of its batch loudly, so no caller goes on as if
its event were durable. The queue is bounded: when the store falls behind, `record` refuses at
once instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from aiplane.crypto import envelope
from aiplane.crypto.envelope import Envelope
from aiplane.domain.audit import AuditEvent
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Unavailable
from aiplane.store import audit as audit_rows
from aiplane.store.database import Database

log = logging.getLogger("aiplane.audit")
_Item = tuple[AuditEvent, "bytes | None", "asyncio.Future[int] | None", "asyncio.AbstractEventLoop | None"]


class PayloadSealer:
    """Encrypts logged payloads with the tenant's live data key, creating one when needed."""

    def __init__(self, keys: Envelope, clock: Clock) -> None:
        self.keys, self.clock = keys, clock
        # One unwrapped key per tenant, checked against the store in every batch: once a key
        # is destroyed (erase-payloads, maybe by another process) it is dropped here too.
        self._live: dict[str, tuple[int, bytes]] = {}

    def seal(self, conn: Any, tenant: str, audit_id: str, plaintext: bytes) -> tuple[bytes, int]:
        live = audit_rows.live_data_key(conn, tenant)
        if live is None:
            key, wrapped = self.keys.new_data_key()
            self._live[tenant] = (audit_rows.insert_data_key(conn, tenant, wrapped, self.clock.now()), key)
        elif self._live.get(tenant, (None,))[0] != live[0]:
            self._live[tenant] = (live[0], self.keys.unwrap(live[1]))
        key_id, key = self._live[tenant]
        return envelope.seal(key, plaintext, audit_id.encode()), key_id


class AuditWriter:
    def __init__(self, db: Database, sealer: PayloadSealer | None, max_batch: int = 4096,
                 max_pending: int = 100_000) -> None:
        self.db, self.sealer = db, sealer
        self.max_batch, self.max_pending = max_batch, max_pending
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def record(self, event: AuditEvent, payload: bytes | None = None) -> asyncio.Future[int]:
        """A future of the event's log position, resolved once its batch has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        if self._closed or self._thread is None:
            future.set_exception(Unavailable("the audit log is not accepting events (shutting down); retry shortly."))
        elif self._queue.qsize() >= self.max_pending:
            future.set_exception(Unavailable("the audit log is behind; the request was refused, retry shortly."))
        else:
            self._queue.put((event, payload, future, loop))
        return future

    def record_detached(self, event: AuditEvent) -> None:
        """Queue an event nobody waits for: a refusal (nothing was served, so nothing is held
        back). Dropped, and logged, when the writer is stopped or behind."""
        if self._closed or self._thread is None or self._queue.qsize() >= self.max_pending:
            log.warning("audit event %s (%s) dropped: the writer is stopped or behind", event.audit_id, event.action)
            return
        self._queue.put((event, None, None, None))

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        running = True
        while running:
            first = get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    running = False
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            with self.db.write(bump_generation=False) as conn:
                payloads = [self._seal(conn, event, plain) for event, plain, _, _ in batch]
                first = audit_rows.append(self.db, conn, [item[0] for item in batch], payloads)
        except Exception as exc:  # every waiting request must learn that its event is not durable
            log.error("audit batch of %d events failed to commit: %s", len(batch), type(exc).__name__)
            _settle(batch, None)
            return
        _settle(batch, first)

    def _seal(self, conn: Any, event: AuditEvent, plain: bytes | None) -> tuple[bytes, int] | None:
        if plain is None or self.sealer is None or event.tenant is None:
            return None
        return self.sealer.seal(conn, event.tenant, event.audit_id, plain)


def _settle(batch: list[_Item], first: int | None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[int, asyncio.Future[int]]]] = {}
    for i, (_, _, future, loop) in enumerate(batch):
        if future is not None and loop is not None:
            by_loop.setdefault(loop, []).append((i, future))
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures, first)
        except RuntimeError:  # that loop has closed; nobody is waiting any more
            pass


def _resolve(futures: list[tuple[int, asyncio.Future[int]]], first: int | None) -> None:
    for i, future in futures:
        if future.done():
            continue
        if first is None:
            future.set_exception(Unavailable("the audit log could not be written; nothing was released, retry shortly."))
        else:
            future.set_result(first + i)

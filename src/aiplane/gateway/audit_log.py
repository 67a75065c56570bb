"""The gateway's side of the audit log: hands events to the audit writer process, fail-closed.

`record(event)` returns a future of the event's log position, resolved once the writer has
committed the batch it went into (see `audit_server`). Events written during one turn of the
event loop leave in one socket write; acknowledgements resolve the oldest waiting futures in
order. The client fails a future, never leaves it hanging, when the writer refuses, when the
connection drops (the writer restarts; the client reconnects), or when its deadline passes
(one watchdog per client, not a timer per event). Waiting events are bounded: beyond
`max_pending`, `record` refuses at once instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import random
import socket
import time
from pathlib import Path

import orjson

from aiplane.crypto import envelope, keyfiles
from aiplane.crypto.envelope import Envelope
from aiplane.domain.audit import AuditEvent, new_audit_id
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Unavailable
from aiplane.gateway.audit_wire import ACK, FAILED, event_frame
from aiplane.store.audit_appender import DataKeys, Pending, Sealed

log = logging.getLogger("aiplane.audit")
_WATCH_INTERVAL_S = 0.1
_RECONNECT_S = 0.1
_SEND_BUFFER = 4 << 20


def next_audit_id() -> str:
    """A fresh, time-ordered audit id (ids need to be unique, not secret)."""
    return new_audit_id(time.time_ns() // 1_000_000, random.getrandbits(74))


def payload_keys(data_dir: Path) -> Envelope:
    """The master key that wraps the tenants' payload data keys (DATA_DIR/audit/master.key, 0600)."""
    return Envelope(keyfiles.load_or_create(data_dir / "audit" / "master.key", keyfiles.random_key))


class PayloadSealer:
    """Encrypts logged payloads with the tenant's live data key, creating one when needed (runs
    in the writer, inside the append transaction)."""

    def __init__(self, keys: Envelope, clock: Clock) -> None:
        self.keys, self.clock = keys, clock
        # One unwrapped key per tenant, checked against the store in every batch: once a key
        # is destroyed (erase-payloads, maybe by another process) it is dropped here too.
        self._live: dict[str, tuple[int, bytes]] = {}

    def __call__(self, keys: DataKeys, event: Pending) -> Sealed:
        tenant, plaintext = event.tenant, event.plaintext
        assert tenant is not None and plaintext is not None  # the appender seals tenants' payloads only
        live = keys.live(tenant)
        if live is None:
            key, wrapped = self.keys.new_data_key()
            self._live[tenant] = (keys.create(tenant, wrapped, self.clock.now()), key)
        elif self._live.get(tenant, (None,))[0] != live[0]:
            self._live[tenant] = (live[0], self.keys.unwrap(live[1]))
        key_id, key = self._live[tenant]
        return envelope.seal(key, plaintext, event.audit_id.encode()), key_id


class AuditWriter:
    """A client of the audit writer process on `socket_path`."""

    def __init__(self, socket_path: Path, max_pending: int = 100_000, commit_timeout_s: float = 10.0) -> None:
        self.socket_path, self.max_pending, self.commit_timeout_s = socket_path, max_pending, commit_timeout_s
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = True
        self._out: list[bytes] = []
        # Futures in the order their events were sent (None: an event nobody waits for).
        self._waiting: collections.deque[tuple[float, asyncio.Future[int] | None]] = collections.deque()
        self._acks = bytearray()
        self._watching = False
        self._expired = 0  # how many of the oldest waiting events the watchdog has already failed
        self._connecting: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        """Connect, waiting up to `timeout_s` for the writer to listen."""
        self._loop = asyncio.get_running_loop()
        self._closed = False
        deadline = time.monotonic() + timeout_s
        while not await self._connect():
            if time.monotonic() > deadline:
                raise Unavailable(f"the audit writer did not start listening on {self.socket_path} within "
                                  f"{timeout_s:g} s; see the log above for why.")
            await asyncio.sleep(_RECONNECT_S)

    async def stop(self) -> None:
        """Wait (up to the commit timeout) for what was sent to be acknowledged, then disconnect."""
        self._flush()
        deadline = time.monotonic() + self.commit_timeout_s
        while self._waiting and self._transport is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._fail_all("the audit log is not accepting events (shutting down); retry shortly.")

    def record(self, event: AuditEvent, payload: bytes | None = None) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        if self._transport is None:
            future.set_exception(Unavailable(
                "the audit log is not accepting events (shutting down); retry shortly." if self._closed else
                "the audit writer is not reachable (it is restarting); retry shortly."))
        elif len(self._waiting) >= self.max_pending:
            future.set_exception(Unavailable("the audit log is behind; the request was refused, retry shortly."))
        else:
            self._send(event, payload, future)
        return future

    def record_detached(self, event: AuditEvent) -> None:
        """Send an event nobody waits for: a refusal (nothing was served, so nothing is held
        back). Dropped, and logged, when the writer is unreachable or behind."""
        if self._transport is None or len(self._waiting) >= self.max_pending:
            log.warning("audit event %s (%s) dropped: the writer is unreachable or behind", event.audit_id, event.action)
            return
        self._send(event, None, None)

    def _send(self, event: AuditEvent, payload: bytes | None, future: asyncio.Future[int] | None) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(event_frame(orjson.dumps(event), payload))
        self._waiting.append((time.monotonic() + self.commit_timeout_s, future))
        if not self._watching:
            self._watching = True
            asyncio.get_running_loop().call_later(_WATCH_INTERVAL_S, self._watch)

    def _flush(self) -> None:
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    # Acknowledgements

    def _received(self, data: bytes) -> None:
        acks = self._acks
        acks += data
        size, at = ACK.size, 0
        while len(acks) - at >= size:
            first, count = ACK.unpack_from(acks, at)
            at += size
            self._settle(first, count)
        del acks[:at]

    def _settle(self, first: int, count: int) -> None:
        waiting = self._waiting
        self._expired = max(0, self._expired - count)
        for i in range(min(count, len(waiting))):
            _, future = waiting.popleft()
            if future is None or future.done():
                continue
            if first == FAILED:
                future.set_exception(Unavailable("the audit log could not be written; nothing was released, "
                                                 "retry shortly."))
            else:
                future.set_result(first + i)

    def _watch(self) -> None:
        """Fail the events whose deadline passed (the oldest first: deadlines grow with the queue).
        They stay in the queue: the writer still has them and will acknowledge them in their
        turn, and acknowledgements are matched to the queue by count."""
        waiting, now = self._waiting, time.monotonic()
        for deadline, future in itertools.islice(waiting, self._expired, None):
            if deadline > now:
                break
            self._expired += 1
            if future is not None and not future.done():
                future.set_exception(Unavailable(
                    f"the audit log did not make the event durable within {self.commit_timeout_s:g} s; "
                    "nothing was released, retry shortly."))
        if len(waiting) > self._expired and self._loop is not None and not self._loop.is_closed():
            self._loop.call_later(_WATCH_INTERVAL_S, self._watch)
        else:
            self._watching = False

    # Connection

    async def _connect(self) -> bool:
        assert self._loop is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Room for a burst in flight: the writer takes all that is there into one batch (one
        # fsync). The kernel caps this at net.core.wmem_max.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        sock.setblocking(False)
        try:
            await self._loop.sock_connect(sock, str(self.socket_path))
            transport, _ = await self._loop.create_unix_connection(lambda: _Protocol(self), sock=sock)
        except OSError:
            sock.close()
            return False
        self._transport = transport
        return True

    def _lost(self) -> None:
        self._transport = None
        self._acks.clear()
        self._out.clear()
        self._fail_all("the connection to the audit writer was lost before the event was durable; retry shortly.")
        if not self._closed and self._loop is not None and not self._loop.is_closed():
            self._connecting = self._loop.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closed and not await self._connect():
            await asyncio.sleep(_RECONNECT_S)

    def _fail_all(self, message: str) -> None:
        self._expired = 0
        while self._waiting:
            _, future = self._waiting.popleft()
            if future is not None and not future.done():
                future.set_exception(Unavailable(message))


class _Protocol(asyncio.Protocol):
    def __init__(self, client: AuditWriter) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost()

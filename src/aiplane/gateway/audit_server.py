"""The audit writer: one process that owns appending to the audit log (group commit).

Gateways and the control API send events over a Unix socket (see `audit_wire`); the writer
takes everything that arrived while the previous transaction was committing, appends it in
one transaction (one fsync), and only then acknowledges, in order, per connection. A failed
commit is acknowledged as failed, so no client goes on as if its events were durable.

Why a process and not a thread of the gateway: the writer's work per event is Python (parse,
hash, bind) and SQLite calls that release and retake the GIL several times per batch; as a
thread it competes with the event loop for the GIL on every one of them, and it can never use
a second core. As a process it costs the gateway one socket write and one read per batch, and
any number of gateway workers share one sequencer.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from aiplane.gateway.audit_wire import ACK, FAILED, ProtocolError, split_events
from aiplane.serving import sockets
from aiplane.store.audit_appender import Appender, Pending, Sealer

log = logging.getLogger("aiplane.audit")
_READ_BYTES = 1 << 20
_ROUND_BYTES = 8 << 20


def listen(path: Path) -> socket.socket:
    """A listening Unix socket only the owner can connect to."""
    listener = sockets.private_unix(path)
    listener.listen(64)
    return listener


class WriterServer:
    def __init__(self, listener: socket.socket, appender: Appender, sealer: Sealer | None,
                 max_batch: int = 4096) -> None:
        self.listener, self.appender, self.sealer, self.max_batch = listener, appender, sealer, max_batch
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytearray] = {}
        self.stopping = threading.Event()
        # Wakes select() when asked to stop, from a signal handler or another thread.
        self._wake_r, self._wake_w = socket.socketpair()

    def stop(self) -> None:
        self.stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def serve(self, still_wanted: Callable[[], bool] = lambda: True) -> None:
        """Run until stop() (or `still_wanted` turns false); commits what has arrived first."""
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self.stopping.is_set() and still_wanted():
                ready = self.selector.select(timeout=0.5)
                self._round([key.fileobj for key, _ in ready])  # type: ignore[misc]
        finally:
            for conn in list(self.buffers):
                self._drop(conn)
            self.selector.close()
            for sock in (self.listener, self._wake_r, self._wake_w):
                sock.close()
            self.appender.close()

    def _round(self, readable: list[socket.socket]) -> None:
        batch: list[Pending] = []
        owners: list[tuple[socket.socket, int]] = []
        for sock in readable:
            if sock is self.listener:
                self._accept()
            elif sock is self._wake_r:
                self._wake_r.recv(64)
            elif sock in self.buffers:
                events = self._read(sock)
                if events:
                    batch.extend(events)
                    owners.append((sock, len(events)))
        # Everything that arrived while the last batch committed, in transactions of at most max_batch.
        while batch:
            size, take = 0, []
            while owners and size < self.max_batch:
                conn, count = owners[0]
                n = min(count, self.max_batch - size)
                take.append((conn, n))
                size += n
                if n == count:
                    owners.pop(0)
                else:
                    owners[0] = (conn, count - n)
            self._commit(batch[:size], take)
            del batch[:size]

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        # Non-blocking: reads take what is there; an acknowledgement (12 bytes) that does not fit
        # in the socket's buffer means a client that stopped reading, and it is dropped.
        conn.setblocking(False)
        self.buffers[conn] = bytearray()
        self.selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket) -> list[Pending]:
        buffer = self.buffers[conn]
        closed = False
        try:
            # Everything already there, up to a round's worth: bigger batches, fewer fsyncs.
            while len(buffer) < _ROUND_BYTES:
                data = conn.recv(_READ_BYTES)
                if not data:
                    closed = True
                    break
                buffer += data
        except BlockingIOError:
            pass
        except OSError:
            closed = True
        try:
            events = [Pending.parse(body, payload) for body, payload in split_events(buffer)]
        except (ProtocolError, ValueError) as exc:
            # Nothing of this connection's round is committed; its client fails what it waits for.
            log.error("audit client sent a malformed frame (%s); closing its connection", exc)
            self._drop(conn)
            return []
        if closed:  # its complete events are still committed; their acknowledgement has nowhere to go
            self._drop(conn)
        return events

    def _commit(self, batch: list[Pending], owners: list[tuple[socket.socket, int]]) -> None:
        try:
            first = self.appender.append(batch, self.sealer)
        except Exception as exc:
            log.error("audit batch of %d events failed to commit: %s", len(batch), type(exc).__name__)
            first = None
        at = first
        for conn, count in owners:
            self._ack(conn, FAILED if at is None else at, count)
            if at is not None:
                at += count

    def _ack(self, conn: socket.socket, first: int, count: int) -> None:
        try:
            conn.sendall(ACK.pack(first, count))
        except OSError:
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        if self.buffers.pop(conn, None) is not None:
            self.selector.unregister(conn)
        conn.close()


def run(socket_path: Path, appender: Appender, sealer: Sealer | None, parent_pid: int | None,
        max_batch: int = 4096) -> None:
    """The writer process's main: serve until SIGTERM/SIGINT or until its parent is gone."""
    server = WriterServer(listen(socket_path), appender, sealer, max_batch)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    server.serve(still_wanted=lambda: parent_pid is None or os.getppid() == parent_pid)
    socket_path.unlink(missing_ok=True)


@contextmanager
def running_in_thread(socket_path: Path, appender: Appender, sealer: Sealer | None = None,
                      max_batch: int = 4096) -> Iterator[WriterServer]:
    """A writer serving from a thread of this process (tests and benchmarks; `up` runs a process)."""
    server = WriterServer(listen(socket_path), appender, sealer, max_batch)
    thread = threading.Thread(target=server.serve, name="audit writer", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(30)
        socket_path.unlink(missing_ok=True)

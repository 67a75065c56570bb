"""Forward request bytes to a replica over a pooled keep-alive Unix-socket connection.

A deliberately small HTTP/1.1 client: the peer is always our own replica (uvicorn), which
answers every request with a Content-Length. General-purpose async clients cost an order of
magnitude more per request here (see docs/design-tradeoffs.md).
"""

from __future__ import annotations

import asyncio
import itertools

from aiplane.domain.errors import Unavailable

Header = tuple[bytes, bytes]
Answer = tuple[int, list[Header], bytes]
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_PASS_BACK = (b"content-type", b"inference-header-content-length", b"x-request-id", b"x-aiplane-decision",
              b"retry-after")


class ReplicaPool:
    """Idle keep-alive connections to one replica socket, at most `size` open at once."""

    def __init__(self, socket_path: str, size: int) -> None:
        self.socket_path = socket_path
        self._idle: list[Conn] = []
        self._slots = asyncio.Semaphore(size)
        self.closed = False

    async def request(self, head: bytes, body: bytes, timeout: float) -> Answer:
        """The replica's answer; Unavailable when it cannot give one (gone, crashed mid-request),
        TimeoutError when it is slower than `timeout` (it is there, so no retry)."""
        async with self._slots:
            if self._idle:
                conn = self._idle.pop()
                try:
                    return self._keep(conn, await _timed(conn, head, body, timeout))
                except _Broken:
                    pass  # an idle connection the replica had closed, or a replica gone: once more, fresh
            conn = await self._connect()
            try:
                return self._keep(conn, await _timed(conn, head, body, timeout))
            except _Broken as exc:
                raise Unavailable("the model replica closed the connection before answering; retry shortly.") from exc

    def _keep(self, conn: Conn, result: Answer) -> Answer:
        if self.closed:
            conn[1].close()
        else:
            self._idle.append(conn)
        return result

    async def _connect(self) -> Conn:
        try:
            return await asyncio.open_unix_connection(self.socket_path, limit=1 << 20)
        except OSError as exc:
            raise Unavailable("the model replica is not accepting connections; retry shortly.") from exc

    def close(self) -> None:
        self.closed = True
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


class _Broken(Exception):
    """The connection failed before a whole answer came back."""


async def _timed(conn: Conn, head: bytes, body: bytes, timeout: float) -> Answer:
    try:
        # asyncio.timeout, not wait_for: no extra task per request on the hot path.
        async with asyncio.timeout(timeout):
            return await _exchange(conn, head, body)
    except TimeoutError:  # a subclass of OSError, so first: the replica is slow, not gone (504, no retry)
        conn[1].close()
        raise
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        conn[1].close()  # reset, refused, cut mid-answer or a garbled head: the replica is in trouble
        raise _Broken from exc
    except BaseException:
        conn[1].close()
        raise


async def _exchange(conn: Conn, head: bytes, body: bytes) -> Answer:
    reader, writer = conn
    writer.write(head + body if len(body) < 65536 else head)
    if len(body) >= 65536:
        writer.write(body)
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    headers: list[Header] = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name in _PASS_BACK:
            headers.append((name, value.strip()))
    payload = await reader.readexactly(length) if length else b""
    return status, headers, payload


class RoutingTable:
    """Ready replicas per deployment, with round-robin choice among them."""

    def __init__(self, connections_per_replica: int) -> None:
        self.size = connections_per_replica
        self._pools: dict[int, list[ReplicaPool]] = {}
        self._turns: dict[int, itertools.cycle[ReplicaPool]] = {}

    def set_replicas(self, deployment_id: int, sockets: list[str]) -> None:
        old = {p.socket_path: p for p in self._pools.get(deployment_id, [])}
        pools = [old.pop(s) if s in old else ReplicaPool(s, self.size) for s in sockets]
        for gone in old.values():
            gone.close()
        if pools:
            self._pools[deployment_id] = pools
            self._turns[deployment_id] = itertools.cycle(pools)
        else:
            self._pools.pop(deployment_id, None)
            self._turns.pop(deployment_id, None)

    def replace_all(self, sockets: dict[int, list[str]]) -> None:
        """Make the table exactly `sockets` (a worker process, from the published endpoints)."""
        for deployment_id in self._pools.keys() - sockets.keys():
            self.set_replicas(deployment_id, [])
        for deployment_id, paths in sockets.items():
            self.set_replicas(deployment_id, paths)

    def pick(self, deployment_id: int, avoid: ReplicaPool | None = None) -> ReplicaPool:
        """The next ready replica in turn; never `avoid` (the one that just failed) while another is ready."""
        turn = self._turns.get(deployment_id)
        if turn is None:
            raise Unavailable("no replica of this deployment is ready yet; retry shortly.", retry_after=1.0)
        pool = next(turn)
        if pool is avoid:  # two calls with no await between them: with two or more replicas, another one
            pool = next(turn)
        return pool

    def ready_count(self, deployment_id: int) -> int:
        return len(self._pools.get(deployment_id, ()))

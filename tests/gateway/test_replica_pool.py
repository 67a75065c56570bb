"""The forwarding pool against a peer on a real Unix socket that dies the way a killed replica
does: it takes the connection and drops it without an answer. Whatever the moment, the pool says
Unavailable (a retry elsewhere, or a 503), never a raw socket error (a 500 with a traceback)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aiplane.domain.errors import Unavailable
from aiplane.gateway.forwarding import ReplicaPool, RoutingTable

_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
_HEAD = b"POST /v2/models/m/infer HTTP/1.1\r\nhost: replica\r\ncontent-length: 2\r\n\r\n"


class Peer:
    """Answers while `alive`; afterwards takes each new connection and drops it unanswered, and
    drops the kept-alive ones on their next request."""

    def __init__(self) -> None:
        self.alive = True

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n") and await reader.readexactly(2):
                if not self.alive:
                    break
                writer.write(_OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.transport.abort()  # a reset, as when the kernel closes a killed process's sockets


async def _pool_after_death(path: Path) -> list[str]:
    peer = Peer()
    server = await asyncio.start_unix_server(peer.serve, str(path))
    pool = ReplicaPool(str(path), 4)
    outcomes = []
    async with server:
        assert (await pool.request(_HEAD, b"{}", 5))[0] == 200  # one kept-alive connection in the pool
        peer.alive = False
        for _ in range(2):  # through the idle connection, then on a fresh one
            try:
                await pool.request(_HEAD, b"{}", 5)
                outcomes.append("answered")
            except Unavailable as exc:
                outcomes.append(exc.message)
    server.close()
    path.unlink(missing_ok=True)
    try:
        await pool.request(_HEAD, b"{}", 5)  # and with the socket gone: refused
    except Unavailable as exc:
        outcomes.append(exc.message)
    return outcomes


def test_a_replica_that_dies_gives_unavailable_never_a_socket_error(tmp_path: Path):
    outcomes = asyncio.run(_pool_after_death(tmp_path / "r.sock"))
    assert outcomes[:2] == ["the model replica closed the connection before answering; retry shortly."] * 2
    assert outcomes[2] == "the model replica is not accepting connections; retry shortly."


def test_the_retry_goes_to_another_replica_than_the_one_that_failed():
    table = RoutingTable(4)
    table.set_replicas(1, ["a", "b"])
    for _ in range(5):
        first = table.pick(1)
        assert table.pick(1, avoid=first) is not first
    table.set_replicas(1, ["a"])
    only = table.pick(1)
    assert table.pick(1, avoid=only) is only  # no other: the caller answers 503
    table.set_replicas(1, [])
    with pytest.raises(Unavailable):
        table.pick(1)

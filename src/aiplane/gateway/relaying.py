"""Relay a request a gateway worker does not serve itself (the control API, docs, metrics) to
the main `aiplane up` process over its Unix socket, bytes unchanged.

Unlike the data-plane forwarder, bodies may be large (model uploads) or of unknown length (a
chunked export), so both directions stream and every end-to-end header passes. The client's
address travels in `x-aiplane-client`, which the main process believes only on its Unix socket.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import orjson

from aiplane.domain.errors import Unavailable

CLIENT_HEADER = b"x-aiplane-client"
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
                  b"proxy-connection", b"expect", b"content-length", CLIENT_HEADER})
_RESPONSE_DROP = _HOP - {b"content-length"} | {b"date", b"server"}  # the worker's server adds its own
_REPLAYABLE = 1 << 20  # bodies up to this are held, so a stale pooled connection can be retried
_MAX_IDLE = 16
_PIECE = 1 << 16


class ControlRelay:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._idle: list[Conn] = []

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        try:
            conn, status, headers = await self._exchange(scope, receive)
        except _ClientGone:
            return  # nothing to answer, and nothing half-sent is left for the main process to act on
        except Unavailable as exc:
            body = orjson.dumps({"type": "urn:aiplane:problem:unavailable", "title": "Unavailable",
                                 "status": 503, "detail": exc.message})
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [h for h in headers if h[0] not in _RESPONSE_DROP]})
        try:
            reusable = await _stream_body(conn[0], scope["method"], status, headers, send)
        except BaseException:
            conn[1].close()
            raise
        if reusable and len(self._idle) < _MAX_IDLE:
            self._idle.append(conn)
        else:
            conn[1].close()

    async def _exchange(self, scope: dict[str, Any], receive: Any) -> tuple[Conn, int, list[tuple[bytes, bytes]]]:
        length = _content_length(scope)
        if length is not None and length <= _REPLAYABLE:
            body = await _read_all(receive) if length else b""
            request = _head(scope, len(body)) + body
            while self._idle:  # a pooled connection the main process closed fails at once: try the next
                conn = self._idle.pop()
                if conn[0].at_eof():
                    conn[1].close()
                    continue
                try:
                    conn[1].write(request)
                    return (conn, *await _read_head(conn[0]))
                except (OSError, asyncio.IncompleteReadError):
                    conn[1].close()
            conn = await self._connect()
            conn[1].write(request)
        else:
            conn = await self._connect()
            try:
                conn[1].write(_head(scope, length))
                await _send_body(conn[1], receive, chunked=length is None)
            except BaseException:
                conn[1].close()
                raise
        try:
            return (conn, *await _read_head(conn[0]))
        except (OSError, asyncio.IncompleteReadError) as exc:
            conn[1].close()
            raise Unavailable("the main aiplane process closed the connection; retry shortly.") from exc

    async def _connect(self) -> Conn:
        try:
            return await asyncio.open_unix_connection(self.socket_path, limit=1 << 20)
        except OSError as exc:
            raise Unavailable("the control plane (the main aiplane process) is not reachable; retry shortly.") from exc

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


class _ClientGone(Exception):
    """The client disconnected before its request body was complete."""


async def _next_chunk(receive: Any) -> tuple[bytes, bool]:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise _ClientGone
    return message.get("body", b""), message.get("more_body", False)


def _content_length(scope: dict[str, Any]) -> int | None:
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
        if name == b"transfer-encoding":
            chunked = True
    return None if chunked else 0


def _head(scope: dict[str, Any], length: int | None) -> bytes:
    target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
    lines = [scope["method"].encode() + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in scope["headers"] if name not in _HOP]
    client = scope.get("client")
    if client:
        lines.append(CLIENT_HEADER + b": " + str(client[0]).encode())
    lines.append(b"transfer-encoding: chunked" if length is None else b"content-length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_all(receive: Any) -> bytes:
    chunks = []
    while True:
        chunk, more = await _next_chunk(receive)
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)


async def _send_body(writer: asyncio.StreamWriter, receive: Any, chunked: bool) -> None:
    while True:
        chunk, more = await _next_chunk(receive)
        if chunk:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        if not more:
            break
    if chunked:
        writer.write(b"0\r\n\r\n")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    return status, headers


async def _stream_body(reader: asyncio.StreamReader, method: str, status: int, headers: list[tuple[bytes, bytes]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> bool:
    """Pass the response body on; True when the connection may carry another request."""
    fields = dict(headers)
    if method == "HEAD" or status in (204, 304) or status < 200:
        await send({"type": "http.response.body", "body": b""})
        return True
    if b"content-length" in fields:
        left = int(fields[b"content-length"])
        while left:
            piece = await reader.readexactly(min(left, _PIECE))
            left -= len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
        if not int(fields[b"content-length"]):
            await send({"type": "http.response.body", "body": b""})
        return fields.get(b"connection", b"").lower() != b"close"
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await send({"type": "http.response.body", "body": await reader.readexactly(size), "more_body": True})
            await reader.readexactly(2)
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
            pass
        await send({"type": "http.response.body", "body": b""})
        return fields.get(b"connection", b"").lower() != b"close"
    while piece := await reader.read(_PIECE):  # neither: the body runs to the end of the connection
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
    return False

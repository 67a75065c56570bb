"""The composition root of a gateway worker (`aiplane up --workers N`, processes 1..N-1).

A worker serves the data plane (/v2) and /healthz, /readyz from its own state: a cache of
keys, tenants and routes, the ready replicas the main process publishes in the store (both
reloaded when the store's generation moves), rate limits holding 1/N of each limit, and a
client of the main process's audit writer. Everything else (the control API, docs, /metrics) is relayed, bytes
unchanged, to the main process, which owns the replicas, migrations and the control plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Callable

import orjson

from aiplane.api import services
from aiplane.domain.clock import SystemClock
from aiplane.gateway.app import Gateway
from aiplane.gateway.forwarding import RoutingTable
from aiplane.gateway.limiting import AuthGuard, RequestLimits
from aiplane.gateway.relaying import ControlRelay
from aiplane.gateway.state import StateCache
from aiplane.settings import Settings
from aiplane.store import replica_endpoints
from aiplane.store.database import Database

log = logging.getLogger("aiplane.worker")
ASGIApp = Callable[..., Any]
_OK = orjson.dumps({"status": "ok"})


class _Worker:
    def __init__(self, settings: Settings, index: int, control_socket: str) -> None:
        self.settings = settings
        clock = SystemClock()
        self.db = Database(settings.database_url)  # migrated by the main process, which started first
        g = settings.gateway
        guard = AuthGuard(clock, g.auth_failures_per_minute, g.auth_failure_burst)
        self.cache = StateCache(self.db, clock, guard, services.oidc_verifier(settings, clock))
        self.routing = RoutingTable(g.connections_per_replica)
        # The main process's audit writer listens next to the control socket.
        self.writer = services.audit_writer(settings, services.audit_socket_in(Path(control_socket).parent))
        self.unauthenticated = services.unauthenticated_tally(settings, self.writer, clock)
        guard.subscribe(self.unauthenticated.failure_listener())
        self.gateway = Gateway(self.cache, self.routing, g.max_body_bytes, g.forward_timeout_s,
                               RequestLimits(clock, share=settings.server.workers),
                               services.prediction_auditor(settings, self.writer, clock), worker=index)
        self.relay = ControlRelay(control_socket)

    def reload(self) -> dict[int, list[str]]:
        """Keys, tenants, routes and the published endpoints (off the event loop)."""
        self.cache.reload()
        with self.db.read() as conn:
            return replica_endpoints.list_all(conn)

    def reload_if_changed(self) -> dict[int, list[str]] | None:
        return self.reload() if self.db.generation() != self.cache.generation else None

    async def poll(self) -> None:
        loop = asyncio.get_running_loop()
        flushed = loop.time()
        while True:
            await asyncio.sleep(self.settings.control.state_poll_s)
            try:
                endpoints = await asyncio.to_thread(self.reload_if_changed)
                if endpoints is not None:
                    self.routing.replace_all(endpoints)  # on the loop: the routing table is the loop's
                if loop.time() - flushed >= self.settings.gateway.last_used_flush_s:
                    flushed = loop.time()
                    await asyncio.to_thread(self.cache.write_last_used, self.cache.take_last_used())
            except Exception:  # the store may be briefly unreachable; keep serving from the cache
                log.warning("state reload failed; serving from the cached state", exc_info=True)

    @contextlib.asynccontextmanager
    async def running(self) -> Any:
        self.routing.replace_all(await asyncio.to_thread(self.reload))
        await self.writer.start()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self.poll(), name="state poll"),
                 loop.create_task(self.cache.fetch_provider_keys(), name="identity provider keys")]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.cache.close()
            self.relay.close()
            await asyncio.to_thread(self.cache.write_last_used, self.cache.take_last_used())
            self.unauthenticated.flush()
            await self.writer.stop()
            self.db.dispose()

    async def readyz(self, send: Any) -> None:
        try:
            await asyncio.to_thread(self.db.generation)
            status, body = 200, b'{"status":"ready"}'
        except Exception:
            status, body = 503, b'{"status":"store unavailable"}'
        await _reply(send, status, body)


def create_worker_app(settings: Settings, index: int, control_socket: str) -> ASGIApp:
    worker = _Worker(settings, index, control_socket)
    gateway, relay = worker.gateway, worker.relay

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(worker, receive, send)
        if scope["type"] != "http":
            return  # no websockets here: the connection is refused
        path = scope["path"]
        if path.startswith("/v2"):
            return await gateway(scope, receive, send)
        if path == "/healthz":
            return await _reply(send, 200, _OK)
        if path == "/readyz":
            return await worker.readyz(send)
        return await relay(scope, receive, send)

    return app


async def _lifespan(worker: _Worker, receive: Any, send: Any) -> None:
    await receive()  # lifespan.startup
    async with worker.running():
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
    await send({"type": "lifespan.shutdown.complete"})


async def _reply(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

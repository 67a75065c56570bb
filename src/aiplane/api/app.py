"""The composition root: `create_app(settings)` wires everything; nothing happens at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.exceptions import HTTPException

from aiplane import __version__
from aiplane.api import auditing, canary_watching, gpu_routes, guarding, openapi, plan_routes, problems, services, sso_routes
from aiplane.api.audit_routes import build_audit_router
from aiplane.api.routes import build_router
from aiplane.control import demo
from aiplane.crypto.tls import ServerTLS
from aiplane.domain.errors import AiplaneError, NotFound
from aiplane.domain.policy import Principal
from aiplane.domain.roles import Role
from aiplane.gateway import relaying
from aiplane.settings import Settings

log = logging.getLogger("aiplane")
ASGIApp = Callable[..., Any]


@dataclass(frozen=True)
class Banner:
    url: str
    admin_key: str | None
    admin_key_file: str
    predictor_key: str | None = None
    curl: str | None = None
    grpc: str | None = None  # host:port of the gRPC data plane, when it is on


def create_app(settings: Settings, demo_mode: bool = False,
               on_ready: Callable[[Banner], None] | None = None,
               tls: ServerTLS | None = None) -> tuple[ASGIApp, services.Services]:
    svc = services.build(settings, tls)
    svc.keys.bootstrap_admin(svc.admin_key_file)
    api = FastAPI(title="aiplane", version=__version__, lifespan=_lifespan(svc, demo_mode, on_ready),
                  redirect_slashes=False,  # problems.on_http_error redirects without trusting the Host header
                  description="Control API of aiplane. The data plane (Open Inference Protocol) is under /v2.")
    api.add_exception_handler(AiplaneError, problems.on_aiplane_error)
    api.add_exception_handler(RequestValidationError, problems.on_validation_error)
    api.add_exception_handler(HTTPException, problems.on_http_error)
    api.include_router(build_router(svc))
    plan_guard = guarding.guard(svc.cache)
    api.include_router(plan_routes.build_router(svc, plan_guard), dependencies=[Depends(plan_guard)])
    api.include_router(build_audit_router(svc))
    api.include_router(sso_routes.build_router(svc))
    api.include_router(gpu_routes.build_router(svc))
    _system_routes(api, svc)
    guarding.check_covered(api.routes)
    openapi.install(api)
    gateway = svc.gateway
    control = auditing.ControlAudit(api, svc.audit_writer, svc.cache, svc.clock, svc.unauthenticated)
    upload_limit = settings.control.max_upload_bytes

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("client"):
            _client_from_worker(scope)
        if scope["type"] == "http" and scope["path"].startswith("/v2"):
            return await gateway(scope, receive, send)
        if scope["type"] == "http" and _too_large(scope, upload_limit):
            response = problems.problem(413, "Payload too large",
                                        f"the request body exceeds the limit of {upload_limit} bytes.")
            return await response(scope, receive, send)
        return await control(scope, receive, send)

    return app, svc


def _client_from_worker(scope: dict[str, Any]) -> None:
    """A request relayed by a gateway worker arrives on the Unix socket, which has no peer
    address; the worker names its client in a header. Only Unix-socket connections lack a
    peer address, so a TCP client cannot pass itself off as another address this way."""
    for name, value in scope["headers"]:
        if name == relaying.CLIENT_HEADER:
            scope["client"] = (value.decode("latin-1"), 0)
            return


def _too_large(scope: dict[str, Any], limit: int) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.isdigit() and int(value) > limit
    return False


def _system_routes(api: FastAPI, svc: services.Services) -> None:
    registry = CollectorRegistry()
    registry.register(_ReplicaCollector(svc))

    @api.get("/healthz", tags=["system"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["system"])
    def readyz() -> JSONResponse:
        try:
            svc.db.generation()
        except Exception:
            return JSONResponse({"status": "store unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @api.get("/metrics", tags=["system"])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


class _ReplicaCollector:
    def __init__(self, svc: services.Services) -> None:
        self.svc = svc

    def collect(self) -> Any:
        ready = GaugeMetricFamily("aiplane_replicas_ready", "Ready replicas per deployment.",
                                  labels=["tenant", "deployment"])
        desired = GaugeMetricFamily("aiplane_replicas_desired", "Admitted replicas per deployment.",
                                    labels=["tenant", "deployment"])
        restarts = GaugeMetricFamily("aiplane_replica_restarts", "Replica restarts since start.",
                                     labels=["tenant", "deployment"])
        system = Principal("metrics", Role.PLATFORM_ADMIN, None)
        for status in self.svc.deployments.list(system):
            d = status.deployment
            ready.add_metric([d.tenant, d.name], status.ready_replicas)
            desired.add_metric([d.tenant, d.name], d.replicas)
            restarts.add_metric([d.tenant, d.name], sum(r.restarts for r in status.replicas))
        yield from (ready, desired, restarts)
        workers = self.svc.workers
        yield GaugeMetricFamily("aiplane_gateway_processes", "Gateway processes serving the port (--workers).",
                                value=1 + (workers.running() if workers else 0))
        yield GaugeMetricFamily("aiplane_gateway_worker_restarts", "Gateway worker restarts since start.",
                                value=workers.restarts() if workers else 0)


def _lifespan(svc: services.Services, demo_mode: bool,
              on_ready: Callable[[Banner], None] | None) -> Callable[[FastAPI], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        svc.cache.reload()
        await svc.audit_process.start()
        await svc.audit_writer.start()
        if svc.grpc_gateway is not None:
            await svc.grpc_gateway.start(svc.settings.server.host, svc.settings.server.grpc_port)
        if svc.publisher is not None:
            await asyncio.to_thread(svc.publisher.clear)
        svc.deployments.start_all()
        tasks = _background(svc)
        if svc.workers is not None:
            svc.workers.start()
        try:
            banner = await (_seed_demo(svc) if demo_mode else asyncio.to_thread(_plain_banner, svc))
            if on_ready is not None:
                on_ready(banner)
            yield
        finally:
            if svc.workers is not None:  # first: they route to the replicas and relay to us
                await svc.workers.stop()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if svc.grpc_gateway is not None:
                await svc.grpc_gateway.stop()
            await svc.supervisor.stop_all()
            await svc.cache.close()
            await asyncio.to_thread(svc.cache.write_last_used, svc.cache.take_last_used())
            svc.unauthenticated.flush()
            await svc.audit_writer.stop()
            await svc.audit_process.stop()
            try:
                await asyncio.to_thread(svc.audit.checkpoint)  # sign the tail before going down
            except Exception:
                log.warning("the final audit checkpoint failed; the next start signs the tail", exc_info=True)
            svc.db.dispose()

    return lifespan


def _background(svc: services.Services) -> list[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(_poll(svc), name="state poll"),
             loop.create_task(_reconcile(svc), name="replica reconciler"),
             loop.create_task(svc.audit.keep_checkpointing(svc.settings.audit.checkpoint_interval_s),
                              name="audit checkpoints"),
             loop.create_task(svc.cache.fetch_provider_keys(), name="identity provider keys"),
             loop.create_task(canary_watching.watch_canaries(svc), name="canary watch")]
    if svc.publisher is not None:
        tasks.append(loop.create_task(svc.publisher.run(), name="replica endpoint publisher"))
    return tasks


async def _poll(svc: services.Services) -> None:
    loop = asyncio.get_running_loop()
    flushed = loop.time()
    while True:
        await asyncio.sleep(svc.settings.control.state_poll_s)
        try:
            await asyncio.to_thread(svc.cache.reload_if_changed)
            if loop.time() - flushed >= svc.settings.gateway.last_used_flush_s:
                flushed = loop.time()
                await asyncio.to_thread(svc.cache.write_last_used, svc.cache.take_last_used())
        except Exception:  # the store may be briefly unreachable; keep serving from the cache
            log.warning("state reload failed; serving from the cached state", exc_info=True)


async def _reconcile(svc: services.Services) -> None:
    while True:
        await asyncio.sleep(svc.settings.control.reconcile_s)
        try:
            await svc.deployments.reconcile()
        except Exception:  # the store may be briefly unreachable; try again next round
            log.warning("replica reconciliation failed; retrying", exc_info=True)


def _url(svc: services.Services) -> str:
    s = svc.settings.server
    scheme = "https" if s.tls_cert else "http"
    host = f"[{s.host}]" if ":" in s.host else s.host
    return f"{scheme}://{host}:{s.port}"


def _admin_key(svc: services.Services) -> str | None:
    path = svc.admin_key_file
    return path.read_text().strip() if path.exists() else None


def _grpc_address(svc: services.Services) -> str | None:
    s = svc.settings.server
    return f"{s.host}:{s.grpc_port}" if s.grpc_port else None


def _plain_banner(svc: services.Services) -> Banner:
    return Banner(_url(svc), _admin_key(svc), str(svc.admin_key_file), grpc=_grpc_address(svc))


async def _seed_demo(svc: services.Services) -> Banner:
    admin = Principal("demo-setup", Role.PLATFORM_ADMIN, None)
    data_dir = svc.settings.server.data_dir
    keys = await asyncio.to_thread(demo.seed, admin, svc.tenants, svc.keys, svc.models, data_dir)
    try:
        status = await asyncio.to_thread(svc.deployments.status, admin, demo.TENANT, demo.DEPLOYMENT)
        await svc.supervisor.wait_ready(status.deployment.id, svc.settings.control.replica_ready_timeout_s)
    except NotFound:
        await svc.deployments.create(admin, demo.TENANT, demo.DEPLOYMENT, f"{demo.MODEL}:1",
                                     {"min_replicas": 1, "cpus": 1, "memory": "1Gi"})
    url = _url(svc)
    body = ('{"inputs":[{"name":"input","shape":[1,8],"datatype":"FP32","data":'
            + str(demo.SAMPLE_ROW).replace(" ", "") + "}]}")
    cert = svc.settings.server.tls_cert
    # A self-signed certificate (made in DATA_DIR/tls) is its own CA file: curl trusts it so.
    trust = f"--cacert {cert} " if cert and Path(cert).parent == data_dir / "tls" else ""
    curl = (f"curl -s {trust}-H 'Authorization: Bearer {keys.predictor}' -H 'Content-Type: application/json' "
            f"-d '{body}' {url}/v2/models/{demo.DEPLOYMENT}/infer")
    return Banner(url, _admin_key(svc), str(svc.admin_key_file), keys.predictor, curl, _grpc_address(svc))

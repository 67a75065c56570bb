"""Wiring: one store, one clock, one cache, one supervisor, and the services over them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aiplane.artifacts.blobs import BlobStore
from aiplane.control.audit import AuditService
from aiplane.control.audit_writer_process import WriterProcess
from aiplane.control.deployments import DeploymentService
from aiplane.control.gateway_workers import GatewayWorkers
from aiplane.control.gpu import GpuService
from aiplane.control.keys import KeyService
from aiplane.control.models import ModelService
from aiplane.control.optimizing import OptimizationService
from aiplane.control.publishing import EndpointPublisher
from aiplane.control.rollouts import RolloutService
from aiplane.control.supervisor import Supervisor
from aiplane.control.sso import SsoService
from aiplane.control.tenants import TenantService
from aiplane.crypto import keyfiles
from aiplane.crypto.signing import Signer
from aiplane.crypto.tls import ServerTLS
from aiplane.domain.clock import Clock, SystemClock
from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import inventory as inventories
from aiplane.domain.gpu.inventory import Inventory
from aiplane.gateway.audit_log import AuditWriter, payload_keys
from aiplane.gateway.app import Gateway
from aiplane.gateway.auditing import PredictionAuditor
from aiplane.gateway.canary_watch import CanaryWatch
from aiplane.gateway.forwarding import RoutingTable
from aiplane.gateway.grpc_app import GrpcGateway
from aiplane.gateway.grpc_forwarding import ReplicaChannels
from aiplane.gateway import oidc_issuers
from aiplane.gateway.jwks import JwksCache
from aiplane.gateway.unauthenticated import UnauthenticatedTally
from aiplane.gateway.limiting import AuthGuard, RequestLimits
from aiplane.gateway.oidc import OidcVerifier
from aiplane.gateway.state import StateCache
from aiplane.settings import Settings
from aiplane.store.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    blobs: BlobStore
    cache: StateCache
    routing: RoutingTable
    supervisor: Supervisor
    gateway: Gateway
    tenants: TenantService
    keys: KeyService
    models: ModelService
    optimizer: OptimizationService
    deployments: DeploymentService
    rollouts: RolloutService
    canary_watch: CanaryWatch
    clock: Clock
    audit: AuditService
    audit_writer: AuditWriter
    audit_process: WriterProcess
    sso: SsoService
    unauthenticated: UnauthenticatedTally
    gpu: GpuService
    grpc_gateway: GrpcGateway | None = None  # only with a gRPC port set
    workers: GatewayWorkers | None = None  # with --workers N > 1: the N-1 other gateway processes
    publisher: EndpointPublisher | None = None  # ... and the ready replicas, published for them

    @property
    def admin_key_file(self):  # type: ignore[no-untyped-def]
        return self.settings.server.data_dir / "admin.key"


def build(settings: Settings, tls: ServerTLS | None = None) -> Services:
    data_dir = settings.server.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    clock = SystemClock()
    db = Database(settings.database_url)
    db.migrate()
    blobs = BlobStore(data_dir / "artifacts")
    g = settings.gateway
    guard = AuthGuard(clock, g.auth_failures_per_minute, g.auth_failure_burst)
    cache = StateCache(db, clock, guard, oidc_verifier(settings, clock))
    routing = RoutingTable(settings.gateway.connections_per_replica)
    channels = ReplicaChannels() if settings.server.grpc_port else None
    count = settings.server.workers
    publisher = EndpointPublisher(db) if count > 1 else None

    def replicas_changed(deployment_id: int, sockets: list[str]) -> None:
        routing.set_replicas(deployment_id, sockets)
        if channels is not None:
            channels.set_replicas(deployment_id, sockets)
        if publisher is not None:
            publisher.changed(deployment_id, sockets)

    gpus = GpuService(db, gpu_pool(settings))
    supervisor = Supervisor(data_dir, blobs.path, settings.control.replica_ready_timeout_s,
                            settings.gateway.max_body_bytes, replicas_changed, grpc=channels is not None,
                            drain_s=settings.rollout.drain_s, device=gpus.replica_device,
                            per_tenant_users=settings.control.replica_tenant_users and os.geteuid() == 0)
    audit_socket = audit_socket_in(supervisor.socket_dir)
    audit = _audit(settings, db, clock)
    writer = audit_writer(settings, audit_socket)
    auditor = prediction_auditor(settings, writer, clock)
    unauthenticated = unauthenticated_tally(settings, writer, clock)
    guard.subscribe(unauthenticated.failure_listener())
    # One budget per key and deployment, whichever transport; each of N gateway processes holds 1/N.
    limits = RequestLimits(clock, share=count)
    canary_watch = CanaryWatch(settings.rollout.thresholds())
    gateway = Gateway(cache, routing, g.max_body_bytes, g.forward_timeout_s, limits, auditor,
                      worker=0 if count > 1 else None, watch=canary_watch)
    grpc_gateway = (GrpcGateway(cache, routing, channels, limits, g.forward_timeout_s, g.max_body_bytes, auditor,
                                tls)
                    if channels is not None else None)
    workers = None
    if count > 1:
        workers = GatewayWorkers(count - 1, str(supervisor.socket_dir / "control.sock"), _worker_env(settings))
    ready_timeout_s = settings.control.replica_ready_timeout_s
    deployments = DeploymentService(db, clock, supervisor, cache.reload, ready_timeout_s, gpus.pool)
    return Services(
        settings=settings, db=db, blobs=blobs, cache=cache, routing=routing, supervisor=supervisor,
        gateway=gateway,
        tenants=TenantService(db, clock, cache.reload),
        keys=KeyService(db, clock, cache.reload),
        models=ModelService(db, blobs, clock),
        deployments=deployments,
        canary_watch=canary_watch,
        rollouts=RolloutService(db, supervisor, deployments, cache.reload, cache.prepare_reload, ready_timeout_s),
        optimizer=OptimizationService(db, blobs, clock, settings.control.optimize_timeout_s),
        gpu=gpus,
        clock=clock, audit=audit, audit_writer=writer, audit_process=_writer_process(settings, audit_socket),
        sso=SsoService(db, clock, cache.reload),
        unauthenticated=unauthenticated,
        grpc_gateway=grpc_gateway, workers=workers,
        publisher=publisher,
    )


def oidc_verifier(settings: Settings, clock: Clock) -> OidcVerifier | None:
    """A gateway process's verifier of SSO tokens, or None when no issuer is configured."""
    o = settings.oidc
    issuers = oidc_issuers.parse(o.issuers)
    if not issuers:
        return None
    jwks = JwksCache(issuers, clock, o.jwks_cache_s, o.jwks_refresh_s, o.http_timeout_s)
    return OidcVerifier(jwks, clock, o.clock_skew_s, o.token_cache_size)


def gpu_pool(settings: Settings) -> Inventory | None:
    """The declared inventory (AIPLANE_GPU_INVENTORY), else the GPUs NVML finds, else no pool."""
    path = settings.gpu.inventory
    if not path:
        from aiplane.runtime import nvml  # imported only when no inventory is declared

        return nvml.detect()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"GPU inventory {path!r} cannot be read ({type(exc).__name__}); give a readable YAML "
                           "file (--gpu-inventory, AIPLANE_GPU_INVENTORY).") from None
    return inventories.parse(text, path)


def _worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a gateway worker: this one, with the server settings as resolved here
    (command-line flags included), so every process reads the same settings."""
    s = settings.server
    return {**os.environ, "AIPLANE_HOST": s.host, "AIPLANE_PORT": str(s.port),
            "AIPLANE_DATA_DIR": str(s.data_dir.resolve()), "AIPLANE_WORKERS": str(s.workers),
            # A self-signed pair is made by this process; the workers serve the same files.
            "AIPLANE_TLS_CERT": s.tls_cert, "AIPLANE_TLS_KEY": s.tls_key, "AIPLANE_TLS_SELF_SIGNED": "false"}


def _audit(settings: Settings, db: Database, clock: Clock) -> AuditService:
    """Keys in DATA_DIR/audit (created on first start, 0600) and the audit service."""
    signer = Signer.load_or_create(settings.server.data_dir / "audit" / "signing.key")
    keys = payload_keys(settings.server.data_dir)
    return AuditService(db, clock, signer, keys, settings.audit.retention_days)


def _writer_process(settings: Settings, socket_path: Path) -> WriterProcess:
    """The one audit writer of this `up` (every gateway process sends it its events)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("AIPLANE_")}
    env.update(AIPLANE_DATA_DIR=str(settings.server.data_dir.resolve()), AIPLANE_DATABASE_URL=settings.database_url)
    return WriterProcess(socket_path, settings.server.data_dir / "audit" / "writer.log", env)


def audit_socket_in(socket_dir: Path) -> Path:
    """Where the audit writer listens: beside the replicas' and the relay's sockets (a short path)."""
    return socket_dir / "audit-writer.sock"


def audit_writer(settings: Settings, socket_path: Path) -> AuditWriter:
    """A gateway process's client of the audit writer process listening on `socket_path`."""
    s = settings.audit
    return AuditWriter(socket_path, s.max_pending, s.commit_timeout_s)


def unauthenticated_tally(settings: Settings, writer: AuditWriter, clock: Clock) -> UnauthenticatedTally:
    return UnauthenticatedTally(writer, clock, settings.audit.unauthenticated_window_s)


def prediction_auditor(settings: Settings, writer: AuditWriter, clock: Clock) -> PredictionAuditor | None:
    s = settings.audit
    if not s.record_predictions:
        return None
    hmac_key = keyfiles.load_or_create(settings.server.data_dir / "audit" / "hmac.key", keyfiles.random_key)
    return PredictionAuditor(writer, hmac_key, clock)

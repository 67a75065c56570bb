"""Wiring: one store, one clock, one cache, one supervisor, and the services over them."""

from __future__ import annotations

import os
from dataclasses import dataclass

from aiplane.artifacts.blobs import BlobStore
from aiplane.control.audit import AuditService
from aiplane.control.deployments import DeploymentService
from aiplane.control.gateway_workers import GatewayWorkers
from aiplane.control.keys import KeyService
from aiplane.control.models import ModelService
from aiplane.control.publishing import EndpointPublisher
from aiplane.control.supervisor import Supervisor
from aiplane.control.tenants import TenantService
from aiplane.crypto import keyfiles
from aiplane.crypto.envelope import Envelope
from aiplane.crypto.signing import Signer
from aiplane.domain.clock import Clock, SystemClock
from aiplane.gateway.audit_log import AuditWriter, PayloadSealer
from aiplane.gateway.app import Gateway
from aiplane.gateway.auditing import PredictionAuditor, auth_failure_recorder
from aiplane.gateway.forwarding import RoutingTable
from aiplane.gateway.grpc_app import GrpcGateway
from aiplane.gateway.grpc_forwarding import ReplicaChannels
from aiplane.gateway.limiting import AuthGuard, RequestLimits
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
    deployments: DeploymentService
    clock: Clock
    audit: AuditService
    audit_writer: AuditWriter
    grpc_gateway: GrpcGateway | None = None  # only with a gRPC port set
    workers: GatewayWorkers | None = None  # with --workers N > 1: the N-1 other gateway processes
    publisher: EndpointPublisher | None = None  # ... and the ready replicas, published for them

    @property
    def admin_key_file(self):  # type: ignore[no-untyped-def]
        return self.settings.server.data_dir / "admin.key"


def build(settings: Settings) -> Services:
    data_dir = settings.server.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    clock = SystemClock()
    db = Database(settings.database_url)
    db.migrate()
    blobs = BlobStore(data_dir / "artifacts")
    g = settings.gateway
    guard = AuthGuard(clock, g.auth_failures_per_minute, g.auth_failure_burst)
    cache = StateCache(db, clock, guard)
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

    supervisor = Supervisor(data_dir, blobs.path, settings.control.replica_ready_timeout_s,
                            settings.gateway.max_body_bytes, replicas_changed, grpc=channels is not None)
    audit, writer = _audit(settings, db, clock)
    auditor = prediction_auditor(settings, writer, clock)
    guard.subscribe(auth_failure_recorder(writer))
    # One budget per key and deployment, whichever transport; each of N gateway processes holds 1/N.
    limits = RequestLimits(clock, share=count)
    gateway = Gateway(cache, routing, g.max_body_bytes, g.forward_timeout_s, limits, auditor,
                      worker=0 if count > 1 else None)
    grpc_gateway = (GrpcGateway(cache, routing, channels, limits, g.forward_timeout_s, g.max_body_bytes, auditor)
                    if channels is not None else None)
    workers = None
    if count > 1:
        workers = GatewayWorkers(count - 1, str(supervisor.socket_dir / "control.sock"), _worker_env(settings))
    return Services(
        settings=settings, db=db, blobs=blobs, cache=cache, routing=routing, supervisor=supervisor,
        gateway=gateway,
        tenants=TenantService(db, clock, cache.reload),
        keys=KeyService(db, clock, cache.reload),
        models=ModelService(db, blobs, clock),
        deployments=DeploymentService(db, clock, supervisor, cache.reload, settings.control.replica_ready_timeout_s),
        clock=clock, audit=audit, audit_writer=writer, grpc_gateway=grpc_gateway, workers=workers,
        publisher=publisher,
    )


def _worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a gateway worker: this one, with the server settings as resolved here
    (command-line flags included), so every process reads the same settings."""
    s = settings.server
    return {**os.environ, "AIPLANE_HOST": s.host, "AIPLANE_PORT": str(s.port),
            "AIPLANE_DATA_DIR": str(s.data_dir.resolve()), "AIPLANE_WORKERS": str(s.workers)}


def _master_key(settings: Settings) -> Envelope:
    folder = settings.server.data_dir / "audit"
    return Envelope(keyfiles.load_or_create(folder / "master.key", keyfiles.random_key))


def _audit(settings: Settings, db: Database, clock: Clock) -> tuple[AuditService, AuditWriter]:
    """Keys in DATA_DIR/audit (created on first start, 0600), the group-commit writer, the service."""
    signer = Signer.load_or_create(settings.server.data_dir / "audit" / "signing.key")
    keys = _master_key(settings)
    s = settings.audit
    writer = AuditWriter(db, PayloadSealer(keys, clock), s.max_batch, s.max_pending)
    return AuditService(db, clock, signer, keys, s.retention_days), writer


def audit_writer(settings: Settings, db: Database, clock: Clock) -> AuditWriter:
    """A group-commit writer of this process's own (a gateway worker's): writers in several
    processes serialise on the store's head lock, so the log stays one chain."""
    s = settings.audit
    return AuditWriter(db, PayloadSealer(_master_key(settings), clock), s.max_batch, s.max_pending)


def prediction_auditor(settings: Settings, writer: AuditWriter, clock: Clock) -> PredictionAuditor | None:
    s = settings.audit
    if not s.record_predictions:
        return None
    hmac_key = keyfiles.load_or_create(settings.server.data_dir / "audit" / "hmac.key", keyfiles.random_key)
    return PredictionAuditor(writer, hmac_key, clock, s.commit_timeout_s)

"""Wiring: one store, one clock, one cache, one supervisor, and the services over them."""

from __future__ import annotations

from dataclasses import dataclass

from aiplane.artifacts.blobs import BlobStore
from aiplane.control.deployments import DeploymentService
from aiplane.control.keys import KeyService
from aiplane.control.models import ModelService
from aiplane.control.supervisor import Supervisor
from aiplane.control.tenants import TenantService
from aiplane.domain.clock import SystemClock
from aiplane.gateway.app import Gateway
from aiplane.gateway.forwarding import RoutingTable
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
    supervisor = Supervisor(data_dir, blobs.path, settings.control.replica_ready_timeout_s,
                            settings.gateway.max_body_bytes, routing.set_replicas)
    gateway = Gateway(cache, routing, settings.gateway.max_body_bytes, settings.gateway.forward_timeout_s,
                      RequestLimits(clock, share=1))
    return Services(
        settings=settings, db=db, blobs=blobs, cache=cache, routing=routing, supervisor=supervisor,
        gateway=gateway,
        tenants=TenantService(db, clock, cache.reload),
        keys=KeyService(db, clock, cache.reload),
        models=ModelService(db, blobs, clock),
        deployments=DeploymentService(db, clock, supervisor, cache.reload, settings.control.replica_ready_timeout_s),
    )

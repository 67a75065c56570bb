"""Deployment use-cases: admit against the quota, record the desired state, run the replicas."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from aiplane.domain import names, quantities, registry, rollout
from aiplane.domain.clock import Clock
from aiplane.domain.deployments import Deployment, DeploymentSpec
from aiplane.domain.errors import InvalidInput, Unavailable
from aiplane.domain.gpu import visibility
from aiplane.domain.gpu.inventory import Inventory
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.control.supervisor import ReplicaStatus, Supervisor
from aiplane.store import deployments as deployment_rows
from aiplane.store import models as model_rows
from aiplane.store.database import Database


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    deployment: Deployment
    replicas: list[ReplicaStatus]
    canary_replicas: list[ReplicaStatus] = dataclasses.field(default_factory=list)

    @property
    def canary_ready(self) -> int:
        return sum(1 for r in self.canary_replicas if r.state == "ready")

    @property
    def ready_replicas(self) -> int:
        return sum(1 for r in self.replicas if r.state == "ready")

    @property
    def phase(self) -> str:
        if self.ready_replicas >= self.deployment.replicas:
            return "Ready"
        return "Degraded" if self.ready_replicas else "Progressing"


def parse_spec(model_ref: str, options: Mapping[str, Any]) -> DeploymentSpec:
    model, version = registry.parse_ref(model_ref)
    spec = DeploymentSpec(
        model=model,
        model_version=version or 0,
        device=options.get("device") or "cpu",
        cpus_milli=quantities.millicpus("cpus", options.get("cpus") or 1),
        memory_bytes=quantities.memory_bytes("memory", options.get("memory") or "1Gi"),
        min_replicas=quantities.count("min-replicas", options.get("min_replicas", 1)),
        max_replicas=quantities.count("max-replicas", options.get("max_replicas") or max(options.get("min_replicas", 1), 1)),
        target_concurrency=quantities.count("target-concurrency", options.get("target_concurrency") or 8),
        max_batch_size=quantities.count("max-batch-size", options.get("max_batch_size") or 1),
        max_batch_delay_ms=float(options.get("max_batch_delay_ms") or 0.0),
        payload_logging=bool(options.get("payload_logging", False)),
        allow_non_finite=bool(options.get("allow_non_finite", False)),
    )
    return spec.validate()


def updated_spec(current: DeploymentSpec, options: Mapping[str, Any]) -> DeploymentSpec:
    """`current` with the fields `options` gives (None: unchanged), checked as a whole."""
    parsers: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "cpus": ("cpus_milli", lambda v: quantities.millicpus("cpus", v)),
        "memory": ("memory_bytes", lambda v: quantities.memory_bytes("memory", v)),
        "min_replicas": ("min_replicas", lambda v: quantities.count("min-replicas", v)),
        "max_replicas": ("max_replicas", lambda v: quantities.count("max-replicas", v)),
        "target_concurrency": ("target_concurrency", lambda v: quantities.count("target-concurrency", v)),
        "max_batch_size": ("max_batch_size", lambda v: quantities.count("max-batch-size", v)),
        "max_batch_delay_ms": ("max_batch_delay_ms", _delay_ms),
    }
    changes = {field: parse(options[key]) for key, (field, parse) in parsers.items() if options.get(key) is not None}
    return dataclasses.replace(current, **changes).validate()


def _delay_ms(value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(str(value).strip())
    except ValueError:
        raise InvalidInput(f"max-batch-delay-ms {value!r} is not a number of milliseconds.") from None


def _check_scale(deployment: Deployment, replicas: int) -> None:
    spec = deployment.spec
    if replicas < 1:
        raise InvalidInput(f"replicas {replicas} is below 1; scaling to zero comes with the autoscaler, "
                           f"so scale {deployment.tenant}/{deployment.name} to 1 or more.")
    if replicas > spec.max_replicas:
        raise InvalidInput(f"replicas {replicas} is above max-replicas {spec.max_replicas} of "
                           f"{deployment.tenant}/{deployment.name}; raise it first with 'aiplane deploy update {deployment.tenant}/{deployment.name} "
                           f"--max-replicas {replicas}'.")


class DeploymentService:
    def __init__(self, db: Database, clock: Clock, supervisor: Supervisor, on_change: Callable[[], None],
                 ready_timeout_s: float, pool: Inventory | None = None) -> None:
        self.db, self.clock, self.supervisor, self.on_change = db, clock, supervisor, on_change
        self.ready_timeout_s = ready_timeout_s
        self.pool = pool  # the GPU pool GPU and MIG deployments are placed on; None: CPU only

    def admit(self, who: Principal, tenant: str, name: str, model_ref: str, options: Mapping[str, Any]) -> Deployment:
        """Check rights and quota and record the deployment, atomically (runs off the event loop)."""
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        names.check("deployment", name)
        spec = parse_spec(model_ref, options)
        visibility.check_device(self.pool, spec.device, spec.gpu_profile)
        with self.db.write() as conn:
            version_id, version = model_rows.get_version(conn, tenant, spec.model, spec.model_version or None)
            spec = dataclasses.replace(spec, model_version=version.version)
            deployment_rows.insert(self.db, conn, tenant, name, spec, version_id, who.key_id, self.clock.now(),
                                   self.pool)
            deployment = deployment_rows.get(conn, tenant, name)
        self.on_change()
        return deployment

    async def create(self, who: Principal, tenant: str, name: str, model_ref: str,
                     options: Mapping[str, Any]) -> DeploymentStatus:
        deployment = await asyncio.to_thread(self.admit, who, tenant, name, model_ref, options)
        self.supervisor.apply(deployment)
        await self.supervisor.wait_ready(deployment.id, self.ready_timeout_s)
        return self._status(deployment)

    def admit_scale(self, who: Principal, tenant: str, name: str, replicas: int | str) -> Deployment:
        """Check rights, bounds and quota, and record the new replica count, atomically."""
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        count = quantities.count("replicas", replicas)
        with self.db.write() as conn:
            current = deployment_rows.get(conn, tenant, name)
            _check_scale(current, count)
            deployment = deployment_rows.scale(self.db, conn, tenant, name, count, self.pool, self.clock.now())
        self.on_change()
        return deployment

    async def scale(self, who: Principal, tenant: str, name: str, replicas: int | str) -> DeploymentStatus:
        """Scale to `replicas`: growth is admitted against the quota first; replicas are started
        (and awaited) or stopped to match. The autoscaler will call this too."""
        deployment = await asyncio.to_thread(self.admit_scale, who, tenant, name, replicas)
        await self.supervisor.resize(deployment)
        await self.supervisor.wait_ready(deployment.id, self.ready_timeout_s)
        return self._status(deployment)

    def admit_update(self, who: Principal, tenant: str, name: str,
                     options: Mapping[str, Any]) -> tuple[Deployment, Deployment]:
        """Check rights, the new spec and the quota, and record the change, atomically; returns
        the deployment before and after."""
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        with self.db.write() as conn:
            before = deployment_rows.get_locked(self.db, conn, tenant, name)
            spec = updated_spec(before.spec, options)
            after = deployment_rows.update(self.db, conn, before, spec, spec.admitted_replicas(before.replicas),
                                           self.pool, self.clock.now())
        self.on_change()
        return before, after

    async def update(self, who: Principal, tenant: str, name: str, options: Mapping[str, Any]) -> DeploymentStatus:
        """Change a deployment's bounds, resources or batching. The replica count moves inside the
        new bounds; replicas whose settings changed are replaced one at a time, each stopped only
        once its successor is ready, so serving carries on. If a successor never gets ready the
        change is undone and the old replicas keep serving."""
        before, after = await asyncio.to_thread(self.admit_update, who, tenant, name, options)
        await self.supervisor.resize(after)
        if not await self.supervisor.replace(after, self.ready_timeout_s):
            await asyncio.to_thread(self._restore, before)
            await self.supervisor.resize(before)
            await self.supervisor.replace(before, self.ready_timeout_s)
            raise Unavailable(f"a replica of {tenant}/{name} with the new settings was not ready within "
                              f"{self.ready_timeout_s:.0f} s, so the change was undone and the old replicas "
                              "serve on; see its replica.log, or give it more memory or time.")
        await self.supervisor.wait_ready(after.id, self.ready_timeout_s)
        return self._status(after)

    def _restore(self, before: Deployment) -> None:
        """Put back what ran before a change that could not be rolled out (it fit before, and the
        tenant's lock keeps other changes out meanwhile)."""
        with self.db.write() as conn:
            current = deployment_rows.get_locked(self.db, conn, before.tenant, before.name)
            deployment_rows.record(conn, current, before.spec, before.replicas)
        self.on_change()

    async def delete(self, who: Principal, tenant: str, name: str) -> None:
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        deployment = await asyncio.to_thread(self._get, tenant, name)
        # Desired state first (routes go at once), then the replicas converge to it.
        await asyncio.to_thread(self._delete_row, deployment.id)
        await self.supervisor.remove(deployment.id)
        await self.supervisor.remove(rollout.canary_id(deployment.id))

    async def reconcile(self) -> None:
        """Make the running replicas match the store: start, scale, replace or stop what a change
        made by another process (another gateway worker, a CLI on the same store) asks for."""
        async with self.supervisor.lock:
            await self._reconcile()

    async def _reconcile(self) -> None:
        wanted = {u.id: u for d in await asyncio.to_thread(self._all) for u in units(d)}
        for unit_id in self.supervisor.deployment_ids() - wanted.keys():
            await self.supervisor.remove(unit_id)
        for unit in wanted.values():
            if self.supervisor.count(unit.id) != unit.replicas:
                await self.supervisor.resize(unit)
            if not self.supervisor.runs(unit) and not self.supervisor.replacing(unit.id):
                await self.supervisor.replace(unit, self.ready_timeout_s)

    def _delete_row(self, deployment_id: int) -> None:
        with self.db.write() as conn:
            deployment_rows.delete(conn, deployment_id)
        self.on_change()

    def _all(self) -> list[Deployment]:
        with self.db.read() as conn:
            return deployment_rows.list_all(conn)

    def _get(self, tenant: str, name: str) -> Deployment:
        with self.db.read() as conn:
            return deployment_rows.get(conn, tenant, name)

    def list(self, who: Principal, tenant: str | None = None) -> list[DeploymentStatus]:
        scope = tenant if tenant is not None else who.tenant
        authorize(who, Action.DEPLOYMENT_READ, scope)
        with self.db.read() as conn:
            return [self._status(d) for d in deployment_rows.list_all(conn, scope)]

    def status(self, who: Principal, tenant: str, name: str) -> DeploymentStatus:
        authorize(who, Action.DEPLOYMENT_READ, tenant)
        return self._status(self._get(tenant, name))

    def _status(self, deployment: Deployment) -> DeploymentStatus:
        canary = self.supervisor.status(rollout.canary_id(deployment.id)) if deployment.canary else []
        return DeploymentStatus(deployment, self.supervisor.status(deployment.id), canary)

    def start_all(self) -> builtins.list[Deployment]:
        """Bring every recorded deployment back up (at start, after a restart)."""
        with self.db.read() as conn:
            deployments = deployment_rows.list_all(conn)
        for d in deployments:
            for unit in units(d):
                self.supervisor.apply(unit)
        return deployments


def units(deployment: Deployment) -> builtins.list[Deployment]:
    """What the supervisor runs for a deployment: its stable replicas and its canary's, if any."""
    return [deployment, rollout.canary_unit(deployment)] if deployment.canary else [deployment]

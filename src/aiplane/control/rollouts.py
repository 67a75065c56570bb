"""Rollout use-cases: start a canary beside the stable version, promote it, roll it back.

Every step changes the desired state in the store first (capacity admitted against the quota in
the same transaction), then the replicas follow; replicas leave routing before they are stopped
and are drained (supervisor), so no step drops a request.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from aiplane.control.deployments import DeploymentService, DeploymentStatus
from aiplane.control.supervisor import Supervisor
from aiplane.domain import registry, rollout
from aiplane.domain.deployments import Deployment
from aiplane.domain.errors import Unavailable
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.store import deployments as deployment_rows
from aiplane.store import models as model_rows
from aiplane.store.database import Database


class RolloutService:
    def __init__(self, db: Database, supervisor: Supervisor, deployments: DeploymentService,
                 on_change: Callable[[], None], prepare_change: Callable[[], Callable[[], None]],
                 ready_timeout_s: float) -> None:
        self.db, self.supervisor, self.deployments = db, supervisor, deployments
        self.on_change = on_change  # reload the routes now (any thread)
        self.prepare_change = prepare_change  # read the routes now, install them later (on the loop)
        self.ready_timeout_s = ready_timeout_s
        self._ended: Callable[[Deployment, str], None] = lambda _d, _reason: None

    def on_rollback(self, listener: Callable[[Deployment, str], None]) -> None:
        """Call `listener(deployment, reason)` after each rollback (the audit trail's record)."""
        self._ended = listener

    async def canary(self, who: Principal, tenant: str, name: str, model_ref: str, percent: int,
                     auto_rollback: bool = False) -> DeploymentStatus:
        """Start `model_ref` beside the stable version, taking `percent` of the traffic once its
        replicas are ready (until then the stable version answers everything)."""
        deployment = await asyncio.to_thread(self._admit_canary, who, tenant, name, model_ref, percent, auto_rollback)
        unit = rollout.canary_unit(deployment)
        self.supervisor.apply(unit)
        await self.supervisor.wait_ready(unit.id, self.ready_timeout_s)
        return self.deployments.status(who, tenant, name)

    def _admit_canary(self, who: Principal, tenant: str, name: str, model_ref: str, percent: int,
                      auto_rollback: bool) -> Deployment:
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        model, version = registry.parse_ref(model_ref)
        rollout.check_percent(percent)
        with self.db.write() as conn:
            current = deployment_rows.get_locked(self.db, conn, tenant, name)
            version_id, found = model_rows.get_version(conn, tenant, model, version)
            rollout.check_canary(current, model, found.version)
            deployment = deployment_rows.set_canary(self.db, conn, current, version_id, percent, auto_rollback,
                                                    rollout.canary_replicas(current.replicas, percent))
        self.on_change()
        return deployment

    async def promote(self, who: Principal, tenant: str, name: str) -> DeploymentStatus:
        """Make the canary the stable version: grow it to the stable replica count (admitted),
        wait until those replicas are ready, then switch all traffic to them at once and drain
        the old replicas."""
        grown = await asyncio.to_thread(self._admit_growth, who, tenant, name)
        unit = rollout.canary_unit(grown)
        await self.supervisor.resize(unit)
        if not await self.supervisor.wait_ready(unit.id, self.ready_timeout_s):
            raise Unavailable(f"the canary of {tenant}/{name} did not get {unit.replicas} ready replicas within "
                              f"{self.ready_timeout_s:g} s, so it was not promoted; see 'aiplane deploy status'.")
        # The store changes without moving the state generation, so no reload installs the new
        # routes early; they are installed here, with the replicas' switch (no await between the
        # two), and only then does the generation move for the other processes.
        async with self.supervisor.lock:
            promoted = await asyncio.to_thread(self._end, tenant, name, True, None)
            install = await asyncio.to_thread(self.prepare_change)
            install()
            old = self.supervisor.adopt(promoted, unit.id)
            await asyncio.to_thread(self._announce)
        await self.supervisor.retire(old, promoted)
        return self.deployments.status(who, tenant, name)

    def _announce(self) -> None:
        with self.db.write():
            pass  # only the state generation moves

    def _admit_growth(self, who: Principal, tenant: str, name: str) -> Deployment:
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        with self.db.write() as conn:
            current = deployment_rows.get_locked(self.db, conn, tenant, name)
            canary = rollout.require_canary(current, "promote")
            version_id = deployment_rows.canary_version_id(conn, current.id)
            return deployment_rows.set_canary(self.db, conn, current, version_id, canary.percent,
                                              canary.auto_rollback, max(canary.replicas, current.replicas))

    async def rollback(self, who: Principal, tenant: str, name: str, reason: str | None = None) -> DeploymentStatus:
        """Remove the canary: its routes go at once, then its replicas are drained."""
        authorize(who, Action.DEPLOYMENT_WRITE, tenant)
        note = reason or f"rolled back by {who.key_id}"
        ended = await asyncio.to_thread(self._end, tenant, name, False, note)
        await self.supervisor.remove(rollout.canary_id(ended.id))
        self._ended(ended, note)
        return self.deployments.status(who, tenant, name)

    def _end(self, tenant: str, name: str, promote: bool, note: str | None) -> Deployment:
        with self.db.write(bump_generation=not promote) as conn:
            current = deployment_rows.get_locked(self.db, conn, tenant, name)
            rollout.require_canary(current, "promote" if promote else "roll back")
            ended = deployment_rows.end_canary(conn, current, promote, note)
        if not promote:
            self.on_change()  # a promotion installs its routes itself, together with the replicas
        return ended

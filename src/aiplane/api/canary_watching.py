"""The automatic rollback loop: every AIPLANE_ROLLOUT_CHECK_S, judge each watched canary on what
the gateway recorded and roll back the ones that breach a threshold, with the reason in the
deployment's status (`rollout_note`) and in an audit event (action `canary.rollback`, as for a
rollback by hand, actor `auto-rollback`, the reason in its `decision`)."""

from __future__ import annotations

import asyncio
import logging

from aiplane.api.services import Services
from aiplane.domain.audit import AuditEvent
from aiplane.domain.errors import AiplaneError, Unavailable
from aiplane.domain.policy import Principal
from aiplane.domain.roles import Role
from aiplane.gateway.audit_log import next_audit_id

log = logging.getLogger("aiplane.rollouts")
ACTOR = "auto-rollback"
_SYSTEM = Principal(ACTOR, Role.PLATFORM_ADMIN, None)


async def watch_canaries(svc: Services) -> None:
    while True:
        await asyncio.sleep(svc.settings.rollout.check_s)
        try:
            await check_once(svc)
        except Exception:  # the store may be briefly unreachable; judge again next round
            log.warning("the canary check failed; retrying", exc_info=True)


async def check_once(svc: Services) -> None:
    watching = {(r.deployment_id, r.canary.model_version) for r in svc.cache.routes()
                if r.watched and r.canary is not None}
    for tenant, name, reason in svc.canary_watch.breaches(svc.clock.monotonic(), watching):
        note = f"automatic rollback: {reason}"
        # Durable before the rollback (write-ahead, as control calls are): once the canary is
        # gone, its reason is in the trail. A store that cannot take it does not keep a failing
        # canary serving: the rollback goes ahead and the loss is logged.
        now = svc.clock.now()
        event = AuditEvent(
            audit_id=next_audit_id(), received_at=now, completed_at=now, actor=ACTOR, role=None, tenant=tenant,
            source_ip=None, action="canary.rollback", resource=f"deployments/{name}/canary", status=200,
            deployment=name, decision=note)
        try:
            await svc.audit_writer.record(event, None)
        except Unavailable:
            log.error("the audit event of the automatic rollback of %s/%s could not be made durable: %s",
                      tenant, name, note)
        try:
            await svc.rollouts.rollback(_SYSTEM, tenant, name, note)
        except AiplaneError as exc:  # rolled back or deleted meanwhile
            log.info("automatic rollback of %s/%s not needed: %s", tenant, name, exc.message)
            continue
        log.warning("%s/%s: %s", tenant, name, note)

"""The gateway's record of how a watched canary and its stable version answer (auto-rollback).

Only deployments whose canary has `--auto-rollback` are recorded (one flag test per request for
the others). An answer counts as failed when its status is 400 or above: both versions see the
same mix of requests, so inputs the stable version also refuses cancel out, and a canary that
rejects what the stable one accepts is exactly what must be caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiplane.domain import canary_analysis
from aiplane.domain.canary_analysis import Outcomes, Thresholds
from aiplane.gateway.state import Route


@dataclass
class _Watched:
    tenant: str
    name: str
    stable: Outcomes
    canary: Outcomes


class CanaryWatch:
    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        # Keyed by the deployment id and the canary's version: a new canary starts a new record.
        self._watched: dict[tuple[int, str], _Watched] = {}

    def record(self, stable: Route, answered: Route, status: int, now: float, latency_s: float) -> None:
        canary = stable.canary
        assert canary is not None
        key = (stable.deployment_id, canary.model_version)
        watched = self._watched.get(key)
        if watched is None:
            window = self.thresholds.window_s
            watched = self._watched[key] = _Watched(stable.tenant, stable.name, Outcomes(window), Outcomes(window))
        outcomes = watched.stable if answered is stable else watched.canary
        outcomes.record(now, status >= 400, latency_s * 1000)

    def breaches(self, now: float, watching: set[tuple[int, str]]) -> list[tuple[str, str, str]]:
        """(tenant, deployment, reason) of each watched canary that must go; records of canaries
        no longer in `watching` (promoted, rolled back, deleted) are forgotten."""
        for gone in self._watched.keys() - watching:
            del self._watched[gone]
        found = []
        for w in self._watched.values():
            reason = canary_analysis.judge(w.canary.stats(now), w.stable.stats(now), self.thresholds)
            if reason is not None:
                found.append((w.tenant, w.name, reason))
        return found

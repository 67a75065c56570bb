"""The gateway's record of watched canaries: per deployment and canary version, forgotten when gone."""

from __future__ import annotations

from aiplane.domain.canary_analysis import Thresholds
from aiplane.gateway.canary_watch import CanaryWatch
from aiplane.gateway.state import Route

CANARY = Route(-3, "t", "d", "2", watched=True)
STABLE = Route(3, "t", "d", "1", canary=CANARY, canary_percent=50, watched=True)


def test_a_canary_failing_where_the_stable_version_answers_is_reported_with_its_deployment():
    watch = CanaryWatch(Thresholds(window_s=10, min_requests=5))
    for i in range(10):
        watch.record(STABLE, STABLE, 200, 100.0 + i / 10, 0.002)
        watch.record(STABLE, CANARY, 400 if i % 2 else 200, 100.0 + i / 10, 0.002)
    [(tenant, name, reason)] = watch.breaches(101.0, {(3, "2")})
    assert (tenant, name) == ("t", "d") and "failed 50% of 10 requests" in reason


def test_a_record_ends_with_its_canary_and_a_new_canary_starts_afresh():
    watch = CanaryWatch(Thresholds(window_s=10, min_requests=5))
    for i in range(10):
        watch.record(STABLE, CANARY, 500, 100.0, 0.002)
    assert watch.breaches(100.5, set()) == []  # rolled back meanwhile: forgotten
    again = Route(3, "t", "d", "1", canary=Route(-3, "t", "d", "3"), canary_percent=50, watched=True)
    watch.record(again, again, 200, 100.6, 0.001)
    assert watch.breaches(100.7, {(3, "3")}) == []

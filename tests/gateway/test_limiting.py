"""The gateway's in-memory limits, with time moved by hand (the Clock port)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aiplane.domain.errors import RateLimited
from aiplane.gateway.limiting import AuthFailure, AuthGuard, RequestLimits


class ManualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    def monotonic(self) -> float:
        return self.t


def test_the_tenant_limit_holds_per_deployment_and_keys_have_their_own():
    clock = ManualClock()
    limits = RequestLimits(clock)
    for _ in range(5):
        limits.check("k1", None, "clinical", "hot", 1, 5.0)
    with pytest.raises(RateLimited, match="clinical/hot is over the rate limit of tenant 'clinical'") as refused:
        limits.check("k1", None, "clinical", "hot", 1, 5.0)
    assert refused.value.retry_after == pytest.approx(0.2)
    limits.check("k1", None, "clinical", "calm", 2, 5.0)  # another deployment of the tenant
    limits.check("k2", 1.0, "finance", "fraud", 3, None)
    with pytest.raises(RateLimited, match="key 'k2' is over its rate limit of 1"):
        limits.check("k2", 1.0, "finance", "fraud", 3, None)
    clock.t += 1.0
    limits.check("k2", 1.0, "finance", "fraud", 3, None)
    assert limits.refused == 2


def test_with_several_gateway_processes_each_holds_its_share():
    limits = RequestLimits(ManualClock(), share=4)
    limits.check("k", None, "t", "d", 1, 8.0)
    limits.check("k", None, "t", "d", 1, 8.0)  # burst 8 / 4 processes = 2 here
    with pytest.raises(RateLimited):
        limits.check("k", None, "t", "d", 1, 8.0)


def test_no_limits_cost_nothing():
    limits = RequestLimits(ManualClock())
    for _ in range(1000):
        limits.check("k", None, "t", "d", 1, None)


def test_failed_authentications_block_the_address_and_reach_subscribers():
    clock = ManualClock()
    guard = AuthGuard(clock, failures_per_minute=60, burst=2)
    seen: list[AuthFailure] = []
    guard.subscribe(seen.append)
    guard.subscribe(lambda event: 1 / 0)  # a broken subscriber changes nothing
    guard.check("10.0.0.1")
    guard.failed("10.0.0.1", "abc123abc123", "data", "unknown key")
    guard.check("10.0.0.1")
    guard.failed("10.0.0.1", None, "control", "malformed")
    with pytest.raises(RateLimited, match="too many failed authentications from 10.0.0.1"):
        guard.check("10.0.0.1")
    guard.check("10.0.0.2")
    clock.t += 1.0
    guard.check("10.0.0.1")
    assert [(e.client, e.key_id, e.plane) for e in seen] == [("10.0.0.1", "abc123abc123", "data"),
                                                            ("10.0.0.1", None, "control")]
    assert seen[0].at == datetime.fromtimestamp(1000.0, timezone.utc)

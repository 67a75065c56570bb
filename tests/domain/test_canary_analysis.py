"""Auto-rollback policy: sliding windows of answers and the judgement over them (virtual time)."""

from __future__ import annotations

import pytest

from aiplane.domain.canary_analysis import Outcomes, Stats, Thresholds, judge

T = Thresholds(window_s=10.0, min_requests=20, max_error_rate_increase=0.05, max_p99_ratio=2.0,
               min_p99_increase_ms=25.0)


def _fill(o: Outcomes, start: float, n: int, failed_every: int = 0, latency_ms: float = 5.0) -> None:
    for i in range(n):
        o.record(start + i * 0.01, bool(failed_every) and i % failed_every == 0, latency_ms)


def test_the_window_forgets_answers_older_than_its_length():
    o = Outcomes(10.0)
    _fill(o, 100.0, 50, failed_every=1)
    assert o.stats(100.5) == Stats(50, 50, o.stats(100.5).p99_ms)
    _fill(o, 108.0, 10)
    assert o.stats(109.0).requests == 60
    assert o.stats(111.5).requests == 10 and o.stats(111.5).failures == 0
    assert o.stats(200.0) == Stats(0, 0, None)


@pytest.mark.parametrize("latency_ms", [0.05, 0.3, 2.0, 17.0, 250.0, 4000.0])
def test_the_p99_is_within_a_quarter_of_the_exact_value(latency_ms: float):
    o = Outcomes(10.0)
    for i in range(1000):
        o.record(50.0, False, latency_ms if i >= 10 else latency_ms / 10)
    p99 = o.stats(50.0).p99_ms
    assert p99 is not None and latency_ms <= p99 * 1.0001 and p99 <= max(latency_ms * 1.25, 0.1)


def test_a_failing_canary_is_judged_only_once_it_has_enough_answers():
    canary, stable = Outcomes(10.0), Outcomes(10.0)
    _fill(stable, 0.0, 100)
    _fill(canary, 0.0, 19, failed_every=1)
    assert judge(canary.stats(1.0), stable.stats(1.0), T) is None
    canary.record(0.5, True, 5.0)
    reason = judge(canary.stats(1.0), stable.stats(1.0), T)
    assert reason is not None and "failed 100% of 20 requests" in reason and "0% for the stable" in reason


def test_errors_the_stable_version_has_too_are_not_held_against_the_canary():
    canary, stable = Outcomes(10.0), Outcomes(10.0)
    _fill(stable, 0.0, 200, failed_every=5)  # 20%
    _fill(canary, 0.0, 100, failed_every=4)  # 25%: 5 points more, at the threshold
    assert judge(canary.stats(3.0), stable.stats(3.0), T) is None
    _fill(canary, 0.0, 100, failed_every=3)  # now 29%
    assert judge(canary.stats(3.0), stable.stats(3.0), T) is not None


def test_a_stable_version_with_too_few_answers_counts_as_error_free():
    canary, stable = Outcomes(10.0), Outcomes(10.0)
    _fill(stable, 0.0, 5, failed_every=1)
    _fill(canary, 0.0, 40, failed_every=10)  # 10%
    assert "against 0%" in (judge(canary.stats(1.0), stable.stats(1.0), T) or "")


def test_a_slow_canary_is_rolled_back_only_when_much_slower_by_a_margin():
    stable = Outcomes(10.0)
    _fill(stable, 0.0, 100, latency_ms=4.0)
    close, slow, tiny = Outcomes(10.0), Outcomes(10.0), Outcomes(10.0)
    _fill(close, 0.0, 100, latency_ms=7.0)
    _fill(slow, 0.0, 100, latency_ms=200.0)
    assert judge(close.stats(1.0), stable.stats(1.0), T) is None
    reason = judge(slow.stats(1.0), stable.stats(1.0), T)
    assert reason is not None and "p99 latency" in reason
    fast_stable = Outcomes(10.0)
    _fill(fast_stable, 0.0, 100, latency_ms=1.0)
    _fill(tiny, 0.0, 100, latency_ms=3.0)  # 3x slower, but by 2 ms
    assert judge(tiny.stats(1.0), fast_stable.stats(1.0), T) is None


def test_an_idle_window_judges_nothing():
    assert judge(Stats(0, 0, None), Stats(0, 0, None), T) is None

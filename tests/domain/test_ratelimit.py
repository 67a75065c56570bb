import pytest

from aiplane.domain import ratelimit
from aiplane.domain.ratelimit import TokenBucket


def test_a_full_bucket_grants_its_burst_then_refuses_with_the_wait():
    bucket = TokenBucket(rate=2.0, burst=3.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token every 0.5 s


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst():
    bucket = TokenBucket(rate=10.0, burst=2.0, now=0.0)
    bucket.take(0.0), bucket.take(0.0)
    assert bucket.take(0.05) == pytest.approx(0.05)
    assert bucket.take(0.1) == 0.0
    assert bucket.empty(100.0) == 0.0 and bucket.tokens == 2.0


def test_a_sustained_rate_above_the_limit_is_held_to_the_limit():
    bucket = TokenBucket(rate=5.0, burst=5.0, now=0.0)
    granted = sum(1 for i in range(1000) if bucket.take(i / 100) == 0.0)  # 100 req/s for 10 s
    assert granted == pytest.approx(5 + 5 * 9.99, abs=1)


def test_retuning_does_not_refill_a_drained_bucket():
    bucket = TokenBucket(rate=1.0, burst=10.0, now=0.0)
    for _ in range(10):
        bucket.take(0.0)
    bucket.retune(100.0, 100.0)
    assert bucket.take(0.0) > 0.0 and bucket.take(0.01) == 0.0


def test_retry_after_is_whole_seconds_rounded_up():
    assert [ratelimit.retry_after_header(s) for s in (0.01, 1.0, 1.2)] == [1, 1, 2]
    assert ratelimit.burst_for(0.5) == 1.0 and ratelimit.burst_for(50) == 50


def test_a_bucket_needs_a_positive_rate():
    with pytest.raises(ValueError):
        TokenBucket(rate=0.0, burst=1.0, now=0.0)

"""Token buckets: `rate` tokens per second, at most `burst` banked, time passed in by the caller.

Pure and clock-free so the gateway can keep thousands of them in a dict and call `take` on the
hot path (a few float operations), and tests can move time by hand.
"""

from __future__ import annotations

import math


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def retune(self, rate: float, burst: float) -> None:
        """Change the limits (a quota was edited) without refilling a drained bucket."""
        self.rate, self.burst = rate, burst
        self.tokens = min(self.tokens, burst)

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> float:
        """Take one token; return 0.0 when granted, else the seconds until one is available."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def empty(self, now: float) -> float:
        """Seconds until a token is available (0.0 when one is), without taking it."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


def retry_after_header(seconds: float) -> int:
    """Whole seconds for a Retry-After header: rounded up, at least 1."""
    return max(1, math.ceil(seconds))


def burst_for(rate: float) -> float:
    """One second's worth of requests may arrive together, and always at least one."""
    return max(1.0, rate)

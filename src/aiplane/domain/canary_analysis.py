"""Automatic rollback: compare a canary's error rate and p99 latency with the stable version's
over a sliding window, and say why when the canary is worse beyond the thresholds.

Pure: the caller passes monotonic times in. A window is a ring of one-second buckets, each a
count, a failure count and a latency histogram with log-spaced bins (25% wide, so a p99 read
from it is within 25% of the exact one), so recording a request is a few integer operations and
memory does not grow with traffic.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

_FIRST_MS = 0.1  # lower edge of the first latency bin
_GROWTH = 1.25
_BINS = 80  # 0.1 ms * 1.25**80 is about 15 minutes: beyond any forward timeout
_LOG_GROWTH = math.log(_GROWTH)


@dataclass(frozen=True, slots=True)
class Thresholds:
    window_s: float = 30.0
    min_requests: int = 20  # canary answers in the window before it is judged at all
    max_error_rate_increase: float = 0.05  # canary failure rate minus stable rate, absolute
    max_p99_ratio: float = 2.0  # canary p99 over stable p99 ...
    min_p99_increase_ms: float = 25.0  # ... and by at least this much (no rollback over 1 ms vs 2 ms)


@dataclass(frozen=True, slots=True)
class Stats:
    requests: int
    failures: int
    p99_ms: float | None  # None with no requests

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def _bin(latency_ms: float) -> int:
    if latency_ms <= _FIRST_MS:
        return 0
    return min(_BINS - 1, int(math.log(latency_ms / _FIRST_MS) / _LOG_GROWTH) + 1)


def _upper_edge(index: int) -> float:
    return _FIRST_MS * _GROWTH ** index


class Outcomes:
    """The answers of one version over the last `window_s` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._buckets: deque[tuple[int, list[int]]] = deque()  # (second, [count, failures, *bins])

    def record(self, now: float, failed: bool, latency_ms: float) -> None:
        second = int(now)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append((second, [0] * (2 + _BINS)))
            self._expire(now)
        counts = self._buckets[-1][1]
        counts[0] += 1
        counts[1] += failed
        counts[2 + _bin(latency_ms)] += 1

    def _expire(self, now: float) -> None:
        oldest = int(now - self.window_s)
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()

    def stats(self, now: float) -> Stats:
        self._expire(now)
        total = [0] * (2 + _BINS)
        for _, counts in self._buckets:
            for i, value in enumerate(counts):
                total[i] += value
        requests, failures, bins = total[0], total[1], total[2:]
        if not requests:
            return Stats(0, 0, None)
        rank = math.ceil(0.99 * requests)
        seen = 0
        for index, count in enumerate(bins):
            seen += count
            if seen >= rank:
                return Stats(requests, failures, _upper_edge(index))
        return Stats(requests, failures, _upper_edge(_BINS - 1))  # pragma: no cover - rank <= requests


def judge(canary: Stats, stable: Stats, t: Thresholds) -> str | None:
    """Why the canary must be rolled back, as one sentence, or None while it is within bounds or
    has too few answers to tell. A stable version with too few answers counts as error-free and
    gives no latency to compare with."""
    if canary.requests < t.min_requests:
        return None
    stable_known = stable.requests >= t.min_requests
    stable_rate = stable.error_rate if stable_known else 0.0
    if canary.error_rate - stable_rate > t.max_error_rate_increase:
        return (f"the canary failed {canary.error_rate:.0%} of {canary.requests} requests in the last "
                f"{t.window_s:g} s against {stable_rate:.0%} for the stable version "
                f"(at most {t.max_error_rate_increase:.0%} more is allowed)")
    if stable_known and canary.p99_ms is not None and stable.p99_ms is not None:
        if (canary.p99_ms > stable.p99_ms * t.max_p99_ratio
                and canary.p99_ms - stable.p99_ms > t.min_p99_increase_ms):
            return (f"the canary's p99 latency was {canary.p99_ms:.0f} ms over the last {t.window_s:g} s "
                    f"against {stable.p99_ms:.0f} ms for the stable version (at most {t.max_p99_ratio:g} "
                    "times is allowed)")
    return None

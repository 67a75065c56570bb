"""The replica's `GET /metrics`: how many requests each model run combined.

The batcher only counts (one dict increment per model run, never per request); the Prometheus
text is built here, when scraped. A run of one request is a batch of one: a histogram whose
count is far below its sum shows requests being combined; one stuck at `le="1"` shows none.
"""

from __future__ import annotations

from typing import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric

_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _Runs:
    def __init__(self, runs_by_size: Mapping[int, int]) -> None:
        self.runs_by_size = runs_by_size

    def collect(self) -> Iterator[Metric]:
        sizes = dict(self.runs_by_size)  # a copy: the batcher may count on while this renders
        buckets = [(str(b), sum(n for size, n in sizes.items() if size <= b)) for b in _BUCKETS]
        buckets.append(("+Inf", sum(sizes.values())))
        yield HistogramMetricFamily("aiplane_replica_batch_requests",
                                    "Requests combined into each model run by the replica's batcher.",
                                    buckets=buckets, sum_value=sum(size * n for size, n in sizes.items()))


def render(runs_by_size: Mapping[int, int]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Runs(runs_by_size))
    return bytes(generate_latest(registry))

"""The month scheduled two ways: each team on its own dedicated GPUs, and every team on one
shared MIG pool placed by aiplane's engine hour by hour. In the pool, running replicas and jobs
never move: each hour only what ended is freed, then inference and experiments are placed, then
queued training jobs start (all of a job's GPUs or none, first come first served) as long as
training leaves the serving peak's GPUs to serving: a job running overnight must not hold the
GPUs the morning's replicas need, since nothing that runs is moved."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from aiplane.domain.gpu import geometry, placement
from aiplane.domain.gpu.pool import Demand, Gpu, GpuId

from teams import HOURS, TEAMS, Hour, Job

FULL = "7g.80gb"  # a training GPU: the whole A100-80GB as its one MIG instance


@dataclass(frozen=True)
class Outcome:
    gpus: int  # provisioned
    used: list[int]  # GPUs holding something, per hour
    utilization: list[float]  # busy / provisioned, per hour
    refused: int  # serving replicas that found no room (must be 0)
    waits: list[int]  # hours each training job queued before it started
    unfinished: int  # training jobs still queued at the month's end after waiting over a day

    @property
    def mean(self) -> float:
        return sum(self.utilization) / len(self.utilization)

    @property
    def fits(self) -> bool:
        return not self.refused and not self.unfinished and max(self.waits, default=0) <= 24


def dedicated(month: dict[str, list[Hour]]) -> Outcome:
    gpus = sum(t.dedicated_gpus for t in TEAMS)
    busy = [sum(month[t.name][h].busy for t in TEAMS) for h in range(HOURS)]
    return Outcome(gpus, [gpus] * HOURS, [b / gpus for b in busy], 0, [], 0)


def _free(layout: list[Gpu], alive: dict[tuple[str, str], int]) -> list[Gpu]:
    """Drop every instance whose (tenant, deployment) keeps fewer replicas than its index."""
    return [replace(g, instances=tuple(i for i in g.instances if i.owner is not None
                                       and i.owner.replica < alive.get((i.owner.tenant, i.owner.deployment), 0)))
            for g in layout]


def pooled(month: dict[str, list[Hour]], jobs: list[Job], size: int) -> Outcome:
    a100 = geometry.model("A100-80GB")
    layout = [Gpu(GpuId(f"node-{i // 8}", i % 8), a100, True) for i in range(size)]
    used, busy, refused, waits = [], [], 0, []
    serving: dict[tuple[str, str], int] = {}
    queue: list[Job] = []
    peak = max(sum(n for t in TEAMS for p, n in month[t.name][h].slices.items()
                   if p == "1g.10gb") + 4 * sum(month[t.name][h].slices.get("3g.40gb", 0) for t in TEAMS)
               for h in range(HOURS))
    reserve = math.ceil(peak / 7) + 1  # the serving peak in whole GPUs, and one for fragmentation
    running: dict[int, int] = {}  # job index -> hour it ends
    arrivals = iter(enumerate(jobs))
    upcoming = next(arrivals, None)
    for h in range(HOURS):
        want = {(t.name, p): n for t in TEAMS for p, n in month[t.name][h].slices.items()}
        alive = {k: min(n, want.get(k, 0)) for k, n in serving.items()}
        alive.update({("train", f"job-{j}"): jobs[j].gpus for j, end in running.items() if end > h})
        running = {j: end for j, end in running.items() if end > h}
        layout = _free(layout, alive)
        asked = [Demand(team, p, p, r) for (team, p), n in want.items() for r in range(alive.get((team, p), 0), n)]
        result = placement.pack(layout, asked)
        layout, refused = list(result.gpus), refused + len(result.refused)
        serving = dict(want)
        for r in result.refused:
            k = (r.demand.tenant, r.demand.deployment)
            serving[k] = min(serving[k], r.demand.replica)
        while upcoming is not None and upcoming[1].arrives <= h:
            queue.append(upcoming[1])
            upcoming = next(arrivals, None)
        while queue and sum(jobs[j].gpus for j in running) + queue[0].gpus <= size - reserve:
            job = queue[0]
            j = jobs.index(job)
            start = placement.pack(layout, [Demand("train", f"job-{j}", FULL, r) for r in range(job.gpus)])
            if start.refused:
                break  # first come first served: later jobs wait behind it
            layout = list(start.gpus)
            running[j] = h + job.hours
            waits.append(h - job.arrives)
            queue.pop(0)
        used.append(sum(1 for g in layout if g.busy))
        train = sum(jobs[j].gpus for j in running) * 0.95
        busy.append(sum(month[t.name][h].busy for t in TEAMS if not t.jobs_per_week)
                    + sum(month[t.name][h].busy - month[t.name][h].training_gpus * 0.95
                          for t in TEAMS if t.jobs_per_week) + train)
    # Jobs still queued at the end and waiting longer than a day (a job that arrived in the last hours
    # and waits a little, or runs past the month's end, would be no different on dedicated GPUs).
    unfinished = sum(1 for job in queue if HOURS - job.arrives > 24)
    return Outcome(size, used, [b / size for b in busy], refused, waits, unfinished)


def smallest_pool(month: dict[str, list[Hour]], jobs: list[Job], most: int) -> Outcome:
    """The fewest GPUs on which the month runs: no serving replica refused, every training job
    started within 24 hours of arriving (binary search)."""
    low, high = 1, most
    while low < high:
        mid = (low + high) // 2
        if pooled(month, jobs, mid).fits:
            high = mid
        else:
            low = mid + 1
    return pooled(month, jobs, low)

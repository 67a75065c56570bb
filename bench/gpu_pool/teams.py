"""A synthetic month (30 days, hourly) of the reference teams' GPU demand.

The teams and their dedicated GPUs are the reference's example quotas (data-science 16,
engineering 4, finance 8, research 16). Each team's demand is busy GPU-equivalents per hour:

- inference (engineering, finance): a diurnal curve peaking mid-afternoon, lower at night and
  at weekends, with noise; served by 1g.10gb replicas (a seventh of an A100 each);
- training (data-science, research): jobs arriving about five times a week, of 2 to 8 whole GPUs
  for 4 to 36 hours, plus daytime experimentation on 1g.10gb and 3g.40gb slices.

The parameters put the dedicated GPUs at about the reference's 20% utilization. Training jobs
are batch work: on dedicated GPUs they start at once (their team's GPUs are idle anyway); in a
pool they wait in a queue while the pool is full, as Kueue-style admission does.

The seed fixes the trace, so every run prints the same table.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

HOURS = 30 * 24


@dataclass(frozen=True)
class Team:
    name: str
    dedicated_gpus: int
    inference_peak: float = 0.0  # busy GPUs at the daily peak
    jobs_per_week: float = 0.0
    experiments_peak: float = 0.0  # busy GPUs of daytime experimentation at the peak


TEAMS = (
    Team("data-science", 16, jobs_per_week=5.0, experiments_peak=1.5),
    Team("engineering", 4, inference_peak=1.9),
    Team("finance", 8, inference_peak=3.8),
    Team("research", 16, jobs_per_week=5.0, experiments_peak=1.5),
)


@dataclass(frozen=True)
class Job:
    team: str
    arrives: int  # hour
    gpus: int
    hours: int


@dataclass
class Hour:
    """What one team runs in one hour: slices of profiles (count), and whole-GPU training."""

    slices: dict[str, int] = field(default_factory=dict)  # MIG profile -> instances
    training_gpus: int = 0
    busy: float = 0.0  # busy GPU-equivalents (what the work needs, whatever it runs on)


def _daily(hour: int) -> float:
    """0..1: load through the day (peak at 14:00), and 40% at weekends."""
    day, h = divmod(hour, 24)
    curve = 0.15 + 0.85 * max(0.0, math.sin(math.pi * (h - 6) / 16)) if 6 <= h <= 22 else 0.15
    return curve * (0.4 if day % 7 in (5, 6) else 1.0)


def month(seed: int = 12) -> tuple[dict[str, list[Hour]], list[Job]]:
    """Per team, each hour's inference and experiments (and, as run on dedicated GPUs, training);
    and every training job, for the pool's queue."""
    rng = random.Random(seed)
    out: dict[str, list[Hour]] = {}
    jobs: list[Job] = []
    for team in TEAMS:
        hours = [Hour() for _ in range(HOURS)]
        for h, cell in enumerate(hours):
            load = _daily(h) * rng.uniform(0.85, 1.15)
            if team.inference_peak:
                busy = team.inference_peak * load
                cell.slices["1g.10gb"] = math.ceil(busy * 7 / 0.9)  # replicas run at up to 90% before one more
                cell.busy += busy
            if team.experiments_peak and 8 <= h % 24 <= 19 and h // 24 % 7 < 5:
                busy = team.experiments_peak * load
                big = int(busy // (3 / 7) // 2)  # some experiments want a 3g.40gb, most a 1g.10gb
                cell.slices["3g.40gb"] = big
                cell.slices["1g.10gb"] = cell.slices.get("1g.10gb", 0) + max(0, math.ceil((busy - big * 3 / 7) * 7))
                cell.busy += busy
        h = 0
        while team.jobs_per_week and h < HOURS:
            h += int(rng.expovariate(team.jobs_per_week / (7 * 24)))
            gpus, length = rng.choice((2, 4, 4, 8)), rng.randint(4, 36)
            if h < HOURS:
                jobs.append(Job(team.name, h, gpus, length))
            for k in range(h, min(h + length, HOURS)):
                take = min(gpus, team.dedicated_gpus - hours[k].training_gpus)  # a team's own GPUs cap it
                hours[k].training_gpus += take
                hours[k].busy += take * 0.95
        out[team.name] = hours
    return out, sorted(jobs, key=lambda j: j.arrives)

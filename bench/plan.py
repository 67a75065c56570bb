"""How long planning and rendering take for portfolios of growing size.

    .venv/bin/python bench/plan.py [N ...]      (default: 10 100 1000 workloads)

The planner is interactive tooling, not a hot path; this keeps it fast enough to run on every
keystroke of a YAML editor and shows where time goes (planning vs each renderer).
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, Callable

from aiplane.domain.planning import planner, portfolio
from aiplane.reporting import formats
from aiplane.reporting.formats import ReportFormat


def workloads(n: int, seed: int = 6) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        w: dict[str, Any] = {"name": f"w{i}", "industry": rng.choice(["healthcare", "finance", "manufacturing",
                                                                       "other"]),
                             "model_size_gb": round(rng.uniform(0.05, 20), 2),
                             "latency_p99_ms": rng.choice([None, 20, 50, 100, 200, 500]),
                             "requests_per_day": rng.choice([10_000, 1_000_000, 20_000_000])}
        if rng.random() < 0.6:
            w["training"] = {"gpus": rng.choice([1, 4, 8, 16]), "hours_per_month": rng.choice([40, 160, 400, 730])}
        if rng.random() < 0.7:
            w["inference"] = {"gpus": rng.choice([1, 2, 4, 8])}
        out.append({k: v for k, v in w.items() if v is not None})
    return out


def best_of(runs: int, step: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(sizes: list[int]) -> None:
    print(f"{'workloads':>9} {'parse+plan':>11} {'json':>9} {'md':>9} {'html':>9} {'per workload':>13}")
    for n in sizes:
        doc = {"workloads": workloads(n)}
        plan = planner.plan(portfolio.parse(doc))
        runs = 5 if n <= 100 else 2
        t_plan = best_of(runs, lambda: planner.plan(portfolio.parse(doc)))
        t = {f: best_of(runs, lambda f=f: formats.render(plan, f))  # type: ignore[misc]
             for f in (ReportFormat.JSON, ReportFormat.MD, ReportFormat.HTML)}
        print(f"{n:>9} {t_plan * 1e3:>9.1f}ms {t[ReportFormat.JSON] * 1e3:>7.1f}ms {t[ReportFormat.MD] * 1e3:>7.1f}ms "
              f"{t[ReportFormat.HTML] * 1e3:>7.1f}ms {t_plan / n * 1e6:>10.0f} us")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 1000])

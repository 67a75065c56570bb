"""The GPU pool bench: how fast the placement engine is, and what pooling is worth.

    .venv/bin/python bench/gpu_pool/run.py [--chart docs/img/gpu-pool-month.svg]

1. Placement: 1,000 GPUs (A100-80GB and H100-80GB, MIG on) and 10,000 replicas of mixed
   profiles, in one `placement.pack` call (goal: under 1 s), and a second round placed on the
   resulting layout (nothing running moves).
2. A synthetic month of the reference teams (bench/gpu_pool/teams.py) on dedicated GPUs per
   team vs one shared MIG pool sized to the fewest A100-80GBs that run the whole month;
   utilization, GPUs and monthly cost at the price catalog's A100-80GB cloud rate.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from aiplane.domain.gpu import geometry, placement  # noqa: E402
from aiplane.domain.gpu.pool import Demand, Gpu, GpuId  # noqa: E402
from aiplane.domain.planning.catalog import Placement, Prices  # noqa: E402

import chart  # noqa: E402
import simulate  # noqa: E402
import teams  # noqa: E402

# Mostly small serving replicas, as a shared inference pool sees: 10,000 of them need about 9,100
# compute slices, more than the pool's 7,000, so the engine also explains the refusals.
PROFILES = ("1g.10gb",) * 16 + ("1g.20gb", "1g.20gb", "2g.20gb", "3g.40gb")


def timing(seed: int = 3) -> None:
    rng = random.Random(seed)
    gpus = [Gpu(GpuId(f"node-{i // 8:03d}", i % 8), geometry.model("A100-80GB" if i % 2 else "H100-80GB"), True)
            for i in range(1000)]
    asked = [Demand(f"team-{rng.randrange(20)}", f"d{rng.randrange(300)}", rng.choice(PROFILES), i)
             for i in range(10_000)]
    start = time.perf_counter()
    first = placement.pack(gpus, asked[:5_000])
    middle = time.perf_counter()
    second = placement.pack(first.gpus, asked[5_000:])
    end = time.perf_counter()
    once = time.perf_counter()
    whole = placement.pack(gpus, asked)
    whole_s = time.perf_counter() - once
    print("Placement: 1,000 GPUs (500 A100-80GB, 500 H100-80GB, MIG on), 10,000 replicas of mixed profiles")
    print(f"{'run':44} {'seconds':>8} {'placed':>7} {'refused':>8} {'GPUs used':>10}")
    print(f"{'10,000 replicas in one call':44} {whole_s:8.3f} {len(whole.placed):7d} {len(whole.refused):8d} "
          f"{whole.gpus_used:10d}")
    print(f"{'5,000 replicas on an empty pool':44} {middle - start:8.3f} {len(first.placed):7d} "
          f"{len(first.refused):8d} {first.gpus_used:10d}")
    print(f"{'5,000 more on that layout (nothing moves)':44} {end - middle:8.3f} {len(second.placed):7d} "
          f"{len(second.refused):8d} {second.gpus_used:10d}")
    print(f"goal: under 1 s for 1,000 GPUs and 10,000 replicas: {'met' if whole_s < 1 else 'MISSED'} "
          f"({whole_s:.3f} s); compute slices allocated {whole.slices_allocated} of {whole.slices_total}")


def month(chart_path: Path | None) -> None:
    trace, jobs = teams.month()
    dedicated = simulate.dedicated(trace)
    pooled = simulate.smallest_pool(trace, jobs, dedicated.gpus)
    month_rate = Prices().gpu_hour("A100-80GB", Placement.CLOUD) * Prices().hours_per_month
    print()
    print("A month of the reference teams (30 days, hourly): dedicated GPUs per team vs one MIG pool")
    print(f"{'team':14} {'dedicated GPUs':>15} {'busy (mean GPUs)':>17} {'utilization':>12}")
    for t in teams.TEAMS:
        busy = sum(h.busy for h in trace[t.name]) / teams.HOURS
        print(f"{t.name:14} {t.dedicated_gpus:15d} {busy:17.2f} {busy / t.dedicated_gpus:12.0%}")
    print()
    print(f"{'schedule':22} {'GPUs':>5} {'peak in use':>12} {'utilization':>12} {'monthly cost':>13}")
    for name, o in (("dedicated per team", dedicated), ("shared MIG pool", pooled)):
        print(f"{name:22} {o.gpus:5d} {max(o.used):12d} {o.mean:12.0%} {'$' + format(o.gpus * month_rate, ',.0f'):>13}")
    saving = (dedicated.gpus - pooled.gpus) * month_rate
    print(f"saving: ${saving:,.0f} a month ({saving / (dedicated.gpus * month_rate):.0%}), at "
          f"${month_rate:,.0f} per A100-80GB-month (the price catalog's cloud rate); "
          f"replicas refused in the pooled month: {pooled.refused}")
    waits = sorted(pooled.waits)
    print(f"training in the pool: {len(jobs)} jobs, queued a median {waits[len(waits) // 2]} h and at most "
          f"{waits[-1]} h before starting (on dedicated GPUs they start at once)")
    if chart_path is not None:
        svg = chart.utilization({"dedicated": dedicated, "pooled (MIG)": pooled},
                                "GPU utilization over a month: dedicated per team vs one MIG pool")
        chart_path.write_text(svg, encoding="utf-8")
        print(f"wrote {chart_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, default=None, help="write the utilization chart (SVG) here")
    args = parser.parse_args()
    timing()
    month(args.chart)


if __name__ == "__main__":
    main()

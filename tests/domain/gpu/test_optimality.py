"""On small random instances the engine uses exactly as few GPUs as an exhaustive search.

The oracle here shares nothing with the engine but the geometry data: it lists every valid set
of instances a GPU model can hold (by brute force over starts), then tries every combination
of such sets over the pool's GPUs, maximising the demands placed, then minimising GPUs used.
"""

from __future__ import annotations

import functools
from collections import Counter

from hypothesis import given, settings

from aiplane.domain.gpu import geometry, placement
from aiplane.domain.gpu.geometry import WHOLE_GPU
from aiplane.domain.gpu.pool import Gpu, GpuId, Instance, violations
from tests.domain.gpu.conftest import demands, pools


@functools.cache
def _layouts(model: str, mig: bool) -> tuple[tuple[tuple[str, int], ...], ...]:
    """Every valid multiset of profiles (as sorted (name, count) pairs) a GPU can hold at once."""
    m = geometry.model(model)
    if not mig:
        return ((), ((WHOLE_GPU, 1),))
    found: set[tuple[tuple[str, int], ...]] = set()
    placements = [(p.name, s) for p in m.profiles.values() for s in p.starts or ()]

    def grow(chosen: tuple[tuple[str, int], ...], after: int) -> None:
        gpu = Gpu(GpuId("x", 0), m, True, tuple(Instance(n, s) for n, s in chosen))
        if violations(gpu):
            return
        found.add(tuple(sorted(Counter(n for n, _ in chosen).items())))
        for k in range(after, len(placements)):
            grow(chosen + (placements[k],), k + 1)

    grow((), 0)
    return tuple(found)


def _optimum(gpus: list[Gpu], wanted: Counter[str]) -> tuple[int, int]:
    """(most demands placed, fewest GPUs for that many)."""
    names = sorted(wanted)

    @functools.cache
    def best(i: int, left: tuple[int, ...]) -> tuple[int, int]:
        if i == len(gpus):
            return (0, 0)
        placed, used = best(i + 1, left)
        options = [(placed, -used)]
        for layout in _layouts(gpus[i].model.name, gpus[i].mig):
            take = dict(layout)
            if not take or any(take.get(n, 0) > left[k] for k, n in enumerate(names)) or set(take) - set(names):
                continue
            rest = tuple(left[k] - take.get(n, 0) for k, n in enumerate(names))
            p, u = best(i + 1, rest)
            options.append((p + sum(take.values()), -(u + 1)))
        p, neg_u = max(options)
        return (p, -neg_u)

    return best(0, tuple(wanted[n] for n in names))


@settings(max_examples=40, deadline=None)
@given(pools(max_gpus=4), demands(max_size=12))
def test_gpus_used_equal_the_exhaustive_optimum_on_small_instances(gpus, asked):
    result = placement.pack(gpus, asked)
    assert result.optimal
    assert (len(result.placed), result.gpus_used) == _optimum(gpus, Counter(d.profile for d in asked))

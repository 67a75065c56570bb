"""Exact placement for small instances: depth-first over the demands (largest first), each to
every distinct way it fits on every distinct GPU state, or to nowhere.

Three things keep it small: GPUs of the same model, MIG mode and state are interchangeable, so
only the first of each is tried; a branch whose (unplaced, GPUs used) is already worse than the
best found is cut (both only grow); and a (demand, unplaced, multiset of GPU states) seen once is
not searched again. It starts from the best-fit answer, so it only ever improves on it, and it
stops after `BUDGET` nodes with the best found (then not proven optimal).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Sequence

from aiplane.domain.gpu.fitting import Fit, Fitter, State
from aiplane.domain.gpu.pool import Demand, Gpu

if TYPE_CHECKING:
    from aiplane.domain.gpu.placement import Choice

BUDGET = 200_000

Value = tuple[int, int, int]  # (unplaced, GPUs used, -score): smaller is better


class _OutOfBudget(Exception):
    pass


def value(fitter: Fitter, gpus: Sequence[Gpu], states: Sequence[State], unplaced: int) -> Value:
    used = sum(1 for s in states if s.busy)
    return (unplaced, used, -sum(fitter.score(g.model, g.mig, s) for g, s in zip(gpus, states)))


def replay(states: Sequence[State], choice: Choice) -> tuple[list[State], int]:
    out = list(states)
    for c in choice:
        if c is not None:
            out[c[0]] = c[1].after
    return out, sum(1 for c in choice if c is None)


def exact(fitter: Fitter, gpus: Sequence[Gpu], states: list[State], demands: Sequence[Demand],
          incumbent: Choice) -> tuple[Choice, bool]:
    """The best choice for `demands` and whether the search finished (so it is optimal)."""
    final, unplaced = replay(states, incumbent)
    best: list[object] = [value(fitter, gpus, final, unplaced), list(incumbent)]
    cur = list(states)
    chosen: Choice = [None] * len(demands)
    seen: set[tuple[int, int, frozenset[tuple[tuple[int, bool, State], int]]]] = set()
    nodes = 0

    def dfs(i: int, unplaced: int, used: int) -> None:
        nonlocal nodes
        bound = best[0]
        assert isinstance(bound, tuple)
        if (unplaced, used) > bound[:2]:
            return
        key = (i, unplaced, frozenset(Counter((id(g.model), g.mig, s) for g, s in zip(gpus, cur)).items()))
        if key in seen:
            return
        seen.add(key)
        nodes += 1
        if nodes > BUDGET:
            raise _OutOfBudget
        if i == len(demands):
            v = value(fitter, gpus, cur, unplaced)
            if v < bound:
                best[0], best[1] = v, list(chosen)
            return
        for g, fit in _options(fitter, gpus, cur, demands[i]):
            old = cur[g]
            cur[g], chosen[i] = fit.after, (g, fit)
            dfs(i + 1, unplaced, used + (old.busy == 0))
            cur[g] = old
        chosen[i] = None
        dfs(i + 1, unplaced + 1, used)

    try:
        dfs(0, 0, 0)
        done = True
    except _OutOfBudget:
        done = False
    result = best[1]
    assert isinstance(result, list)
    return result, done


def _options(fitter: Fitter, gpus: Sequence[Gpu], cur: Sequence[State], d: Demand) -> list[tuple[int, Fit]]:
    """Every distinct (GPU state, resulting state), GPUs already in use first."""
    tried: set[tuple[int, bool, State]] = set()
    used: list[tuple[int, Fit]] = []
    blank: list[tuple[int, Fit]] = []
    for g, (gpu, s) in enumerate(zip(gpus, cur)):
        cls = (id(gpu.model), gpu.mig, s)
        if cls in tried:
            continue
        tried.add(cls)
        afters: set[State] = set()
        for fit in fitter.fits(gpu.model, gpu.mig, s, d.profile):
            if fit.after not in afters:
                afters.add(fit.after)
                (used if s.busy else blank).append((g, fit))
    return used + blank

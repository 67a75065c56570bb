"""The placement engine: put demands (whole GPUs and MIG profiles) on a pool, validly, on as few
GPUs as possible, leaving as much room as possible, never moving what runs.

Objective, in order: place as many demands as the pool and the quotas allow; use the fewest
GPUs; leave the layout that can still accept the most (`Fitter.score`). Small instances
(`EXACT_GPUS` GPUs, `EXACT_DEMANDS` demands) are solved exactly by a depth-first search that
starts from the best-fit answer, prunes any branch already worse than the best found, and
skips states it has seen; large ones by best-fit alone, which touches each distinct GPU state
(not each GPU) per demand, so a thousand GPUs cost little more than ten. Every refusal names
the demand, how many GPUs were considered and why each kind did not fit.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from aiplane.domain.gpu import searching
from aiplane.domain.gpu.geometry import WHOLE_GPU
from aiplane.domain.gpu.fitting import BLANK, Fit, Fitter, State, state_of, why_not
from aiplane.domain.gpu.pool import Demand, Gpu, GpuId, Instance

EXACT_GPUS = 8
EXACT_DEMANDS = 16

Quotas = Mapping[str, Mapping[str, int]]  # tenant -> profile name (or "gpu") -> most instances


@dataclass(frozen=True, slots=True)
class Placed:
    demand: Demand
    gpu: GpuId
    profile: str
    start: int | None


@dataclass(frozen=True, slots=True)
class Refused:
    demand: Demand
    reason: str


@dataclass(frozen=True, slots=True)
class Packing:
    gpus: tuple[Gpu, ...]  # the layout after placing (the input GPUs, in order)
    placed: tuple[Placed, ...]
    refused: tuple[Refused, ...]
    optimal: bool  # solved by exhaustive search (small instances)

    @property
    def gpus_used(self) -> int:
        return sum(1 for g in self.gpus if g.busy)

    @property
    def slices_total(self) -> int:
        return sum(g.model.compute for g in self.gpus)

    @property
    def slices_allocated(self) -> int:
        """Compute slices owned (a whole GPU counts all of its)."""
        return sum(_compute(g, i) for g in self.gpus for i in g.instances if i.owner is not None)


def _compute(gpu: Gpu, inst: Instance) -> int:
    return gpu.model.compute if not gpu.mig else gpu.model.profiles[inst.profile].compute


def pack(gpus: Sequence[Gpu], demands: Sequence[Demand], quotas: Quotas | None = None) -> Packing:
    """Place `demands` on `gpus` (whose owned instances stay where they are)."""
    allowed, refused = _within_quotas(gpus, demands, quotas or {})
    fitter = Fitter()
    sizes = _size_keys(gpus, allowed)
    order = sorted(range(len(allowed)), key=lambda i: sizes[allowed[i].profile] + (i,))
    ordered = [allowed[i] for i in order]
    states = [state_of(g) for g in gpus]
    choice = _best_fit(fitter, gpus, states, ordered)
    optimal = False
    if len(gpus) <= EXACT_GPUS and len(ordered) <= EXACT_DEMANDS:
        choice, optimal = searching.exact(fitter, gpus, states, ordered, choice)
    return _result(fitter, gpus, states, ordered, choice, refused, optimal)


def _within_quotas(gpus: Sequence[Gpu], demands: Sequence[Demand], quotas: Quotas) -> tuple[list[Demand], list[Refused]]:
    used = Counter((i.owner.tenant, i.profile) for g in gpus for i in g.instances if i.owner is not None)
    allowed, refused = [], []
    for d in demands:
        limit = quotas.get(d.tenant, {}).get(d.profile) if d.tenant in quotas else None
        if limit is not None and used[(d.tenant, d.profile)] >= limit:
            what = "whole GPUs" if d.whole else f"mig {d.profile}"
            refused.append(Refused(d, f"tenant {d.tenant!r} quota for {what} is {limit}, all in use or asked for "
                                      "by earlier demands"))
            continue
        used[(d.tenant, d.profile)] += 1
        allowed.append(d)
    return allowed, refused


def _size_keys(gpus: Sequence[Gpu], demands: Sequence[Demand]) -> dict[str, tuple[float, int, str]]:
    """Largest first: per profile, the share of a GPU it takes on the model where it is largest."""
    models = {id(g.model): g.model for g in gpus}.values()
    keys = {}
    for name in {d.profile for d in demands}:
        sizes = [(m.profiles[name].size / m.slices, m.profiles[name].compute) for m in models if name in m.profiles]
        share, compute = (1.0, 0) if name == WHOLE_GPU else max(sizes, default=(0.0, 0))
        keys[name] = (-share, -compute, name)
    return keys


Choice = list[tuple[int, Fit] | None]  # per ordered demand: (GPU index, how it fits) or None


def _best_fit(fitter: Fitter, gpus: Sequence[Gpu], states: list[State], demands: Sequence[Demand]) -> Choice:
    """Each demand, largest first, to the used GPU it fills most tightly, else to the blank GPU
    that would be left most able to accept more."""
    buckets: dict[tuple[int, bool, State], list[int]] = {}
    models = {id(g.model): g.model for g in gpus}
    for i, (g, s) in enumerate(zip(gpus, states)):
        buckets.setdefault((id(g.model), g.mig, s), []).append(i)  # appended in order: already heaps
    choice: Choice = []
    profile = None
    ranked: list[tuple[tuple[int, int, int, int], tuple[int, bool, State], int]] = []

    def rank(key: tuple[int, bool, State]) -> None:
        m, mig, s = models[key[0]], key[1], key[2]
        fits = fitter.fits(m, mig, s, profile or "")
        if fits:
            after = fits[0].after
            free = m.slices - bin(after.mask).count("1") if mig else 0
            heapq.heappush(ranked, ((s.busy == 0, free, -fitter.score(m, mig, after), buckets[key][0]), key,
                                    buckets[key][0]))

    for d in demands:
        if d.profile != profile:
            profile, ranked = d.profile, []
            for key in buckets:
                rank(key)
        # An entry is stale once its bucket emptied or got another first GPU; every such change
        # pushed a fresh entry, so stale ones are simply dropped.
        while ranked and (ranked[0][1] not in buckets or buckets[ranked[0][1]][0] != ranked[0][2]):
            heapq.heappop(ranked)
        if not ranked:
            choice.append(None)
            continue
        _, key, _ = heapq.heappop(ranked)
        gpu = heapq.heappop(buckets[key])
        fit = fitter.fits(models[key[0]], key[1], key[2], d.profile)[0]
        choice.append((gpu, fit))
        if buckets[key]:
            rank(key)
        else:
            del buckets[key]
        new = (key[0], key[1], fit.after)
        fresh = new not in buckets
        heapq.heappush(buckets.setdefault(new, []), gpu)
        if fresh or buckets[new][0] == gpu:
            rank(new)
    return choice


def _result(fitter: Fitter, gpus: Sequence[Gpu], states: list[State], demands: Sequence[Demand], choice: Choice,
            refused: list[Refused], optimal: bool) -> Packing:
    layout = [list(g.instances) if s != BLANK else [] for g, s in zip(gpus, states)]
    final = list(states)
    placed = []
    for d, c in zip(demands, choice):
        if c is None:
            continue
        i, fit = c
        final[i] = fit.after
        inst = Instance(d.profile, fit.start, d.owner)
        if fit.reused:
            layout[i] = [inst if (x.profile, x.start, x.owner) == (d.profile, fit.start, None) else x for x in layout[i]]
        else:
            layout[i].append(inst)
        placed.append(Placed(d, gpus[i].id, d.profile, fit.start))
    new_gpus = tuple(replace(g, instances=tuple(lay)) if s != BLANK or lay else g
                     for g, s, lay in zip(gpus, states, layout))
    why = Explainer(fitter, new_gpus, final)
    unplaced = [Refused(d, why.refusal(d)) for d, c in zip(demands, choice) if c is None]
    return Packing(new_gpus, tuple(placed), tuple(refused + unplaced), optimal)


class Explainer:
    """One sentence per refused demand: the GPUs considered and, grouped, why none of them fits.
    The GPUs are grouped by state once, and each profile's groups worked out once."""

    def __init__(self, fitter: Fitter, gpus: Sequence[Gpu], states: Sequence[State]) -> None:
        self.fitter, self.count = fitter, len(gpus)
        self.classes: dict[tuple[int, bool, State], list[Gpu]] = {}
        for g, s in zip(gpus, states):
            self.classes.setdefault((id(g.model), g.mig, s), []).append(g)
        self._why: dict[str, str] = {}

    def refusal(self, d: Demand) -> str:
        what = "a whole GPU" if d.whole else f"mig-{d.profile}"
        return f"{what} for {d.owner} cannot be placed: {self._reasons(d.profile)}."

    def _reasons(self, profile: str) -> str:
        found = self._why.get(profile)
        if found is not None:
            return found
        if not self.count:
            return "the pool has no GPUs"
        groups: dict[str, list[str]] = {}
        for (_, mig, s), members in self.classes.items():
            m = members[0].model
            groups.setdefault(f"{m.name}: {why_not(m, mig, s, profile)}", []).extend(str(g.id) for g in members)
        parts = []
        for reason, ids in groups.items():
            shown = ", ".join(sorted(ids)[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
            parts.append(f"{shown} ({reason})")
        found = f"considered {self.count} GPU{'s' if self.count != 1 else ''}, {'; '.join(parts)}"
        self._why[profile] = found
        return found

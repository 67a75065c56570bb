"""What one GPU can still take: its state as a small hashable value, the ways a profile fits it,
how much a layout can still accept (the fragmentation score), and why a profile does not fit.

A GPU's state is (mask, compute, instances, media, busy, free): the memory slices covered by
instances, the compute slices and instances they take, how many are media-extension (+me),
how many are owned, and the free instances that exist but nobody owns. A GPU none of whose
instances is owned is *blank*: it may be repartitioned at will, so its free instances are
forgotten. A GPU with an owned instance is never repartitioned: new instances only go in
slices nothing covers, or take an existing free instance of exactly their profile. So no
running replica is ever moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from aiplane.domain.gpu.geometry import WHOLE_GPU, GpuModel
from aiplane.domain.gpu.pool import Gpu


class State(NamedTuple):
    mask: int
    compute: int
    instances: int
    media: int
    busy: int
    free: frozenset[tuple[str, int]]


BLANK = State(0, 0, 0, 0, 0, frozenset())


@dataclass(frozen=True, slots=True)
class Fit:
    start: int | None
    after: State
    reused: bool  # takes an existing free instance


def state_of(gpu: Gpu) -> State:
    """The state of `gpu` as it is now (blank when nothing on it is owned)."""
    if not gpu.busy:
        return BLANK
    if not gpu.mig:
        return State(1, 0, 1, 0, 1, frozenset())
    m = gpu.model
    mask = compute = media = 0
    free = set()
    for inst in gpu.instances:
        p = m.profiles[inst.profile]
        assert inst.start is not None
        mask |= ((1 << p.size) - 1) << inst.start
        compute += p.compute
        media += p.media
        if inst.owner is None:
            free.add((inst.profile, inst.start))
    busy = sum(1 for i in gpu.instances if i.owner is not None)
    return State(mask, compute, len(gpu.instances), media, busy, frozenset(free))


class Fitter:
    """Fits and scores, memoised per (model, MIG mode, state, profile): a pool of a thousand GPUs
    has only a few hundred distinct states, so each is worked out once per packing."""

    def __init__(self) -> None:
        self._fits: dict[tuple[int, bool, State, str], tuple[Fit, ...]] = {}
        self._scores: dict[tuple[int, bool, State], int] = {}

    def fits(self, m: GpuModel, mig: bool, s: State, profile: str) -> tuple[Fit, ...]:
        """Each distinct way `profile` fits; the best (most left acceptable) first."""
        key = (id(m), mig, s, profile)
        found = self._fits.get(key)
        if found is None:
            found = tuple(sorted(_fits(m, mig, s, profile), key=lambda f: (-self.score(m, mig, f.after), not f.reused)))
            self._fits[key] = found
        return found

    def score(self, m: GpuModel, mig: bool, s: State) -> int:
        """What the GPU can still accept: for every profile, its memory slices times the places it
        still fits, summed. Higher is less fragmented: free slices in one aligned run fit more
        profiles at more starts than the same number scattered."""
        key = (id(m), mig, s)
        found = self._scores.get(key)
        if found is None:
            if not mig:
                found = 0 if s.busy else m.slices
            else:
                found = sum(p.size * len(_fits(m, mig, s, p.name)) for p in m.profiles.values() if not p.media)
            self._scores[key] = found
        return found


def _fits(m: GpuModel, mig: bool, s: State, name: str) -> list[Fit]:
    if name == WHOLE_GPU:
        return [] if mig or s.busy else [Fit(None, State(1, 0, 1, 0, 1, frozenset()), False)]
    p = m.profiles.get(name)
    if not mig or p is None or p.starts is None:
        return []
    out = [Fit(start, s._replace(busy=s.busy + 1, free=s.free - {(n, start)}), True)
           for n, start in sorted(s.free) if n == name]
    if s.instances >= m.max_instances or s.compute + p.compute > m.compute or (p.media and s.media):
        return out
    for start in p.starts:
        bits = ((1 << p.size) - 1) << start
        if start + p.size <= m.slices and not s.mask & bits:
            out.append(Fit(start, State(s.mask | bits, s.compute + p.compute, s.instances + 1, s.media + p.media,
                                        s.busy + 1, s.free), False))
    return out


def why_not(m: GpuModel, mig: bool, s: State, name: str) -> str:
    """Why `name` does not fit a GPU of model `m` in state `s` (a phrase, no GPU id)."""
    if name == WHOLE_GPU:
        return "MIG is on (a whole GPU needs MIG off)" if mig else "already allocated"
    p = m.profiles.get(name)
    if not mig:
        return "MIG is off"
    if p is None:
        return f"{m.name} has no {name} profile"
    if p.starts is None:
        return f"placements of {name} on {m.name} are not confirmed by any source (a live GPU must report them)"
    if p.media and s.media:
        return "its one media-extension instance is taken"
    if s.instances >= m.max_instances:
        return f"all {m.max_instances} instances are in use"
    if s.compute + p.compute > m.compute:
        return f"{s.compute} of {m.compute} compute slices in use, {name} needs {p.compute}"
    starts = ", ".join(str(x) for x in p.starts)
    return f"no free {p.size}-slice range at start {starts}"

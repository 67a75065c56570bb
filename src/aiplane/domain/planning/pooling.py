"""The planner's GPU pools through the placement engine and NVIDIA's geometry (aiplane.domain.gpu),
not slice arithmetic of its own: which MIG profile a workload's share takes, and how many whole
GPUs a pool of such shares needs (the engine packs them; geometry decides, e.g. two 3g.40gb and
a 1g.10gb need two A100s although their compute slices add up to seven).

A catalog GPU is matched to the geometry by name (A100-80GB, H100 -> H100-80GB, ...). The H200's
and B200's placements are unconfirmed by any source; for planning, the expected ones are assumed
(`GpuModel.assuming_expected`). A catalog GPU the geometry does not know keeps the catalog's own
profiles, whose compute slices alone then decide (and its pools round up the slices' sum).
"""

from __future__ import annotations

import math
from typing import Sequence

from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import geometry, placement
from aiplane.domain.gpu.geometry import GpuModel
from aiplane.domain.gpu.pool import Demand, Gpu, GpuId
from aiplane.domain.planning.catalog import GpuPrice, MigProfile

_CATALOG_NAMES = {"A100-40GB": "A100-SXM4-40GB", "H100": "H100-80GB", "H200": "H200-141GB", "B200": "B200-180GB",
                  "H100-NVL": "H100-NVL-94GB", "A30": "A30-24GB"}


def geometry_of(gpu: GpuPrice) -> GpuModel | None:
    try:
        return geometry.model(_CATALOG_NAMES.get(gpu.model, gpu.model)).assuming_expected()
    except InvalidInput:
        return None


def smallest(gpu: GpuPrice, compute: int, memory_gb: float) -> MigProfile | None:
    """The smallest MIG profile below a whole GPU with `compute` slices and `memory_gb` GB, or None."""
    model = geometry_of(gpu)
    if model is None:
        fits = [p for p in gpu.mig if compute <= p.slices < gpu.slices and p.memory_gb >= memory_gb]
        return min(fits, key=lambda p: (p.slices, p.memory_gb), default=None)
    found = geometry.smallest_profile(model, memory_gb, compute)
    if found is None or found == model.full:
        return None
    return MigProfile(found.name, found.compute, float(found.memory_gb))


def provision(gpu: GpuPrice, whole: int, profiles: Sequence[str], allocated: float) -> int:
    """Whole GPUs for `whole` full GPUs plus one instance of each of `profiles`, packed by the engine."""
    model = geometry_of(gpu)
    if model is None or not profiles:
        return math.ceil(allocated - 1e-9)
    asked = [Demand("plan", "share", p, i) for i, p in enumerate(profiles)]
    pool = [Gpu(GpuId("plan", i), model, True) for i in range(len(asked))]
    return whole + placement.pack(pool, asked).gpus_used

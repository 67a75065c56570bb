"""Strategies for GPU pools and demands: the models whose placements a source confirms."""

from __future__ import annotations

from hypothesis import strategies as st

from aiplane.domain.gpu import geometry
from aiplane.domain.gpu.geometry import WHOLE_GPU
from aiplane.domain.gpu.pool import Demand, Gpu, GpuId

CONFIRMED = ("A30-24GB", "A100-SXM4-40GB", "A100-80GB", "H100-80GB", "H100-NVL-94GB")
PROFILES = tuple(dict.fromkeys(n for m in CONFIRMED for n in geometry.model(m).profiles)) + (WHOLE_GPU,)
TENANTS = ("clinical", "fraud", "research")


@st.composite
def pools(draw: st.DrawFn, max_gpus: int = 4, models: tuple[str, ...] = CONFIRMED) -> list[Gpu]:
    count = draw(st.integers(1, max_gpus))
    return [Gpu(GpuId(f"node-{i // 2}", i % 2), geometry.model(draw(st.sampled_from(models))),
                draw(st.sampled_from([True, True, True, False]))) for i in range(count)]


@st.composite
def demands(draw: st.DrawFn, max_size: int = 12, profiles: tuple[str, ...] = PROFILES) -> list[Demand]:
    names = draw(st.lists(st.sampled_from(profiles), min_size=1, max_size=max_size))
    return [Demand(draw(st.sampled_from(TENANTS)), f"d-{n.replace('+', '-')}", n, i) for i, n in enumerate(names)]

"""How much hardware a workload needs: GPUs today, MIG slices when pooled, CPU nodes.

Pooling (documented in docs/planning.md): the dedicated baseline GPUs are busy
`utilization` of the time (20% by default, the reference's figure). A shared pool runs at
`pooled_utilization` (75%) but also keeps `pooling_headroom` (25%) spare for bursts and
failover, and hands out whole MIG slices (1/7 of an A100), in the smallest MIG profile the GPU's
geometry has (aiplane.domain.planning.pooling, the placement engine's data):

    slices = ceil(busy_gpus / speedup / pooled_utilization x (1 + headroom) x 7)

With the defaults one dedicated GPU's work needs 0.2 / 0.75 x 1.25 = 1/3 GPU, a 67% saving
before rounding to whole slices and profiles, which keeps it inside the reference's 50-70%;
without headroom it would be 73%, a pool with no room for anyone's spike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aiplane.domain.planning import pooling
from aiplane.domain.planning.catalog import Assumptions, GpuPrice, MigProfile
from aiplane.domain.planning.portfolio import Workload

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class GpuAllocation:
    whole: int  # whole GPUs
    profile: MigProfile | None  # plus one MIG instance of this profile
    slices_per_gpu: int

    @property
    def gpus(self) -> float:
        return self.whole + (self.profile.slices / self.slices_per_gpu if self.profile else 0.0)

    @property
    def label(self) -> str:
        whole = f"{self.whole} GPU{'s' if self.whole != 1 else ''}" if self.whole else ""
        mig = f"mig-{self.profile.name}" if self.profile else ""
        return " + ".join(part for part in (whole, mig) if part) or "0 GPUs"


def peak_rps(w: Workload, a: Assumptions) -> float:
    return w.requests_per_day / SECONDS_PER_DAY * a.peak_to_average


def baseline_gpus(w: Workload, a: Assumptions) -> int:
    """Dedicated GPUs today: as given, else enough whole GPUs for the peak (at least one)."""
    if w.inference is not None and w.inference.gpus is not None:
        return w.inference.gpus
    return max(1, math.ceil(peak_rps(w, a) / a.gpu_requests_per_second))


def utilization(w: Workload, a: Assumptions) -> float:
    measured = w.inference.utilization if w.inference is not None else None
    return measured if measured is not None else a.baseline_utilization


def busy_gpus(w: Workload, a: Assumptions) -> float:
    return baseline_gpus(w, a) * utilization(w, a)


def speedup(w: Workload, a: Assumptions, int8: bool) -> float:
    return a.quantization_speedup if int8 else 1.0


def memory_gb(w: Workload, a: Assumptions, int8: bool) -> float:
    """Device memory one replica needs."""
    return w.model_size_gb * a.memory_overhead * (a.int8_memory_ratio if int8 else 1.0)


def pooled_slices(busy: float, a: Assumptions, gpu: GpuPrice, speed: float) -> int:
    need = busy / speed / a.pooled_utilization * (1 + a.pooling_headroom) * gpu.slices
    return max(1, math.ceil(need - 1e-9))


def allocate(gpu: GpuPrice, slices: int, memory: float) -> GpuAllocation:
    """The smallest whole GPUs + one MIG profile giving `slices` compute slices of `memory` GB each;
    the profile is the smallest the GPU's geometry has (aiplane.domain.planning.pooling)."""
    per_replica = math.ceil(memory / gpu.memory_gb - 1e-9)
    if per_replica > 1:  # the model spans several GPUs; no MIG
        return GpuAllocation(max(per_replica, math.ceil(slices / gpu.slices)), None, gpu.slices)
    whole, rest = divmod(slices, gpu.slices)
    if rest == 0:
        return GpuAllocation(whole, None, gpu.slices)
    profile = pooling.smallest(gpu, rest, memory)
    if profile is None:
        return GpuAllocation(whole + 1, None, gpu.slices)
    return GpuAllocation(whole, profile, gpu.slices)


def gpu_allocation(w: Workload, a: Assumptions, gpu: GpuPrice, int8: bool, sites: int = 1) -> GpuAllocation:
    """Per site: a pooled share of the workload's busy GPU time."""
    slices = pooled_slices(busy_gpus(w, a) / sites, a, gpu, speedup(w, a, int8))
    return allocate(gpu, slices, memory_gb(w, a, int8))


def cpu_ms(w: Workload, a: Assumptions) -> float:
    """p99 of one request on one core: measured when profiled, else the rule of thumb."""
    if w.profile is not None and w.profile.cpu_p99_ms is not None:
        return w.profile.cpu_p99_ms
    return a.cpu_ms_base + a.cpu_ms_per_gb * w.model_size_gb


def gpu_ms(w: Workload, a: Assumptions) -> float:
    if w.profile is not None and w.profile.gpu_p99_ms is not None:
        return w.profile.gpu_p99_ms
    return a.gpu_ms_base + a.gpu_ms_per_gb * w.model_size_gb


def cpu_nodes(w: Workload, a: Assumptions, int8: bool, sites: int = 1) -> int:
    """CPU nodes per site, at least one: cores x (1000 / ms per request) x target utilization each."""
    measured = w.profile.cpu_rows_per_s if w.profile is not None else None
    per_core = measured if measured is not None else 1000 / cpu_ms(w, a)
    per_node = a.cpu_node_cores * per_core * speedup(w, a, int8) * a.cpu_target_utilization
    return max(1, math.ceil(peak_rps(w, a) / sites / per_node - 1e-9))

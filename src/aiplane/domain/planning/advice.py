"""Where to serve a profiled model: CPU, a whole GPU or a MIG profile, priced per million
requests from the planner's catalog, each choice with its reason.

CPU figures are measured (aiplane.domain.planning.measured). GPU figures are measured where
the profile has GPU points; otherwise they are the catalog's rules of thumb
(`gpu_requests_per_second` per GPU, `gpu_ms_base + gpu_ms_per_gb x size` p99) and say so.
Capacity is sized for the peak hour (`peak_to_average` x the daily average); CPU cores run
at `cpu_target_utilization`; every option is priced at the same placement (on-prem by
default: aiplane is self-hosted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aiplane.domain.planning import fields
from aiplane.domain.planning.catalog import Catalog, GpuPrice, MigProfile, Placement
from aiplane.domain.planning.measured import Measured

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class Demand:
    requests_per_day: float | None = None
    p99_ms: float | None = None

    @classmethod
    def of(cls, requests_per_day: float | None, p99_ms: float | None) -> Demand:
        """Checked: each a positive number when given (errors name the field)."""
        return cls(None if requests_per_day is None else fields.number(requests_per_day, "requests_per_day",
                                                                       positive=True),
                   None if p99_ms is None else fields.number(p99_ms, "p99_ms", positive=True))


@dataclass(frozen=True, slots=True)
class Choice:
    device: str  # "cpu", "gpu", "mig-1g.10gb"
    size: str  # what is bought, e.g. "2 cores" or "1 x A100-80GB"
    per_million: float  # dollars per million requests (at the stated demand, else at full use)
    monthly: float | None  # dollars a month at the stated demand; None without one
    p99_ms: float
    reason: str
    estimated: bool  # a rule of thumb, not a measurement
    ruled_out: str | None = None


@dataclass(frozen=True, slots=True)
class Advice:
    choices: tuple[Choice, ...]
    chosen: Choice | None
    placement: Placement
    gpu_model: str
    peak_rps: float | None
    machine: str


def advise(m: Measured, demand: Demand, catalog: Catalog, placement: Placement = Placement.ON_PREM,
           gpu_model: str | None = None) -> Advice:
    a = catalog.assumptions
    model = gpu_model or a.default_gpu_model
    gpu = catalog.prices.gpus[model]
    peak = None if demand.requests_per_day is None else demand.requests_per_day / SECONDS_PER_DAY * a.peak_to_average
    choices = (_cpu(m, demand, catalog, placement, peak), _gpu(m, demand, catalog, placement, gpu, peak),
               _mig(m, demand, catalog, placement, gpu, peak))
    left = [c for c in choices if c.ruled_out is None]
    chosen = min(left, key=lambda c: c.per_million) if left else None
    return Advice(choices, chosen, placement, model, peak, m.machine)


def _per_million(hourly: float, capacity_rps: float, demand: Demand, units: int, hours: float) -> tuple[float, float | None]:
    """(dollars per million requests, dollars a month): at the demand, else at full use."""
    if demand.requests_per_day:
        monthly = units * hourly * hours
        return monthly / (demand.requests_per_day * hours / 24 / 1e6), monthly
    return hourly / (capacity_rps * 3600 / 1e6), None


def _cpu(m: Measured, demand: Demand, c: Catalog, placement: Placement, peak: float | None) -> Choice:
    a, p = c.assumptions, c.prices
    # Batching needs requests to batch: no more than arrive within the latency budget.
    fill = peak * demand.p99_ms / 1000 if peak is not None and demand.p99_ms is not None else None
    point = m.best(demand.p99_ms, fill)
    core_hour = p.core_hour(placement) + a.cpu_node_memory_gb / a.cpu_node_cores * p.memory_hour(placement)
    if point is None:
        single = m.single
        return Choice("cpu", "-", math.inf, None, single.p99_ms, "", False,
                      f"the measured p99 at batch {single.batch} is {single.p99_ms:g} ms, over the "
                      f"{demand.p99_ms:g} ms asked for")
    capacity = point.rows_per_s * a.cpu_target_utilization
    cores = max(1, math.ceil((peak or 0) / capacity - 1e-9))
    per_million, monthly = _per_million(core_hour, capacity, demand, cores, p.hours_per_month)
    sized = (f"; the peak of {peak:,.1f} requests/s needs {cores} core{'s' if cores != 1 else ''}"
             if peak is not None else "")
    reason = (f"measured: one core serves {point.rows_per_s:,.0f} rows/s at batch {point.batch} with p99 "
              f"{point.p99_ms:g} ms, used at {a.cpu_target_utilization:.0%}{sized}; "
              f"${core_hour:.4f} per core-hour with its memory")
    return Choice("cpu", f"{cores} core{'s' if cores != 1 else ''}", per_million, monthly, point.p99_ms, reason,
                  False)


def _gpu_figures(m: Measured, c: Catalog, demand: Demand) -> tuple[float, float, bool]:
    """(requests/s of a whole GPU, p99 ms, estimated)."""
    a = c.assumptions
    if m.gpu:
        point = max((q for q in m.gpu if demand.p99_ms is None or q.p99_ms <= demand.p99_ms),
                    key=lambda q: q.rows_per_s, default=m.gpu[0])
        return point.rows_per_s, point.p99_ms, False
    return a.gpu_requests_per_second, a.gpu_ms_base + a.gpu_ms_per_gb * m.size_gb, True


def _gpu(m: Measured, demand: Demand, c: Catalog, placement: Placement, gpu: GpuPrice, peak: float | None) -> Choice:
    rps, p99, estimated = _gpu_figures(m, c, demand)
    count = max(1, math.ceil((peak or 0) / rps - 1e-9), math.ceil(_memory_gb(m, c) / gpu.memory_gb - 1e-9))
    hourly = c.prices.gpu_hour(gpu.model, placement)
    per_million, monthly = _per_million(hourly, rps, demand, count, c.prices.hours_per_month)
    basis = ("estimated, no GPU on this machine: " if estimated else "measured: ") + f"{rps:,.0f} requests/s per GPU"
    reason = f"{basis}, p99 {p99:g} ms; ${hourly:.4f} per GPU-hour, a whole GPU however little it is used"
    ruled = _too_slow(p99, demand)
    return Choice("gpu", f"{count} x {gpu.model}", per_million, monthly, p99, reason, estimated, ruled)


def _mig(m: Measured, demand: Demand, c: Catalog, placement: Placement, gpu: GpuPrice, peak: float | None) -> Choice:
    rps, p99, estimated = _gpu_figures(m, c, demand)
    hourly = c.prices.gpu_hour(gpu.model, placement)
    if not gpu.mig:
        return Choice("mig", "-", math.inf, None, p99, "", estimated, f"the {gpu.model} has no MIG profiles")
    per_slice = rps / gpu.slices
    slices = max(1, math.ceil((peak or 0) / per_slice - 1e-9))
    profile = smallest_profile(gpu, slices, _memory_gb(m, c))
    if profile is None:
        return Choice("mig", "-", math.inf, None, p99, "", estimated,
                      f"the peak needs {slices} of {gpu.model}'s {gpu.slices} slices or more memory than a "
                      "MIG profile has: a whole GPU")
    share = hourly * profile.slices / gpu.slices
    per_million, monthly = _per_million(share, per_slice * profile.slices, demand, 1, c.prices.hours_per_month)
    reason = (f"{'estimated' if estimated else 'measured'}: {per_slice * profile.slices:,.0f} requests/s on "
              f"{profile.slices}/{gpu.slices} of a {gpu.model} with {profile.memory_gb:g} GB, p99 {p99:g} ms; "
              f"${share:.4f} per hour for the slice")
    return Choice(f"mig-{profile.name}", f"1 x {profile.name}", per_million, monthly, p99, reason, estimated,
                  _too_slow(p99, demand))


def smallest_profile(gpu: GpuPrice, slices: int, memory_gb: float) -> MigProfile | None:
    """The smallest MIG profile (fewer slices, then less memory) with `slices` and `memory_gb`;
    None when only a whole GPU (or more) will do."""
    fits = [p for p in gpu.mig if p.slices >= slices and p.memory_gb >= memory_gb and p.slices < gpu.slices]
    return min(fits, key=lambda p: (p.slices, p.memory_gb)) if fits else None


def _memory_gb(m: Measured, c: Catalog) -> float:
    return m.size_gb * c.assumptions.memory_overhead


def _too_slow(p99: float, demand: Demand) -> str | None:
    if demand.p99_ms is not None and p99 > demand.p99_ms:
        return f"p99 {p99:g} ms is over the {demand.p99_ms:g} ms asked for"
    return None


"""The price catalog and the planning assumptions, with the built-in defaults.

The defaults reproduce docs/reference-figures.md where it gives a figure: the A100-80GB
cloud rate is the blended planning rate of $2,850 per GPU-month (730 hours), so 16 training
+ 4 inference GPUs cost $57,000 a month. Prices the reference does not give (other GPUs,
on-premises amortization, CPU, storage, egress) are order-of-magnitude list prices of late
2026; every one is overridable (`prices:` in the portfolio or `aiplane plan --catalog FILE`)
and the report prints each price it used.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import fields


class Placement(str, enum.Enum):
    CLOUD = "cloud"
    ON_PREM = "on-prem"
    EDGE = "edge"


@dataclass(frozen=True, slots=True)
class MigProfile:
    name: str  # e.g. "3g.40gb": 3 of the GPU's compute slices, 40 GB of its memory
    slices: int
    memory_gb: float

    @classmethod
    def parse(cls, name: str, path: str) -> MigProfile:
        match = re.fullmatch(r"([1-8])g\.([0-9]+)gb", name)
        if not match:
            raise InvalidInput(f"{path}: {name!r} is not a MIG profile; use names like 1g.10gb or 3g.40gb.")
        return cls(name, int(match[1]), float(match[2]))


@dataclass(frozen=True, slots=True)
class GpuPrice:
    model: str
    memory_gb: float
    cloud_per_hour: float  # on-demand, per GPU, host share included
    onprem_capex: float  # purchase per GPU, including its share of server, network and storage
    onprem_opex_per_hour: float  # power, cooling, space and operations per GPU-hour
    mig: tuple[MigProfile, ...] = ()

    @property
    def slices(self) -> int:
        """Compute slices per GPU: 7 on a MIG-capable GPU, 1 (the whole GPU) otherwise."""
        return max((p.slices for p in self.mig), default=1)


def _mig(*names: str) -> tuple[MigProfile, ...]:
    return tuple(MigProfile.parse(n, "catalog") for n in names)


_MIG_80 = _mig("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")
BUILTIN_GPUS: dict[str, GpuPrice] = {g.model: g for g in (
    GpuPrice("A100-40GB", 40, 3.67, 16_000, 0.28, _mig("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")),
    GpuPrice("A100-80GB", 80, 2850 / 730, 24_000, 0.30, _MIG_80),  # the reference's blended $2,850/month
    GpuPrice("H100", 80, 6.88, 35_000, 0.45, _MIG_80),
    GpuPrice("H200", 141, 7.91, 40_000, 0.50, _mig("1g.18gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb")),
    GpuPrice("L4", 24, 0.80, 3_000, 0.06),
    GpuPrice("T4", 16, 0.53, 1_500, 0.05),
)}


@dataclass(frozen=True, slots=True)
class Prices:
    gpus: Mapping[str, GpuPrice] = field(default_factory=lambda: dict(BUILTIN_GPUS))
    hours_per_month: float = 730.0
    amortization_months: float = 36.0
    cpu_core_hour_cloud: float = 0.04
    cpu_core_hour_onprem: float = 0.012
    memory_gb_hour_cloud: float = 0.003
    memory_gb_hour_onprem: float = 0.001
    storage_gb_month_cloud: float = 0.023
    storage_gb_month_onprem: float = 0.010
    egress_gb: float = 0.09
    edge_site_month: float = 250.0  # enclosure, remote management and spares per edge site

    def gpu_hour(self, model: str, placement: Placement) -> float:
        gpu = self.gpus[model]
        if placement is Placement.CLOUD:
            return gpu.cloud_per_hour
        return gpu.onprem_capex / (self.amortization_months * self.hours_per_month) + gpu.onprem_opex_per_hour

    def core_hour(self, placement: Placement) -> float:
        return self.cpu_core_hour_cloud if placement is Placement.CLOUD else self.cpu_core_hour_onprem

    def memory_hour(self, placement: Placement) -> float:
        return self.memory_gb_hour_cloud if placement is Placement.CLOUD else self.memory_gb_hour_onprem

    def storage_month(self, placement: Placement) -> float:
        return self.storage_gb_month_cloud if placement is Placement.CLOUD else self.storage_gb_month_onprem


@dataclass(frozen=True, slots=True)
class Assumptions:
    """Rules of thumb; the reference gives the utilizations and the CPU/GPU thresholds."""

    default_gpu_model: str = "A100-80GB"
    baseline_utilization: float = 0.20  # GPUs dedicated per team (reference)
    pooled_utilization: float = 0.75  # GPUs in a shared MIG pool (reference)
    pooling_headroom: float = 0.25  # spare pool capacity for bursts and failover, on top of the busy share
    quantization_speedup: float = 2.0  # INT8 vs FP32 throughput; measure with `aiplane model quantize`
    int8_memory_ratio: float = 0.25  # INT8 weights take a quarter of FP32's
    memory_overhead: float = 1.5  # device memory per replica = model size x this (activations, runtime)
    peak_to_average: float = 3.0  # capacity is sized for the peak hour
    gpu_requests_per_second: float = 1000.0  # one dedicated GPU's capacity, sizing the baseline from traffic
    cpu_node_cores: float = 8.0
    cpu_node_memory_gb: float = 32.0
    cpu_target_utilization: float = 0.6
    cpu_max_model_gb: float = 1.0  # reference: GPU when the model is larger than 1 GB
    cpu_min_latency_ms: float = 100.0  # reference: GPU when latency under 100 ms is required
    cpu_max_peak_rps: float = 1000.0  # reference: GPU at thousands of requests per second
    cpu_ms_base: float = 10.0  # estimated p99 of one request on one core: base + per GB of model
    cpu_ms_per_gb: float = 100.0
    gpu_ms_base: float = 5.0
    gpu_ms_per_gb: float = 10.0
    rtt_cloud_ms: float = 40.0  # network round trip from the users/machines to each placement
    rtt_onprem_ms: float = 5.0
    rtt_edge_ms: float = 1.0
    response_kb: float = 1.0  # answer size, for cloud egress

    def rtt_ms(self, placement: Placement) -> float:
        return {Placement.CLOUD: self.rtt_cloud_ms, Placement.ON_PREM: self.rtt_onprem_ms,
                Placement.EDGE: self.rtt_edge_ms}[placement]


@dataclass(frozen=True, slots=True)
class Catalog:
    prices: Prices = field(default_factory=Prices)
    assumptions: Assumptions = field(default_factory=Assumptions)


_FRACTIONS = {"baseline_utilization", "pooled_utilization", "cpu_target_utilization", "int8_memory_ratio"}
# Assumptions that may be 0; every other one divides or multiplies something that must not vanish.
_MAY_BE_ZERO = {"pooling_headroom", "response_kb", "rtt_cloud_ms", "rtt_onprem_ms", "rtt_edge_ms", "cpu_ms_per_gb",
                "gpu_ms_per_gb"}
_GPU_FIELDS = ("memory_gb", "cloud_per_hour", "onprem_capex", "onprem_opex_per_hour", "mig")


def with_overrides(catalog: Catalog, document: Mapping[str, Any], path: str) -> Catalog:
    """`catalog` with the `prices:` and `assumptions:` of `document` (found at `path`) applied."""
    doc = fields.mapping(document, path, ("prices", "assumptions"))
    prices, assumptions = catalog.prices, catalog.assumptions
    if doc.get("prices") is not None:
        prices = _prices(prices, doc["prices"], _at(path, "prices"))
    if doc.get("assumptions") is not None:
        assumptions = _assumptions(assumptions, doc["assumptions"], _at(path, "assumptions"))
    if assumptions.default_gpu_model not in prices.gpus:
        raise InvalidInput(f"{_at(path, 'assumptions')}.default_gpu_model: {assumptions.default_gpu_model!r} is "
                           f"not in the price catalog; use one of: {', '.join(prices.gpus)}.")
    return Catalog(prices, assumptions)


def _prices(base: Prices, raw: Any, path: str) -> Prices:
    names = [f.name for f in dataclasses.fields(Prices)]
    doc = fields.mapping(raw, path, names)
    changes: dict[str, Any] = {k: fields.number(v, f"{path}.{k}", positive=k in {"hours_per_month",
                               "amortization_months"}) for k, v in doc.items() if k != "gpus"}
    if "gpus" in doc:
        gpus = dict(base.gpus)
        raw_gpus = doc["gpus"]
        new_models = [str(k) for k in raw_gpus] if isinstance(raw_gpus, Mapping) else []
        for model, spec in fields.mapping(raw_gpus, f"{path}.gpus", new_models).items():
            gpus[model] = _gpu(gpus.get(model), str(model), spec, f"{path}.gpus.{model}")
        changes["gpus"] = gpus
    return dataclasses.replace(base, **changes)


def _gpu(base: GpuPrice | None, model: str, raw: Any, path: str) -> GpuPrice:
    doc = fields.mapping(raw, path, _GPU_FIELDS)
    if base is None:
        missing = [f for f in _GPU_FIELDS[:4] if f not in doc]
        if missing:
            raise InvalidInput(f"{path}: a new GPU model needs {', '.join(missing)}; give every price field.")
        base = GpuPrice(model, 0, 0, 0, 0)
    changes: dict[str, Any] = {k: fields.number(v, f"{path}.{k}", positive=k in {"memory_gb", "cloud_per_hour"})
                               for k, v in doc.items() if k != "mig"}
    if "mig" in doc:
        names = fields.texts(doc["mig"], f"{path}.mig")
        changes["mig"] = tuple(MigProfile.parse(n, f"{path}.mig[{i}]") for i, n in enumerate(names))
    return dataclasses.replace(base, **changes)


def _assumptions(base: Assumptions, raw: Any, path: str) -> Assumptions:
    doc = fields.mapping(raw, path, [f.name for f in dataclasses.fields(Assumptions)])
    changes: dict[str, Any] = {}
    for key, value in doc.items():
        where = f"{path}.{key}"
        if key == "default_gpu_model":
            changes[key] = fields.text(value, where)
        else:
            changes[key] = fields.number(value, where, positive=key not in _MAY_BE_ZERO,
                                         maximum=1.0 if key in _FRACTIONS else None)
    return dataclasses.replace(base, **changes)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key

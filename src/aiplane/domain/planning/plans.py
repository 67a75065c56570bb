"""What the planner answers: decisions, the options weighed, price lines and savings.

Every amount is quantity x unit price of a `PriceLine`, so each figure in a report can be
traced to the catalog price that produced it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from aiplane.domain.planning.catalog import Catalog, Placement


@dataclass(frozen=True, slots=True)
class PriceLine:
    item: str  # e.g. "A100-80GB GPU, cloud"
    quantity: float
    unit: str  # e.g. "GPU-hour"
    unit_price: float

    @property
    def amount(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Costed:
    lines: tuple[PriceLine, ...]

    @property
    def monthly(self) -> float:
        return sum(line.amount for line in self.lines)


class Stage(str, enum.Enum):
    TRAINING = "training"
    INFERENCE = "inference"


@dataclass(frozen=True, slots=True)
class Option:
    stage: Stage
    placement: Placement
    device: str  # "gpu", "cpu", "mig-3g.40gb", "1 GPU + mig-2g.20gb", "cloud burst"...
    summary: str  # how it is sized, e.g. "16 GPUs x 120 h" or "1 node of 8 cores"
    cost: Costed
    ruled_out: str | None = None  # the non-negotiable that eliminates it
    gpus: float = 0.0  # GPU share allocated (per site at the edge); 0 on CPU and for training
    sites: int = 1
    profile: str | None = None  # the MIG instance beside the whole GPUs of `gpus` (per site)

    @property
    def label(self) -> str:
        return f"{self.placement.value} {self.device}"


@dataclass(frozen=True, slots=True)
class Decision:
    stage: Stage
    chosen: Option | None  # None: infeasible
    options: tuple[Option, ...]
    why: tuple[str, ...]


class Lever(str, enum.Enum):
    TRAINING_BURST = "training burst"
    TRAINING_ON_PREM = "on-prem training"
    CPU_INFERENCE = "CPU inference"
    GPU_POOLING = "GPU pooling (MIG)"
    QUANTIZATION = "INT8 quantization"
    INFERENCE_PLACEMENT = "inference placement"
    POOL_ROUNDING = "pool rounding"  # whole GPUs bought for MIG shares: a cost, so a negative saving


@dataclass(frozen=True, slots=True)
class Saving:
    lever: Lever
    monthly: float  # negative when the lever costs money (e.g. on-prem forced by compliance)
    detail: str


@dataclass(frozen=True, slots=True)
class WorkloadPlan:
    name: str
    architecture: str
    training: Decision | None
    inference: Decision | None
    baseline: Costed  # dedicated cloud GPUs, 24x7
    savings: tuple[Saving, ...]
    infeasible: str | None = None  # one sentence naming the field, when no option is left

    @property
    def optimized_monthly(self) -> float:
        chosen = [d.chosen for d in (self.training, self.inference) if d is not None and d.chosen is not None]
        return sum(o.cost.monthly for o in chosen)


@dataclass(frozen=True, slots=True)
class Pool:
    """GPUs bought for the MIG shares placed on them: shared by every workload at a placement,
    except at the edge, where each site of a workload has its own."""

    name: str  # "on-prem A100-80GB" or "edge A100-80GB, plant (3 sites)"
    gpu_model: str
    allocated: float  # GPUs' worth of slices charged to workloads
    provisioned: int  # whole GPUs to buy or rent
    line: PriceLine  # the idle remainder, which no workload is charged for

    @classmethod
    def of(cls, name: str, gpu_model: str, allocated: float, provisioned: int, unit_price: float,
           hours: float) -> Pool:
        idle = PriceLine(f"{name}: idle share of whole GPUs", (provisioned - allocated) * hours, "GPU-hour",
                         unit_price)
        return cls(name, gpu_model, allocated, provisioned, idle)

    @staticmethod
    def whole(gpus: float) -> int:
        return math.ceil(gpus - 1e-9)


@dataclass(frozen=True, slots=True)
class PortfolioPlan:
    catalog: Catalog
    workloads: tuple[WorkloadPlan, ...]
    pools: tuple[Pool, ...] = ()

    @property
    def feasible(self) -> tuple[WorkloadPlan, ...]:
        return tuple(w for w in self.workloads if w.infeasible is None)

    @property
    def baseline_monthly(self) -> float:
        return sum(w.baseline.monthly for w in self.feasible)

    @property
    def pool_rounding_monthly(self) -> float:
        return sum(p.line.amount for p in self.pools)

    @property
    def optimized_monthly(self) -> float:
        return sum(w.optimized_monthly for w in self.feasible) + self.pool_rounding_monthly

    def savings_by_lever(self) -> dict[Lever, float]:
        totals = {lever: 0.0 for lever in Lever}
        for w in self.feasible:
            for s in w.savings:
                totals[s.lever] += s.monthly
        totals[Lever.POOL_ROUNDING] = -self.pool_rounding_monthly
        return {lever: amount for lever, amount in totals.items() if abs(amount) >= 0.005}

"""The walk from the baseline to the chosen plan, one lever at a time, never one opaque number.

Training: 24x7 cloud reservation -> the chosen placement (a burst of the hours used, or
owned GPUs at their amortized rate). Inference, in this order, each step priced in full:
dedicated cloud GPUs -> the chosen device in the cloud (a pooled MIG share, or CPU nodes)
-> INT8 quantization -> the chosen placement (on-prem or edge; a negative saving when a
non-negotiable forces a dearer placement). The steps telescope: the savings add up exactly
to baseline minus optimized.
"""

from __future__ import annotations

from aiplane.domain.planning import costing, sizing
from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.plans import Decision, Lever, Option, Saving
from aiplane.domain.planning.portfolio import Workload


def walk(c: Catalog, w: Workload, training: Decision | None, inference: Decision | None) -> tuple[Saving, ...]:
    out: list[Saving] = []
    if training is not None and training.chosen is not None and w.training is not None:
        out.append(_training(c, w, training.chosen))
    if inference is not None and inference.chosen is not None:
        out.extend(_inference(c, w, inference.chosen))
    return tuple(out)


def _training(c: Catalog, w: Workload, chosen: Option) -> Saving:
    assert w.training is not None
    baseline = costing.training_baseline(c, w, w.training).monthly
    p = c.prices
    if chosen.placement is Placement.CLOUD:
        detail = (f"{w.training.gpus} GPUs x {w.training.hours_per_month:g} h used instead of "
                  f"{p.hours_per_month:g} h reserved")
        return Saving(Lever.TRAINING_BURST, baseline - chosen.cost.monthly, detail)
    detail = (f"{w.training.gpus} GPUs owned at ${p.gpu_hour(w.gpu_model, Placement.ON_PREM):.2f}/GPU-hour instead "
              f"of rented at ${p.gpu_hour(w.gpu_model, Placement.CLOUD):.2f}")
    return Saving(Lever.TRAINING_ON_PREM, baseline - chosen.cost.monthly, detail)


def _inference(c: Catalog, w: Workload, chosen: Option) -> list[Saving]:
    a = c.assumptions
    on_cpu = chosen.device.startswith("cpu")
    option = costing.cpu_option if on_cpu else costing.gpu_option
    baseline = costing.inference_baseline(c, w).monthly
    dedicated = sizing.baseline_gpus(w, a)
    fp32 = option(c, w, Placement.CLOUD, False)
    if on_cpu:
        first = Saving(Lever.CPU_INFERENCE, baseline - fp32.cost.monthly,
                       f"{dedicated} dedicated GPU{'s' if dedicated != 1 else ''} -> {fp32.summary}")
    else:
        first = Saving(Lever.GPU_POOLING, baseline - fp32.cost.monthly,
                       f"{dedicated} dedicated GPU{'s' if dedicated != 1 else ''} at {sizing.utilization(w, a):.0%} -> {fp32.device} in a pool at "
                       f"{a.pooled_utilization:.0%} with {a.pooling_headroom:.0%} headroom")
    out = [first]
    last = fp32
    if w.quantization:
        int8 = option(c, w, Placement.CLOUD, True)
        change = f"{fp32.summary} -> {int8.summary}" if on_cpu else f"{fp32.device} -> {int8.device}"
        out.append(Saving(Lever.QUANTIZATION, fp32.cost.monthly - int8.cost.monthly,
                          f"INT8: x{a.quantization_speedup:g} throughput, x{a.int8_memory_ratio:g} memory: {change}"))
        last = int8
    if chosen.placement is not Placement.CLOUD:
        out.append(Saving(Lever.INFERENCE_PLACEMENT, last.cost.monthly - chosen.cost.monthly,
                          _placement(c, w, chosen, on_cpu)))
    return out


def _placement(c: Catalog, w: Workload, chosen: Option, on_cpu: bool) -> str:
    p, where = c.prices, chosen.placement
    if on_cpu:
        rates = f"${p.core_hour(Placement.CLOUD):.3f} -> ${p.core_hour(where):.3f} per core-hour"
    else:
        rates = (f"${p.gpu_hour(w.gpu_model, Placement.CLOUD):.2f} -> ${p.gpu_hour(w.gpu_model, where):.2f} "
                 "per GPU-hour")
    sites = f", {max(1, w.edge_sites)} site(s) at ${p.edge_site_month:,.0f}/month" if where is Placement.EDGE else ""
    return f"cloud -> {where.value} ({rates}, amortized{sites}): {chosen.summary}"

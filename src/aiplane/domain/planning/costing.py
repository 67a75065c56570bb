"""Price lines of each option: quantity x catalog unit price, nothing else.

Training runs 24x7 in the baseline; a cloud burst pays the hours it uses; on-premises GPUs
are owned, so they cost their amortized rate for the whole month. Inference at the edge is
priced at on-premises rates, per site, plus the catalog's edge site fee.
"""

from __future__ import annotations

from aiplane.domain.planning import sizing
from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.plans import Costed, Option, PriceLine, Stage
from aiplane.domain.planning.portfolio import Training, Workload

_WHERE = {Placement.CLOUD: "cloud", Placement.ON_PREM: "on-prem, amortized", Placement.EDGE: "edge, amortized"}


def _gpu_line(c: Catalog, model: str, placement: Placement, gpu_hours: float) -> PriceLine:
    return PriceLine(f"{model} GPU, {_WHERE[placement]}", gpu_hours, "GPU-hour", c.prices.gpu_hour(model, placement))


def _storage(c: Catalog, w: Workload, placement: Placement) -> tuple[PriceLine, ...]:
    if not w.dataset_gb:
        return ()
    return (PriceLine(f"dataset storage, {placement.value}", w.dataset_gb, "GB-month",
                      c.prices.storage_month(placement)),)


def _egress(c: Catalog, w: Workload, placement: Placement) -> tuple[PriceLine, ...]:
    gb = w.requests_per_day * c.assumptions.response_kb / 1e6 * c.prices.hours_per_month / 24
    if placement is not Placement.CLOUD or gb == 0:
        return ()
    return (PriceLine("egress of answers, cloud", gb, "GB", c.prices.egress_gb),)


def training_baseline(c: Catalog, w: Workload, t: Training) -> Costed:
    hours = c.prices.hours_per_month
    return Costed((_gpu_line(c, w.gpu_model, Placement.CLOUD, t.gpus * hours), *_storage(c, w, Placement.CLOUD)))


def training_option(c: Catalog, w: Workload, t: Training, placement: Placement) -> Option:
    month = c.prices.hours_per_month
    if placement is Placement.CLOUD:
        hours, device = t.hours_per_month, "burst"
        summary = f"{t.gpus} GPUs x {t.hours_per_month:g} h used"
    else:
        hours, device = month, "owned"
        summary = f"{t.gpus} GPUs owned, {t.hours_per_month / month:.0%} used"
    lines = (_gpu_line(c, w.gpu_model, placement, t.gpus * hours), *_storage(c, w, placement))
    return Option(Stage.TRAINING, placement, device, summary, Costed(lines))


def inference_baseline(c: Catalog, w: Workload) -> Costed:
    gpus = sizing.baseline_gpus(w, c.assumptions)
    gpu_hours = gpus * c.prices.hours_per_month
    return Costed((_gpu_line(c, w.gpu_model, Placement.CLOUD, gpu_hours), *_egress(c, w, Placement.CLOUD)))


def gpu_option(c: Catalog, w: Workload, placement: Placement, int8: bool) -> Option:
    sites = max(1, w.edge_sites) if placement is Placement.EDGE else 1
    alloc = sizing.gpu_allocation(w, c.assumptions, c.prices.gpus[w.gpu_model], int8, sites)
    gpu_hours = alloc.gpus * sites * c.prices.hours_per_month
    busy = sizing.busy_gpus(w, c.assumptions)
    summary = f"{busy:.2f} busy GPUs pooled into {alloc.label}" + (f" per site x {sites}" if sites > 1 else "")
    lines = (_gpu_line(c, w.gpu_model, placement, gpu_hours), *_egress(c, w, placement), *_site(c, placement, sites))
    return Option(Stage.INFERENCE, placement, alloc.label + (" INT8" if int8 else ""), summary, Costed(lines),
                  gpus=alloc.gpus, sites=sites, profile=alloc.profile.name if alloc.profile else None)


def cpu_option(c: Catalog, w: Workload, placement: Placement, int8: bool) -> Option:
    a, p = c.assumptions, c.prices
    sites = max(1, w.edge_sites) if placement is Placement.EDGE else 1
    nodes = sizing.cpu_nodes(w, a, int8, sites) * sites
    hours = nodes * p.hours_per_month
    where = _WHERE[placement]
    lines = (PriceLine(f"CPU core, {where}", a.cpu_node_cores * hours, "core-hour", p.core_hour(placement)),
             PriceLine(f"memory, {where}", a.cpu_node_memory_gb * hours, "GB-hour", p.memory_hour(placement)),
             *_egress(c, w, placement), *_site(c, placement, sites))
    summary = f"{nodes} node{'s' if nodes != 1 else ''} of {a.cpu_node_cores:g} cores, {a.cpu_node_memory_gb:g} GB"
    return Option(Stage.INFERENCE, placement, "cpu" + (" INT8" if int8 else ""), summary, Costed(lines))


def _site(c: Catalog, placement: Placement, sites: int) -> tuple[PriceLine, ...]:
    if placement is not Placement.EDGE:
        return ()
    return (PriceLine("edge site", sites, "site-month", c.prices.edge_site_month),)

"""`plan(portfolio)`: for each workload, rule options out, let cost pick, and walk the savings."""

from __future__ import annotations

import dataclasses
import math

from aiplane.domain.planning import costing, pooling, rules, savings, sizing
from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.plans import (Costed, Decision, Option, Pool, PortfolioPlan, PriceLine, Stage,
                                          WorkloadPlan)
from aiplane.domain.planning.portfolio import Portfolio, Workload


def plan(portfolio: Portfolio) -> PortfolioPlan:
    c = portfolio.catalog
    plans = tuple(_workload(c, w) for w in portfolio.workloads)
    return PortfolioPlan(c, plans, _pools(c, portfolio.workloads, plans))


def _pools(c: Catalog, workloads: tuple[Workload, ...], plans: tuple[WorkloadPlan, ...]) -> tuple[Pool, ...]:
    """Whole GPUs for the MIG shares, packed by the placement engine: one pool per placement and
    GPU model, one per workload at the edge (each site of it on its own GPUs)."""
    shared: dict[tuple[Placement, str], list[Option]] = {}
    pools = []
    hours = c.prices.hours_per_month
    for w, p in zip(workloads, plans):
        o = p.inference.chosen if p.inference is not None and not p.infeasible else None
        if o is None or o.gpus == 0:
            continue
        if o.placement is Placement.EDGE:
            name = f"edge {w.gpu_model}, {w.name} ({o.sites} site{'s' if o.sites != 1 else ''})"
            pools.append(Pool.of(name, w.gpu_model, o.gpus * o.sites, _provision(c, w.gpu_model, [o]) * o.sites,
                                 c.prices.gpu_hour(w.gpu_model, o.placement), hours))
        else:
            shared.setdefault((o.placement, w.gpu_model), []).append(o)
    pools += [Pool.of(f"{where.value} {model}", model, sum(o.gpus for o in options), _provision(c, model, options),
                      c.prices.gpu_hour(model, where), hours)
              for (where, model), options in shared.items()]
    return tuple(sorted(pools, key=lambda pool: pool.name))


def _provision(c: Catalog, model: str, options: list[Option]) -> int:
    whole = sum(math.floor(o.gpus + 1e-9) for o in options)
    profiles = [o.profile for o in options if o.profile is not None]
    return pooling.provision(c.prices.gpus[model], whole, profiles, sum(o.gpus for o in options))


def _workload(c: Catalog, w: Workload) -> WorkloadPlan:
    training = inference = None
    if w.training is not None:
        options = _training_options(c, w)
        if w.inference is None:
            options = _ceiling(w, options, 0.0)
        training = _decide(Stage.TRAINING, options, _breakeven(c, w))
    if w.inference is not None:
        fixed = training.chosen.cost.monthly if training is not None and training.chosen is not None else 0.0
        measured = w.profile.source if w.profile is not None else None
        inference = _decide(Stage.INFERENCE, _ceiling(w, _inference_options(c, w), fixed), measured)
    decisions = [d for d in (training, inference) if d is not None]
    infeasible = next((_infeasible(c, w, d) for d in decisions if d.chosen is None), None)
    lines: tuple[PriceLine, ...] = ()
    if w.training is not None:
        lines += costing.training_baseline(c, w, w.training).lines
    if w.inference is not None:
        lines += costing.inference_baseline(c, w).lines
    return WorkloadPlan(w.name, _architecture(training, inference), training, inference, Costed(lines),
                        () if infeasible else savings.walk(c, w, training, inference), infeasible)


def _training_options(c: Catalog, w: Workload) -> tuple[Option, ...]:
    assert w.training is not None
    return tuple(dataclasses.replace(costing.training_option(c, w, w.training, p),
                                     ruled_out=rules.training_ruled_out(w, p))
                 for p in (Placement.CLOUD, Placement.ON_PREM))


def _breakeven(c: Catalog, w: Workload) -> str:
    p = c.prices
    hours = p.hours_per_month * p.gpu_hour(w.gpu_model, Placement.ON_PREM) / p.gpu_hour(w.gpu_model, Placement.CLOUD)
    if hours >= p.hours_per_month:
        return "owning never beats a cloud burst at these prices"
    return f"owning beats a cloud burst above {hours:.0f} GPU-hours per GPU per month"


def _inference_options(c: Catalog, w: Workload) -> tuple[Option, ...]:
    options = []
    for placement in Placement:
        for device in ("gpu", "cpu"):
            make = costing.gpu_option if device == "gpu" else costing.cpu_option
            option = make(c, w, placement, w.quantization)
            reason = rules.placement_ruled_out(w, placement) or rules.device_ruled_out(w, c.assumptions, placement,
                                                                                      device)
            options.append(dataclasses.replace(option, ruled_out=reason))
    return tuple(options)


def _ceiling(w: Workload, options: tuple[Option, ...], fixed: float) -> tuple[Option, ...]:
    """Rule out options that take the workload's monthly total (`fixed` + the option) over max_monthly_cost."""
    ceiling = w.max_monthly_cost
    if ceiling is None:
        return options
    return tuple(o if o.ruled_out or fixed + o.cost.monthly <= ceiling else dataclasses.replace(
        o, ruled_out=f"the workload would cost ${fixed + o.cost.monthly:,.0f} a month, over max_monthly_cost "
                     f"${ceiling:,.0f}") for o in options)


def _decide(stage: Stage, options: tuple[Option, ...], note: str | None) -> Decision:
    left = [o for o in options if o.ruled_out is None]
    chosen = min(left, key=lambda o: o.cost.monthly) if left else None
    ruled: dict[str, list[str]] = {}
    for o in options:
        if o.ruled_out:
            ruled.setdefault(o.ruled_out, []).append(o.label)
    why = [f"{', '.join(labels)}: ruled out, {reason}" for reason, labels in ruled.items()]
    if chosen is not None:
        others = [o for o in left if o is not chosen]
        compared = "; ".join(f"{o.label} ${o.cost.monthly:,.0f}" for o in others)
        why.append(f"{chosen.label}: chosen, cheapest left at ${chosen.cost.monthly:,.0f}/month"
                   + (f" (vs {compared})" if compared else " (the only option left)"))
    if note:
        why.append(note)
    return Decision(stage, chosen, options, tuple(why))


def _infeasible(c: Catalog, w: Workload, decision: Decision) -> str:
    reasons = [o.ruled_out or "" for o in decision.options]
    if w.max_monthly_cost is not None and any("max_monthly_cost" in r for r in reasons):
        cheapest = min(o.cost.monthly for o in decision.options if "max_monthly_cost" in (o.ruled_out or ""))
        return (f"{w.path}.max_monthly_cost: ${w.max_monthly_cost:,.0f} is below the cheapest allowed plan "
                f"(${cheapest:,.0f} a month); raise it or relax another requirement.")
    latency = [o for o in decision.options if (o.ruled_out or "").startswith("latency")]
    if latency and w.latency_p99_ms is not None:
        fastest = min(_latency(c, w, o) for o in latency)
        return (f"{w.path}.latency_p99_ms: {w.latency_p99_ms:g} ms cannot be met by any allowed option; the fastest "
                f"needs {fastest:g} ms; raise it, allow another placement, or give a measured profile.")
    listed = "; ".join(f"{o.label}: {o.ruled_out}" for o in decision.options)
    return f"{w.path}: no {decision.stage.value} option is left ({listed})."


def _latency(c: Catalog, w: Workload, option: Option) -> float:
    a = c.assumptions
    device_ms = sizing.cpu_ms(w, a) if option.device.startswith("cpu") else sizing.gpu_ms(w, a)
    return a.rtt_ms(option.placement) + device_ms


def _architecture(training: Decision | None, inference: Decision | None) -> str:
    t = training.chosen.placement if training is not None and training.chosen is not None else None
    i = inference.chosen.placement if inference is not None and inference.chosen is not None else None
    places = {p for p in (t, i) if p is not None}
    if not places:
        return "infeasible"
    kinds = {frozenset({Placement.CLOUD, Placement.ON_PREM}): "hybrid",
             frozenset({Placement.CLOUD, Placement.EDGE}): "hybrid + edge",
             frozenset({Placement.ON_PREM, Placement.EDGE}): "on-prem + edge"}
    kind = kinds.get(frozenset(places), next(iter(places)).value)
    parts = ([f"{'cloud-burst' if t is Placement.CLOUD else 'on-prem'} training"] if t else []) + (
        [f"{i.value} inference"] if i else [])
    return f"{kind}: {', '.join(parts)}"

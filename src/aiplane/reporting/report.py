"""The report as sections of notes and tables, shared by the terminal, Markdown and HTML renderers.

Each workload section lists the options weighed with the reason each was ruled out, the
savings lever by lever, and the price lines (quantity x unit price) behind every amount;
the last section lists every price and assumption used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.plans import Costed, Decision, PortfolioPlan, WorkloadPlan
from aiplane.reporting.money import quantity, rate, share, usd


INDENT = "    "  # a note starting with it belongs to the note above


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()  # right-aligned columns
    detail: bool = False  # the terminal shows it only with --details


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    notes: tuple[str, ...]
    tables: tuple[Table, ...]


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    sections: tuple[Section, ...]


def build(plan: PortfolioPlan) -> Report:
    sections = (_summary(plan), *(_workload(w) for w in plan.workloads), _prices(plan.catalog))
    return Report(f"Infrastructure plan: {len(plan.workloads)} workloads", sections)


def _summary(plan: PortfolioPlan) -> Section:
    base, best = plan.baseline_monthly, plan.optimized_monthly
    totals = Table("Totals", ("", "per month", "per year"), (
        ("baseline: dedicated cloud GPUs, 24x7", usd(base), usd(base * 12)),
        ("optimized plan", usd(best), usd(best * 12)),
        (f"saved ({share(base - best, base)})", usd(base - best), usd((base - best) * 12))), frozenset({1, 2}))
    levers = Table("Savings by lever", ("lever", "per month", "share of baseline"), tuple(
        (lever.value, usd(v), share(v, base)) for lever, v in plan.savings_by_lever().items()), frozenset({1, 2}))
    rows = tuple((w.name, w.architecture, _device(w.inference), usd(w.baseline.monthly),
                  usd(w.optimized_monthly) if not w.infeasible else "infeasible",
                  share(w.baseline.monthly - w.optimized_monthly, w.baseline.monthly) if not w.infeasible else "-")
                 for w in plan.workloads)
    overview = Table("Workloads", ("workload", "architecture", "inference on", "baseline/month", "optimized/month",
                                   "saved"), rows, frozenset({3, 4, 5}))
    notes = tuple(f"Infeasible: {w.infeasible}" for w in plan.workloads if w.infeasible)
    pools = Table("GPU pools", ("pool", "GPUs allocated", "GPUs to provision", "idle share per month"), tuple(
        (p.name, f"{p.allocated:.2f}", str(p.provisioned), usd(p.line.amount)) for p in plan.pools),
        frozenset({1, 2, 3}))
    return Section("Summary", notes, (totals, levers, overview) + ((pools,) if plan.pools else ()))


def _device(d: Decision | None) -> str:
    return d.chosen.device if d is not None and d.chosen is not None else "-"


def _workload(w: WorkloadPlan) -> Section:
    notes = [f"Architecture: {w.architecture}."]
    if w.infeasible:
        notes.append(f"Infeasible: {w.infeasible}")
    for d in (w.training, w.inference):
        if d is not None:
            chosen = f"{d.chosen.label} ({d.chosen.summary})" if d.chosen else "no option left"
            notes.append(f"{d.stage.value.capitalize()}: {chosen}.")
            notes.extend(f"{INDENT}{line}." for line in d.why)
    tables = [Table("Savings", ("lever", "per month", "how"), tuple(
        (s.lever.value, usd(s.monthly), s.detail) for s in w.savings), frozenset({1}))] if w.savings else []
    options = tuple((o.stage.value, o.label, o.summary, usd(o.cost.monthly),
                     "chosen" if d.chosen is o else f"ruled out: {o.ruled_out}" if o.ruled_out else "dearer")
                    for d in (w.training, w.inference) if d is not None for o in d.options)
    tables.append(Table("Options weighed", ("stage", "option", "sizing", "per month", "outcome"), options,
                        frozenset({3}), detail=True))
    picked = [d.chosen.cost for d in (w.training, w.inference) if d is not None and d.chosen is not None]
    if not w.infeasible:
        tables.append(_lines("Price lines, optimized", picked))
    tables.append(_lines("Price lines, baseline", [w.baseline]))
    return Section(w.name, tuple(notes), tuple(tables))


def _lines(title: str, costs: list[Costed]) -> Table:
    rows = tuple((line.item, quantity(line.quantity), line.unit, rate(line.unit_price), usd(line.amount))
                 for c in costs for line in c.lines)
    total = ("total", "", "", "", usd(sum(c.monthly for c in costs)))
    return Table(title, ("item", "quantity", "unit", "unit price", "per month"), (*rows, total),
                 frozenset({1, 3, 4}), detail=True)


_UNITS = {"hours_per_month": "{:g} h", "amortization_months": "{:g} months",
          "cpu_core_hour_cloud": "${:,.4f} per core-hour", "cpu_core_hour_onprem": "${:,.4f} per core-hour",
          "memory_gb_hour_cloud": "${:,.4f} per GB-hour", "memory_gb_hour_onprem": "${:,.4f} per GB-hour",
          "storage_gb_month_cloud": "${:,.4f} per GB-month", "storage_gb_month_onprem": "${:,.4f} per GB-month",
          "egress_gb": "${:,.4f} per GB", "edge_site_month": "${:,.2f} per site-month"}


def _prices(c: Catalog) -> Section:
    p = c.prices
    gpus = tuple((g.model, f"{g.memory_gb:g} GB", rate(g.cloud_per_hour), usd(g.onprem_capex),
                  rate(g.onprem_opex_per_hour), rate(p.gpu_hour(g.model, Placement.ON_PREM)),
                  ", ".join(m.name for m in g.mig) or "-") for g in p.gpus.values())
    gpu_table = Table("GPU prices", ("GPU", "memory", "cloud $/GPU-hour", "on-prem capex", "on-prem opex $/h",
                                     "on-prem $/GPU-hour", "MIG profiles"), gpus, frozenset({2, 3, 4, 5}))
    other = tuple((f.name, _UNITS[f.name].format(getattr(p, f.name))) for f in dataclasses.fields(p)
                  if f.name != "gpus")
    assumptions = tuple((f.name, str(getattr(c.assumptions, f.name))) for f in dataclasses.fields(c.assumptions))
    note = (f"On-prem $/GPU-hour = capex / ({p.amortization_months:g} months x {p.hours_per_month:g} h) + opex. "
            "Override any figure under prices: or assumptions: in the portfolio, or with --catalog FILE.")
    return Section("Prices and assumptions used", (note,), (
        gpu_table, Table("Other prices", ("price", "value"), other, frozenset({1})),
        Table("Assumptions", ("assumption", "value"), assumptions, frozenset({1}))))

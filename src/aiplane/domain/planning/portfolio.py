"""The planner's input: a portfolio of workloads (the format of docs/planning.md).

`parse(document)` takes the parsed YAML/JSON document and returns a validated `Portfolio`;
unknown fields, negative numbers, unknown GPU models and impossible values are refused with
one sentence naming the field, e.g. "workloads[2].latency_p99_ms: -5 is negative; ...".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping

from aiplane.domain import names, registry
from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import catalog as catalogs
from aiplane.domain.planning import fields
from aiplane.domain.planning.catalog import Catalog, Placement
from aiplane.domain.planning.measured import Measured


class Industry(str, enum.Enum):
    HEALTHCARE = "healthcare"
    FINANCE = "finance"
    MANUFACTURING = "manufacturing"
    OTHER = "other"


class Residency(str, enum.Enum):
    ON_PREM = "on-prem"
    ANY = "any"


COMPLIANCE = ("hipaa", "soc2", "gdpr")


@dataclass(frozen=True, slots=True)
class Training:
    gpus: int
    hours_per_month: float


@dataclass(frozen=True, slots=True)
class Inference:
    gpus: int | None  # dedicated GPUs today (the baseline); None: sized from requests_per_day
    utilization: float | None  # measured utilization of those GPUs; None: the catalog's baseline


@dataclass(frozen=True, slots=True)
class Profile:
    """A measured latency profile (p99 of one request); it overrides the rules of thumb."""

    cpu_p99_ms: float | None
    gpu_p99_ms: float | None
    cpu_rows_per_s: float | None = None  # one core's throughput at that p99 (a stored profile has it)
    source: str | None = None  # where it was measured, for the report


@dataclass(frozen=True, slots=True)
class Workload:
    path: str  # where it sits in the document, e.g. "workloads[2]", for messages
    name: str
    industry: Industry
    compliance: tuple[str, ...]
    data_residency: Residency
    model_size_gb: float
    latency_p99_ms: float | None  # None: best effort (batch)
    requests_per_day: float
    gpu_model: str
    training: Training | None
    inference: Inference | None
    profile: Profile | None
    quantization: bool
    edge_sites: int
    placements: Mapping[str, tuple[Placement, ...]]  # "training"/"inference" -> allowed; empty = default
    max_monthly_cost: float | None
    dataset_gb: float


@dataclass(frozen=True, slots=True)
class Portfolio:
    catalog: Catalog
    workloads: tuple[Workload, ...]


_WORKLOAD_FIELDS = ("name", "model", "industry", "compliance", "data_residency", "model_size_gb", "latency_p99_ms",
                    "requests_per_day", "gpu_model", "training", "inference", "profile", "quantization",
                    "edge_sites", "placements", "max_monthly_cost", "dataset_gb")
# What a healthcare workload assumes when the document does not say (reference: HIPAA, on-prem).
_INDUSTRY_COMPLIANCE = {Industry.HEALTHCARE: ("hipaa",), Industry.FINANCE: ("soc2",)}
_INDUSTRY_RESIDENCY = {Industry.HEALTHCARE: Residency.ON_PREM}


def model_refs(document: Any) -> list[str]:
    """The `model:` references of a document's workloads, for the caller to look up their
    measured profiles (from the server) before `parse`; malformed ones are left for `parse`."""
    raw = document.get("workloads") if isinstance(document, Mapping) else None
    items = raw if isinstance(raw, list) else []
    return sorted({w["model"] for w in items if isinstance(w, Mapping) and isinstance(w.get("model"), str)})


def parse(document: Any, base: Catalog | None = None, measured: Mapping[str, Measured] | None = None) -> Portfolio:
    """`measured`: the stored profiles of the models that workloads name (`model: t/name:v`)."""
    doc = fields.mapping(document, "", ("prices", "assumptions", "workloads"))
    overrides = {k: doc[k] for k in ("prices", "assumptions") if k in doc}
    catalog = catalogs.with_overrides(base or Catalog(), overrides, "")
    raw = doc.get("workloads")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("workloads: is required and must be a non-empty list of workloads.")
    workloads = tuple(_workload(item, f"workloads[{i}]", catalog, measured or {}) for i, item in enumerate(raw))
    seen: set[str] = set()
    for w in workloads:
        if w.name in seen:
            raise InvalidInput(f"{w.path}.name: {w.name!r} is used twice; give each workload its own name.")
        seen.add(w.name)
    return Portfolio(catalog, workloads)


def _workload(raw: Any, path: str, catalog: Catalog, measured: Mapping[str, Measured]) -> Workload:
    doc = fields.mapping(raw, path, _WORKLOAD_FIELDS)
    if "name" not in doc:
        raise InvalidInput(f"{path}.name: is required; give the workload a name.")
    if "model" in doc:
        doc = _measured_fields(doc, path, measured, catalog.assumptions.peak_to_average)
    industry = Industry(fields.text(doc.get("industry", "other"), f"{path}.industry", [i.value for i in Industry]))
    compliance = (fields.texts(doc["compliance"], f"{path}.compliance", COMPLIANCE) if "compliance" in doc
                  else _INDUSTRY_COMPLIANCE.get(industry, ()))
    residency = (Residency(fields.text(doc["data_residency"], f"{path}.data_residency", [r.value for r in Residency]))
                 if "data_residency" in doc else _INDUSTRY_RESIDENCY.get(industry, Residency.ANY))
    gpu_model = fields.text(doc.get("gpu_model", catalog.assumptions.default_gpu_model), f"{path}.gpu_model")
    if gpu_model not in catalog.prices.gpus:
        raise InvalidInput(f"{path}.gpu_model: {gpu_model!r} is not in the price catalog; use one of: "
                           f"{', '.join(catalog.prices.gpus)}, or add it under prices.gpus.")
    latency = doc.get("latency_p99_ms")
    ceiling = doc.get("max_monthly_cost")
    requests = fields.number(doc.get("requests_per_day", 0), f"{path}.requests_per_day")
    workload = Workload(
        path=path, name=fields.text(doc["name"], f"{path}.name"), industry=industry, compliance=compliance,
        data_residency=residency,
        model_size_gb=fields.number(doc.get("model_size_gb", 0.1), f"{path}.model_size_gb", positive=True),
        latency_p99_ms=None if latency is None else fields.number(latency, f"{path}.latency_p99_ms", positive=True),
        requests_per_day=requests, gpu_model=gpu_model,
        training=_training(doc.get("training"), f"{path}.training", catalog.prices.hours_per_month),
        inference=_inference(doc.get("inference"), f"{path}.inference", requests),
        profile=doc["profile"] if isinstance(doc.get("profile"), Profile) else _profile(doc.get("profile"),
                                                                                        f"{path}.profile"),
        quantization=fields.flag(doc.get("quantization", True), f"{path}.quantization"),
        edge_sites=fields.integer(doc.get("edge_sites", 1 if industry is Industry.MANUFACTURING else 0),
                                  f"{path}.edge_sites"),
        placements=_placements(doc.get("placements"), f"{path}.placements"),
        max_monthly_cost=None if ceiling is None else fields.number(ceiling, f"{path}.max_monthly_cost"),
        dataset_gb=fields.number(doc.get("dataset_gb", 0), f"{path}.dataset_gb"),
    )
    if workload.training is None and workload.inference is None:
        raise InvalidInput(f"{path}: has neither training nor inference; give training, inference or "
                           "requests_per_day.")
    return workload


def _training(raw: Any, path: str, hours_in_month: float) -> Training | None:
    if raw is None:
        return None
    doc = fields.mapping(raw, path, ("gpus", "hours_per_month"))
    if "gpus" not in doc:
        raise InvalidInput(f"{path}.gpus: is required; give the number of GPUs a training run uses.")
    hours = fields.number(doc.get("hours_per_month", hours_in_month), f"{path}.hours_per_month",
                          maximum=hours_in_month)
    return Training(fields.integer(doc["gpus"], f"{path}.gpus", positive=True), hours)


def _inference(raw: Any, path: str, requests_per_day: float) -> Inference | None:
    if raw is None:
        return Inference(None, None) if requests_per_day > 0 else None
    doc = fields.mapping(raw, path, ("gpus", "utilization"))
    gpus = doc.get("gpus")
    utilization = doc.get("utilization")
    return Inference(None if gpus is None else fields.integer(gpus, f"{path}.gpus", positive=True),
                     None if utilization is None else fields.number(utilization, f"{path}.utilization",
                                                                    positive=True, maximum=1.0))


def _profile(raw: Any, path: str) -> Profile | None:
    if raw is None:
        return None
    doc = fields.mapping(raw, path, ("cpu_p99_ms", "gpu_p99_ms"))
    cpu, gpu = doc.get("cpu_p99_ms"), doc.get("gpu_p99_ms")
    return Profile(None if cpu is None else fields.number(cpu, f"{path}.cpu_p99_ms", positive=True),
                   None if gpu is None else fields.number(gpu, f"{path}.gpu_p99_ms", positive=True))


def _placements(raw: Any, path: str) -> Mapping[str, tuple[Placement, ...]]:
    if raw is None:
        return {}
    doc = fields.mapping(raw, path, ("training", "inference"))
    allowed = {"training": [Placement.CLOUD.value, Placement.ON_PREM.value], "inference": [p.value for p in Placement]}
    return {stage: tuple(Placement(v) for v in fields.texts(value, f"{path}.{stage}", allowed[stage]))
            for stage, value in doc.items()}


def _measured_fields(doc: Mapping[str, Any], path: str, measured: Mapping[str, Measured],
                     peak_to_average: float) -> dict[str, Any]:
    """The workload's fields with those a stored profile measures filled in from it: model size,
    the CPU point that fits the latency ceiling (p99 and one core's throughput, batching no more
    requests than arrive at the peak within the ceiling), and no INT8 saving on a model that is
    INT8 already."""
    ref = fields.text(doc["model"], f"{path}.model")
    try:
        tenant, rest = names.split_scoped(ref, "TENANT/MODEL:VERSION")
        registry.parse_ref(rest)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}.model: {exc.message}") from None
    for clash in ("profile", "model_size_gb"):
        if clash in doc:
            raise InvalidInput(f"{path}.{clash}: comes from the measured profile of model {ref!r}; "
                               "remove one of the two.")
    m = measured.get(ref)
    if m is None:
        raise InvalidInput(f"{path}.model: {ref!r} has no measured profile; run 'aiplane model profile {ref}' "
                           "first.")
    latency = doc.get("latency_p99_ms")
    ceiling = fields.number(latency, f"{path}.latency_p99_ms", positive=True) if latency is not None else None
    peak = fields.number(doc.get("requests_per_day", 0), f"{path}.requests_per_day") / 86_400 * peak_to_average
    point = m.best(ceiling, None if ceiling is None else peak * ceiling / 1000) or m.single
    gpu = min((p.p99_ms for p in m.gpu), default=None)
    source = (f"measured profile of {ref}: p99 {point.p99_ms:g} ms at batch {point.batch}, "
              f"{point.rows_per_s:,.0f} rows/s per core, on {m.machine}")
    out = {**doc, "model_size_gb": max(m.size_gb, 1e-9),
           "profile": Profile(point.p99_ms, gpu, point.rows_per_s, source)}
    if m.int8:
        out["quantization"] = False  # measured as INT8: there is no second INT8 saving
    return out

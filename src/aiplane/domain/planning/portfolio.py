"""The planner's input: a portfolio of workloads (shared/SPEC.md, "Planner input").

`parse(document)` takes the parsed YAML/JSON document and returns a validated `Portfolio`;
unknown fields, negative numbers, unknown GPU models and impossible values are refused with
one sentence naming the field, e.g. "workloads[2].latency_p99_ms: -5 is negative; ...".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping

from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import catalog as catalogs
from aiplane.domain.planning import fields
from aiplane.domain.planning.catalog import Catalog, Placement


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


_WORKLOAD_FIELDS = ("name", "industry", "compliance", "data_residency", "model_size_gb", "latency_p99_ms",
                    "requests_per_day", "gpu_model", "training", "inference", "profile", "quantization",
                    "edge_sites", "placements", "max_monthly_cost", "dataset_gb")
# What a healthcare workload assumes when the document does not say (reference: HIPAA, on-prem).
_INDUSTRY_COMPLIANCE = {Industry.HEALTHCARE: ("hipaa",), Industry.FINANCE: ("soc2",)}
_INDUSTRY_RESIDENCY = {Industry.HEALTHCARE: Residency.ON_PREM}


def parse(document: Any, base: Catalog | None = None) -> Portfolio:
    doc = fields.mapping(document, "", ("prices", "assumptions", "workloads"))
    overrides = {k: doc[k] for k in ("prices", "assumptions") if k in doc}
    catalog = catalogs.with_overrides(base or Catalog(), overrides, "")
    raw = doc.get("workloads")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("workloads: is required and must be a non-empty list of workloads.")
    workloads = tuple(_workload(item, f"workloads[{i}]", catalog) for i, item in enumerate(raw))
    seen: set[str] = set()
    for w in workloads:
        if w.name in seen:
            raise InvalidInput(f"{w.path}.name: {w.name!r} is used twice; give each workload its own name.")
        seen.add(w.name)
    return Portfolio(catalog, workloads)


def _workload(raw: Any, path: str, catalog: Catalog) -> Workload:
    doc = fields.mapping(raw, path, _WORKLOAD_FIELDS)
    if "name" not in doc:
        raise InvalidInput(f"{path}.name: is required; give the workload a name.")
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
        profile=_profile(doc.get("profile"), f"{path}.profile"),
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

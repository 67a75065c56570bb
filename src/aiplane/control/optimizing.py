"""Optimization use-cases: quantize a version into a gated INT8 child, profile a version.

The measurements run in a child process (aiplane.control.jobs); this service reads the
parent, decides with the domain's gate and advice, and writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiplane.artifacts.blobs import BlobStore
from aiplane.control.jobs import run_bounded
from aiplane.domain import optimization
from aiplane.domain.clock import Clock
from aiplane.domain.errors import InvalidInput
from aiplane.domain.planning import advice, measured
from aiplane.domain.planning.catalog import Catalog
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.domain.registry import ModelVersion
from aiplane.runtime import onnx_model, optimizing
from aiplane.store import models as model_rows
from aiplane.store.database import Database


@dataclass(frozen=True)
class Profiled:
    version: ModelVersion
    advice: advice.Advice


class OptimizationService:
    def __init__(self, db: Database, blobs: BlobStore, clock: Clock, timeout_s: float) -> None:
        self.db, self.blobs, self.clock, self.timeout_s = db, blobs, clock, timeout_s

    def quantize(self, who: Principal, tenant: str, model: str, version: int | None, calibration: bytes | None,
                 max_drop: float = optimization.DEFAULT_MAX_DROP) -> ModelVersion:
        authorize(who, Action.MODEL_REGISTER, tenant)
        optimization.check_max_drop(max_drop)
        parent = self._get(tenant, model, version)
        validation = self.blobs.read(parent.validation_digest) if parent.validation_digest else None
        what = f"quantizing {tenant}/{model}:{parent.version}"
        child, report = run_bounded(what, optimizing.quantize,
                                    (self.blobs.read(parent.digest), validation, calibration), self.timeout_s)
        quality = optimization.Quality.of(report.get("agreement"))
        refused = optimization.refusal(quality, max_drop, f"version {parent.version}")
        if refused:
            raise InvalidInput(refused)
        report.update(max_accuracy_drop=max_drop, gate=optimization.summary(quality, max_drop),
                      verified=quality.metric is not optimization.Metric.UNVERIFIED)
        metrics: dict[str, Any] = {"quantization": report}
        agreement = report.get("agreement")
        if agreement and "accuracy_after" in agreement:
            metrics["accuracy"] = agreement["accuracy_after"]
            metrics["validation_samples"] = agreement["validation_samples"]
        session = onnx_model.open_session(child)
        draft = ModelVersion(tenant=tenant, model=model, version=0, digest=self.blobs.put(child),
                             size_bytes=len(child), source_format="onnx", signature=onnx_model.signature(session),
                             metrics=metrics, created_by=who.key_id, parent_version=parent.version,
                             validation_digest=parent.validation_digest)
        with self.db.write() as conn:
            number = model_rows.add_version(conn, draft, self.clock.now())
            return model_rows.get_version(conn, tenant, model, number)[1]

    def profile(self, who: Principal, tenant: str, model: str, version: int | None, demand: advice.Demand,
                catalog: Catalog | None = None) -> Profiled:
        authorize(who, Action.MODEL_REGISTER, tenant)  # it writes the version's profile
        target = self._get(tenant, model, version)
        validation = self.blobs.read(target.validation_digest) if target.validation_digest else None
        what = f"profiling {tenant}/{model}:{target.version}"
        doc = run_bounded(what, optimizing.profile, (self.blobs.read(target.digest), validation), self.timeout_s)
        doc["measured_at"] = self.clock.now().isoformat()
        profile = measured.Measured.from_dict(doc)  # checks the shape before it is stored
        with self.db.write() as conn:
            model_rows.set_profile(conn, tenant, model, target.version, profile.as_dict())
            stored = model_rows.get_version(conn, tenant, model, target.version)[1]
        return Profiled(stored, advice.advise(profile, demand, catalog or Catalog()))

    def _get(self, tenant: str, model: str, version: int | None) -> ModelVersion:
        with self.db.read() as conn:
            return model_rows.get_version(conn, tenant, model, version)[1]

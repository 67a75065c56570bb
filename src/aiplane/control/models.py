"""Model registry use-cases: register an ONNX artifact as the next immutable version."""

from __future__ import annotations

import builtins
from typing import Any

from aiplane.artifacts.blobs import BlobStore
from aiplane.domain import names
from aiplane.domain.clock import Clock
from aiplane.domain.errors import InvalidInput, NotFound
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.domain.registry import ModelVersion, Signature
from aiplane.runtime import onnx_model, samples
from aiplane.store import models as model_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.database import Database

SOURCE_FORMATS = ("onnx", "sklearn")


class ModelService:
    def __init__(self, db: Database, blobs: BlobStore, clock: Clock) -> None:
        self.db, self.blobs, self.clock = db, blobs, clock

    def register(self, who: Principal, tenant: str, model: str, artifact: bytes, source_format: str = "onnx",
                 validation: bytes | None = None, extra_metrics: dict[str, Any] | None = None) -> ModelVersion:
        authorize(who, Action.MODEL_REGISTER, tenant)
        names.check("model", model)
        if source_format not in SOURCE_FORMATS:
            raise InvalidInput(f"format {source_format!r} is unknown; use one of {', '.join(SOURCE_FORMATS)}.")
        with self.db.read() as conn:
            tenant_rows.get(conn, tenant)
        session = onnx_model.open_session(artifact)
        sig = onnx_model.signature(session)
        # What the registering client checked (e.g. the sklearn conversion) is kept apart from
        # what the platform measured itself.
        metrics: dict[str, Any] = {"client_checks": dict(extra_metrics)} if extra_metrics else {}
        validation_digest = None
        if validation is not None:
            metrics.update(_measure(session, sig, validation))
            validation_digest = self.blobs.put(validation)  # kept: quantizing compares against it later
        digest = self.blobs.put(artifact)
        draft = ModelVersion(tenant=tenant, model=model, version=0, digest=digest, size_bytes=len(artifact),
                             source_format=source_format, signature=sig, metrics=metrics, created_by=who.key_id,
                             validation_digest=validation_digest)
        with self.db.write() as conn:
            number = model_rows.add_version(conn, draft, self.clock.now())
            _, version = model_rows.get_version(conn, tenant, model, number)
        return version

    def list(self, who: Principal, tenant: str | None = None) -> list[ModelVersion]:
        scope = tenant if tenant is not None else who.tenant
        authorize(who, Action.MODEL_READ, scope)
        with self.db.read() as conn:
            if scope is not None:
                tenant_rows.get(conn, scope)
            return model_rows.list_versions(conn, scope)

    def get(self, who: Principal, tenant: str, model: str, version: int | None) -> ModelVersion:
        authorize(who, Action.MODEL_READ, tenant)
        with self.db.read() as conn:
            return model_rows.get_version(conn, tenant, model, version)[1]

    def versions(self, who: Principal, tenant: str, model: str) -> builtins.list[ModelVersion]:
        authorize(who, Action.MODEL_READ, tenant)
        with self.db.read() as conn:
            found = model_rows.list_versions(conn, tenant, model)
        if not found:
            raise NotFound(f"model {tenant}/{model} does not exist; see 'aiplane model list {tenant}'.")
        return found


def _measure(session: Any, sig: Signature, validation: bytes) -> dict[str, Any]:
    """Accuracy (or MAE) for a model taking X; for one with several named inputs (a tokenized
    text model), the arrays are checked against its inputs and counted."""
    arrays = onnx_model.load_arrays(validation, "the validation file")
    if "X" in arrays:
        return onnx_model.evaluate(session, arrays)
    return {"validation_samples": samples.rows(samples.for_model(sig, arrays, "the validation file"))}

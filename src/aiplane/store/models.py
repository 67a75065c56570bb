"""Registered models and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from aiplane.domain.errors import NotFound
from aiplane.domain.registry import ModelVersion, Signature
from aiplane.store.database import inserted_id
from aiplane.store.tables import model_versions, models

_JOINED = sa.select(
    model_versions, models.c.tenant, models.c.name.label("model")
).join(models, models.c.id == model_versions.c.model_id)


def to_version(row: sa.RowMapping) -> ModelVersion:
    return ModelVersion(
        tenant=row["tenant"],
        model=row["model"],
        version=row["version"],
        digest=row["digest"],
        size_bytes=row["size_bytes"],
        source_format=row["source_format"],
        signature=Signature.from_dict(row["signature"]),
        metrics=dict(row["metrics"] or {}),
        created_by=row["created_by"],
        created_at=row["created_at"],
        parent_version=row["parent_version"],
        validation_digest=row["validation_digest"],
        profile=dict(row["profile"]) if row["profile"] else None,
    )


def add_version(conn: sa.Connection, v: ModelVersion, created_at: datetime) -> int:
    """Insert the next version of `v.model` (created on first use); returns the version number."""
    model_id = conn.execute(
        sa.select(models.c.id).where(models.c.tenant == v.tenant, models.c.name == v.model)
    ).scalar_one_or_none()
    if model_id is None:
        model_id = inserted_id(conn.execute(
            models.insert().values(tenant=v.tenant, name=v.model, created_at=created_at)
        ))
    latest = conn.execute(
        sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.model_id == model_id)
    ).scalar_one_or_none()
    number = int(latest or 0) + 1
    conn.execute(
        model_versions.insert().values(
            model_id=model_id, version=number, digest=v.digest, size_bytes=v.size_bytes,
            source_format=v.source_format, signature=v.signature.as_dict(), metrics=dict(v.metrics),
            created_by=v.created_by, created_at=created_at, parent_version=v.parent_version,
            validation_digest=v.validation_digest, profile=dict(v.profile) if v.profile else None,
        )
    )
    return number


def set_profile(conn: sa.Connection, tenant: str, model: str, version: int, profile: dict[str, Any]) -> None:
    """A version's artifact is immutable; its profile is a measurement that may be taken again."""
    row_id, _ = get_version(conn, tenant, model, version)
    conn.execute(model_versions.update().where(model_versions.c.id == row_id).values(profile=profile))


def get_version(conn: sa.Connection, tenant: str, model: str, version: int | None) -> tuple[int, ModelVersion]:
    """(row id, version); version None means the latest."""
    query = _JOINED.where(models.c.tenant == tenant, models.c.name == model)
    if version is None:
        query = query.order_by(model_versions.c.version.desc()).limit(1)
    else:
        query = query.where(model_versions.c.version == version)
    row = conn.execute(query).mappings().first()
    if row is None:
        which = "any version" if version is None else f"version {version}"
        raise NotFound(f"model {tenant}/{model} has no {which}; see 'aiplane model list {tenant}'.")
    return int(row["id"]), to_version(row)


def version_by_id(conn: sa.Connection, row_id: int) -> ModelVersion:
    row = conn.execute(_JOINED.where(model_versions.c.id == row_id)).mappings().one()
    return to_version(row)


def list_versions(conn: sa.Connection, tenant: str | None = None, model: str | None = None) -> list[ModelVersion]:
    query = _JOINED.order_by(models.c.tenant, models.c.name, model_versions.c.version)
    if tenant is not None:
        query = query.where(models.c.tenant == tenant)
    if model is not None:
        query = query.where(models.c.name == model)
    return [to_version(r) for r in conn.execute(query).mappings()]

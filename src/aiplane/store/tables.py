"""Table definitions, the single source the queries use. Migrations create the same shape
(a test compares them)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


_tz = UTCDateTime()

tenants = sa.Table(
    "tenants", metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("cost_center", sa.String(128), nullable=True),
    sa.Column("compliance", sa.JSON, nullable=False),
    sa.Column("quota_cpus_milli", sa.BigInteger, nullable=True),
    sa.Column("quota_memory_bytes", sa.BigInteger, nullable=True),
    sa.Column("quota_gpus", sa.Integer, nullable=True),
    sa.Column("quota_mig", sa.JSON, nullable=False),
    sa.Column("quota_replicas", sa.Integer, nullable=True),
    sa.Column("rate_limit", sa.Float, nullable=True),
    sa.Column("created_at", _tz, nullable=False),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("tenant", sa.String(63), sa.ForeignKey("tenants.name", ondelete="CASCADE"), nullable=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", _tz, nullable=False),
    sa.Column("expires_at", _tz, nullable=True),
    sa.Column("revoked_at", _tz, nullable=True),
    sa.Column("created_by", sa.String(32), nullable=True),
    sa.Column("last_used_at", _tz, nullable=True),  # migration 0002_tenancy
    sa.Column("rate_limit", sa.Float, nullable=True),  # migration 0002_tenancy
)

models = sa.Table(
    "models", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), sa.ForeignKey("tenants.name", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("created_at", _tz, nullable=False),
    sa.UniqueConstraint("tenant", "name", name="uq_models_tenant_name"),
)

model_versions = sa.Table(
    "model_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("source_format", sa.String(16), nullable=False),
    sa.Column("signature", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(32), nullable=True),
    sa.Column("created_at", _tz, nullable=False),
    # migration 0004_model_lineage: the version of the same model this one was derived from
    # (quantized from), the validation .npz kept for later measurements, the measured profile.
    sa.Column("parent_version", sa.Integer, nullable=True),
    sa.Column("validation_digest", sa.String(64), nullable=True),
    sa.Column("profile", sa.JSON, nullable=True),
    sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
)

deployments = sa.Table(
    "deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), sa.ForeignKey("tenants.name", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("device", sa.String(32), nullable=False),
    sa.Column("cpus_milli", sa.BigInteger, nullable=False),
    sa.Column("memory_bytes", sa.BigInteger, nullable=False),
    sa.Column("min_replicas", sa.Integer, nullable=False),
    sa.Column("max_replicas", sa.Integer, nullable=False),
    sa.Column("replicas", sa.Integer, nullable=False),
    sa.Column("target_concurrency", sa.Integer, nullable=False),
    sa.Column("max_batch_size", sa.Integer, nullable=False),
    sa.Column("max_batch_delay_ms", sa.Float, nullable=False),
    sa.Column("payload_logging", sa.Boolean, nullable=False),
    sa.Column("allow_non_finite", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_by", sa.String(32), nullable=True),
    sa.Column("created_at", _tz, nullable=False),
    # The canary (migration 0003_rollouts): none while canary_model_version_id is NULL.
    sa.Column("canary_model_version_id", sa.Integer,
              sa.ForeignKey("model_versions.id", name="fk_deployments_canary_model_version"), nullable=True),
    sa.Column("canary_percent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("canary_replicas", sa.Integer, nullable=False, server_default="0"),
    sa.Column("canary_auto_rollback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("rollout_note", sa.String(500), nullable=True),
    sa.UniqueConstraint("tenant", "name", name="uq_deployments_tenant_name"),
)

# Where each GPU replica runs (migration 0007_gpu_allocations): written in the transaction that
# admits it, removed with its replica or deployment. `start` is the MIG instance's first memory
# slice (NULL for a whole GPU); `started_at` lets chargeback meter each allocation.
gpu_allocations = sa.Table(
    "gpu_allocations", metadata,
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True,
              autoincrement=False),
    sa.Column("replica", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tenant", sa.String(63), nullable=False, index=True),
    sa.Column("node", sa.String(63), nullable=False),
    sa.Column("gpu_index", sa.Integer, nullable=False),
    sa.Column("gpu_model", sa.String(32), nullable=False),
    sa.Column("profile", sa.String(32), nullable=False),
    sa.Column("start", sa.Integer, nullable=True),
    sa.Column("simulated", sa.Boolean, nullable=False),
    sa.Column("started_at", _tz, nullable=False),
)

# One row whose value grows on every change to keys, tenants or deployments, so that every
# process holding a cache of them notices a change made by another within one poll.
state_generation = sa.Table(
    "state_generation", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# The replicas that are ready to serve, one row each, written by the process that supervises
# them (migration 0002_replica_endpoints), so gateway workers in other processes route to
# exactly those; a change bumps the state generation.
replica_endpoints = sa.Table(
    "replica_endpoints", metadata,
    sa.Column("deployment_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("socket", sa.String(255), primary_key=True),
)

# Who a person signed in through SSO is: a token whose `claim` holds `value` gets `role` in
# `tenant` (NULL: a platform role). Managed by platform-admins (migration 0005_sso_mappings);
# a change bumps the state generation, so every gateway process sees it within a poll.
sso_mappings = sa.Table(
    "sso_mappings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("claim", sa.String(64), nullable=False),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Column("tenant", sa.String(63), nullable=True, index=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", _tz, nullable=False),
    sa.Column("created_by", sa.String(32), nullable=True),
    sa.UniqueConstraint("claim", "value", "tenant", "role", name="uq_sso_mappings"),
)

# The audit log (append-only): one row per entry, `seq` is its leaf position in the Merkle
# tree. `entry` holds the exact bytes that were hashed; retention may set it (and `payload`)
# to NULL while `leaf_hash` stays, so the tree and the chain remain verifiable.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("audit_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(63), nullable=True, index=True),
    sa.Column("actor", sa.String(32), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("deployment", sa.String(63), nullable=True),
    sa.Column("created_at", _tz, nullable=False, index=True),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("entry", sa.LargeBinary, nullable=True),
    sa.Column("payload", sa.LargeBinary, nullable=True),
    sa.Column("payload_key", sa.Integer, nullable=True),
)

# One row: the tree's size, the hash of its last entry and its compact frontier. Writers lock
# it for the length of their batch, so positions are assigned once across processes.
audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("last_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("frontier", sa.LargeBinary, nullable=False),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", _tz, nullable=False),
)

# Per-tenant data keys for payload logging, stored wrapped under the master key; erasing a
# tenant's payloads deletes `wrapped` (crypto-shredding) and keeps the row as a record.
audit_data_keys = sa.Table(
    "audit_data_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), nullable=False, index=True),
    sa.Column("wrapped", sa.LargeBinary, nullable=True),
    sa.Column("created_at", _tz, nullable=False),
    sa.Column("destroyed_at", _tz, nullable=True),
)

# Per-tenant retention of audit metadata (days); tenants without a row use the default.
audit_retention = sa.Table(
    "audit_retention", metadata,
    sa.Column("tenant", sa.String(63), primary_key=True),
    sa.Column("days", sa.Integer, nullable=False),
)

"""Initial schema: tenants, keys, models, versions, deployments, state generation.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_tz = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
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
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(63), sa.ForeignKey("tenants.name", ondelete="CASCADE"), nullable=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", _tz, nullable=False),
        sa.Column("expires_at", _tz, nullable=True),
        sa.Column("revoked_at", _tz, nullable=True),
        sa.Column("created_by", sa.String(32), nullable=True),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), sa.ForeignKey("tenants.name", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("created_at", _tz, nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_models_tenant_name"),
    )
    op.create_table(
        "model_versions",
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
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )
    op.create_table(
        "deployments",
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
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _tz, nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_deployments_tenant_name"),
    )
    op.create_table(
        "state_generation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO state_generation (id, value) VALUES (1, 0)")


def downgrade() -> None:
    for table in ("state_generation", "deployments", "model_versions", "models", "api_keys", "tenants"):
        op.drop_table(table)

"""Rollouts: a deployment's canary (version, share of traffic, replicas, automatic rollback) and
why its last canary ended.

Revision ID: 0003_rollouts
Revises: 0002_audit, 0002_replica_endpoints, 0002_tenancy
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_rollouts"
down_revision = ("0002_audit", "0002_replica_endpoints", "0002_tenancy")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("canary_model_version_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("canary_percent", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("canary_replicas", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("canary_auto_rollback", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("rollout_note", sa.String(500), nullable=True))
        batch.create_foreign_key("fk_deployments_canary_model_version", "model_versions",
                                 ["canary_model_version_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_constraint("fk_deployments_canary_model_version", type_="foreignkey")
        for column in ("rollout_note", "canary_auto_rollback", "canary_replicas", "canary_percent",
                       "canary_model_version_id"):
            batch.drop_column(column)

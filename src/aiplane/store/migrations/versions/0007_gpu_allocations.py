"""GPU allocations: where each GPU replica runs (node, GPU, MIG profile, start), for placement and chargeback.

Revision ID: 0007_gpu_allocations
Revises: 0006_allow_non_finite
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_gpu_allocations"
down_revision = "0006_allow_non_finite"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gpu_allocations",
        sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("replica", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("node", sa.String(63), nullable=False),
        sa.Column("gpu_index", sa.Integer, nullable=False),
        sa.Column("gpu_model", sa.String(32), nullable=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("start", sa.Integer, nullable=True),
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_gpu_allocations_tenant", "gpu_allocations", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_gpu_allocations_tenant", "gpu_allocations")
    op.drop_table("gpu_allocations")

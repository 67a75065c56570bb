"""Deployments: whether NaN and infinite input values are accepted (refused by default).

Revision ID: 0006_allow_non_finite
Revises: 0005_sso_mappings
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_allow_non_finite"
down_revision = "0005_sso_mappings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("allow_non_finite", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("allow_non_finite")

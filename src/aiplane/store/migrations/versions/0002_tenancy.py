"""Tenancy: keys remember when they were last used and may carry their own rate limit.

Revision ID: 0002_tenancy
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_tenancy"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rate_limit", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_limit")
        batch.drop_column("last_used_at")

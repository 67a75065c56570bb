"""Replica endpoints: the ready replicas' sockets, for gateway workers in other processes.

Revision ID: 0002_replica_endpoints
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_replica_endpoints"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_endpoints",
        sa.Column("deployment_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("socket", sa.String(255), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("replica_endpoints")

"""SSO: the table mapping identity-provider claims to (tenant, role).

Revision ID: 0005_sso_mappings
Revises: 0004_model_lineage
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_sso_mappings"
down_revision = "0004_model_lineage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_mappings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("claim", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=True, index=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.UniqueConstraint("claim", "value", "tenant", "role", name="uq_sso_mappings"),
    )


def downgrade() -> None:
    op.drop_table("sso_mappings")

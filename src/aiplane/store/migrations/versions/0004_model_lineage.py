"""Model lineage: a version may name the version it was derived from (e.g. quantized from),
keep its validation data for later measurements, and carry a measured latency profile.

Revision ID: 0004_model_lineage
Revises: 0003_rollouts
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_model_lineage"
down_revision = "0003_rollouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("parent_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("validation_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("profile", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("profile")
        batch.drop_column("validation_digest")
        batch.drop_column("parent_version")

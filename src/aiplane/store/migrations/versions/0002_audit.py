"""Audit log: entries, head, signed checkpoints, tenant data keys, retention.

Revision ID: 0002_audit
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001"
branch_labels = None
depends_on = None

_tz = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("audit_id", sa.String(36), nullable=False, unique=True),
        sa.Column("tenant", sa.String(63), nullable=True),
        sa.Column("actor", sa.String(32), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("deployment", sa.String(63), nullable=True),
        sa.Column("created_at", _tz, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry", sa.LargeBinary, nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=True),
        sa.Column("payload_key", sa.Integer, nullable=True),
    )
    op.create_index("ix_audit_log_tenant", "audit_log", ["tenant"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.LargeBinary, nullable=False),
    )
    op.get_bind().execute(sa.text("INSERT INTO audit_head (id, size, last_hash, frontier) VALUES (1, 0, :z, :e)"),
                          {"z": b"\x00" * 32, "e": b""})
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", _tz, nullable=False),
    )
    op.create_table(
        "audit_data_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=True),
        sa.Column("created_at", _tz, nullable=False),
        sa.Column("destroyed_at", _tz, nullable=True),
    )
    op.create_index("ix_audit_data_keys_tenant", "audit_data_keys", ["tenant"])
    op.create_table(
        "audit_retention",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("days", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_retention", "audit_data_keys", "audit_checkpoints", "audit_head", "audit_log"):
        op.drop_table(table)

"""matching: banks, bank content, bank signals and the signal change feed.

Revision ID: matching_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "matching_0001"
down_revision = None
branch_labels = ("matching",)
depends_on = "core_0001"

_BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("matching_enabled_ratio", sa.Float, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_banks"),
        sa.UniqueConstraint("name", name="uq_banks_name"),
    )
    op.create_table(
        "bank_content",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("external_id", sa.String(500), nullable=True),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bank_content"),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name="fk_bank_content_bank_id_banks", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_bank_content_bank_id", "bank_content", ["bank_id"])
    op.create_index("ix_bank_content_external", "bank_content", ["bank_id", "external_id"])
    op.create_table(
        "bank_signals",
        sa.Column("id", _BIGID, autoincrement=True),
        sa.Column("content_id", sa.Integer, nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("quality", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bank_signals"),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["bank_content.id"],
            name="fk_bank_signals_content_id_bank_content",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_bank_signals_content_id", "bank_signals", ["content_id"])
    op.create_index("ix_bank_signals_type_value", "bank_signals", ["signal_type", "value"])
    op.create_table(
        "signal_changes",
        sa.Column("seq", _BIGID, autoincrement=True),
        sa.Column("signal_id", sa.BigInteger, nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("content_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_signal_changes"),
    )


def downgrade() -> None:
    op.drop_table("signal_changes")
    op.drop_table("bank_signals")
    op.drop_table("bank_content")
    op.drop_table("banks")

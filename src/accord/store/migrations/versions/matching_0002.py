"""matching: drop the index on (signal_type, value) of bank_signals.

No query looks signals up by value (the matcher holds them in memory and follows
the change feed), so the index only cost time on every insert, and on PostgreSQL
its b-tree refused any value longer than a few kilobytes: the vPDQ of a video
longer than about two minutes could not be banked.

Revision ID: matching_0002
Revises: matching_0001
"""

from __future__ import annotations

from alembic import op

revision = "matching_0002"
down_revision = "matching_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_bank_signals_type_value", table_name="bank_signals")


def downgrade() -> None:
    op.create_index("ix_bank_signals_type_value", "bank_signals", ["signal_type", "value"])

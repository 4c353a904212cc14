"""matching: an index of the signals that are not PDQ, by id.

A matcher that starts from its PDQ snapshot still reads every other signal from
the database. Without an index that read walked every row of ``bank_signals``: 2.3 s
at 10M PDQ hashes on SQLite, idle, and 7 s a worker when two start at once. A
partial index holds only the rows it needs, and costs a PDQ insert nothing but
the test of its condition.

Revision ID: matching_0003
Revises: matching_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "matching_0003"
down_revision = "matching_0002"
branch_labels = None
depends_on = None

_NOT_PDQ = sa.text("signal_type != 'pdq'")


def upgrade() -> None:
    op.create_index(
        "ix_bank_signals_not_pdq",
        "bank_signals",
        ["id"],
        sqlite_where=_NOT_PDQ,
        postgresql_where=_NOT_PDQ,
    )


def downgrade() -> None:
    op.drop_index("ix_bank_signals_not_pdq", table_name="bank_signals")

"""exchange: peers followed and their checkpoints.

Revision ID: exchange_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "exchange_0001"
down_revision = None
branch_labels = ("exchange",)
depends_on = "matching_0001"


def upgrade() -> None:
    op.create_table(
        "exchange_peers",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("remote_bank", sa.String(100), nullable=False),
        sa.Column("local_bank", sa.String(100), nullable=False),
        sa.Column("checkpoint", sa.BigInteger, nullable=False),
        sa.Column("last_pull_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_peers"),
        sa.UniqueConstraint("url", "remote_bank", "local_bank", name="uq_exchange_peers_url"),
    )


def downgrade() -> None:
    op.drop_table("exchange_peers")

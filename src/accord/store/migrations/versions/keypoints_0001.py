"""keypoints: local features of images banked from their media (a side signal, never exported).

Revision ID: keypoints_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "keypoints_0001"
down_revision = None
branch_labels = ("keypoints",)
depends_on = ("core_0001", "matching_0001")


def upgrade() -> None:
    op.create_table(
        "bank_keypoints",
        sa.Column("content_id", sa.Integer, autoincrement=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("content_id", name="pk_bank_keypoints"),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["bank_content.id"],
            name="fk_bank_keypoints_content_id_bank_content",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("bank_keypoints")

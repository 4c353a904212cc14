"""rights: the consent and objection registry, and gate manifests.

Revision ID: rights_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rights_0001"
down_revision = None
branch_labels = ("rights",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("raw", sa.Text, nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_requests"),
        sa.UniqueConstraint("request_id", name="uq_rights_requests_request_id"),
    )
    op.create_index("ix_rights_requests_subject", "rights_requests", ["subject"])
    op.create_table(
        "rights_effects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_effects"),
    )
    op.create_index(
        "ix_rights_effects_subject_recorded_at", "rights_effects", ["subject", "recorded_at"]
    )
    op.create_index(
        "ix_rights_effects_purpose_recorded_at", "rights_effects", ["purpose", "recorded_at"]
    )
    op.create_table(
        "rights_manifests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("manifest_id", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("as_of", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("out_dir", sa.Text, nullable=False),
        sa.Column("registry_seq", sa.BigInteger, nullable=False),
        sa.Column("input_count", sa.BigInteger, nullable=False),
        sa.Column("output_count", sa.BigInteger, nullable=False),
        sa.Column("merkle_root", sa.String(64), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_manifests"),
        sa.UniqueConstraint("manifest_id", name="uq_rights_manifests_manifest_id"),
    )


def downgrade() -> None:
    op.drop_table("rights_manifests")
    op.drop_index("ix_rights_effects_purpose_recorded_at", "rights_effects")
    op.drop_index("ix_rights_effects_subject_recorded_at", "rights_effects")
    op.drop_table("rights_effects")
    op.drop_index("ix_rights_requests_subject", "rights_requests")
    op.drop_table("rights_requests")

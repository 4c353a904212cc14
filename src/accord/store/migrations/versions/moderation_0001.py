"""moderation: cases, reports, decisions, strikes, restrictions, appeals, webhooks, DSA, redirects.

Revision ID: moderation_0001
Revises:
Depends on: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "moderation_0001"
down_revision = None
branch_labels = ("moderation",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "moderation_cases",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(500), nullable=False),
        sa.Column("open_key", sa.String(520), nullable=True),
        sa.Column("account", sa.String(200), nullable=True),
        sa.Column("content_type", sa.String(32), nullable=True),
        sa.Column("content_date", sa.String(32), nullable=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("reporters", sa.Integer, nullable=False),
        sa.Column("reporter_weight", sa.Float, nullable=False),
        sa.Column("automated", sa.Boolean, nullable=False),
        sa.Column("reach", sa.Integer, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("lease_holder", sa.String(64), nullable=True),
        sa.Column("lease_expires", sa.String(32), nullable=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("content_state", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_cases"),
        sa.UniqueConstraint("open_key", name="uq_moderation_cases_open_key"),
    )
    op.create_index(
        "ix_moderation_cases_queue_state_due", "moderation_cases", ["queue", "state", "due_at"]
    )
    op.create_index(
        "ix_moderation_cases_subject", "moderation_cases", ["subject_type", "subject_id"]
    )
    op.create_table(
        "moderation_reports",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("reporter", sa.String(200), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["moderation_cases.id"],
            name="fk_moderation_reports_case_id_moderation_cases",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_reports"),
    )
    op.create_index("ix_moderation_reports_case", "moderation_reports", ["case_id"])
    op.create_index(
        "ix_moderation_reports_reporter_created", "moderation_reports", ["reporter", "created_at"]
    )
    op.create_table(
        "moderation_decisions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=True),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("automated_detection", sa.Boolean, nullable=False),
        sa.Column("automated_decision", sa.String(40), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("account", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("reversed", sa.Boolean, nullable=False),
        sa.Column("reversed_at", sa.String(32), nullable=True),
        sa.Column("statement", sa.JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["moderation_cases.id"],
            name="fk_moderation_decisions_case_id_moderation_cases",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_decisions"),
    )
    op.create_index("ix_moderation_decisions_case", "moderation_decisions", ["case_id"])
    op.create_table(
        "moderation_strikes",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("decision_id", sa.Integer, nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("reversed", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["moderation_decisions.id"],
            name="fk_moderation_strikes_decision_id_moderation_decisions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_strikes"),
    )
    op.create_index("ix_moderation_strikes_account", "moderation_strikes", ["account"])
    op.create_table(
        "moderation_restrictions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("feature", sa.String(64), nullable=True),
        sa.Column("ladder", sa.String(64), nullable=True),
        sa.Column("starts_at", sa.String(32), nullable=False),
        sa.Column("ends_at", sa.String(32), nullable=True),
        sa.Column("decision_id", sa.Integer, nullable=False),
        sa.Column("lifted", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["moderation_decisions.id"],
            name="fk_moderation_restrictions_decision_id_moderation_decisions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_restrictions"),
    )
    op.create_index("ix_moderation_restrictions_account", "moderation_restrictions", ["account"])
    op.create_table(
        "moderation_appeals",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("decision_id", sa.Integer, nullable=False),
        sa.Column("appellant", sa.String(200), nullable=False),
        sa.Column("appellant_kind", sa.String(16), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pending_key", sa.Integer, nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("outcome_reason", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["moderation_decisions.id"],
            name="fk_moderation_appeals_decision_id_moderation_decisions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_appeals"),
        sa.UniqueConstraint("pending_key", name="uq_moderation_appeals_pending_key"),
    )
    op.create_index("ix_moderation_appeals_decision", "moderation_appeals", ["decision_id"])
    op.create_table(
        "moderation_webhook_deliveries",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("delivered_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_webhook_deliveries"),
    )
    op.create_index(
        "ix_moderation_webhook_deliveries_state_next",
        "moderation_webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_table(
        "moderation_webhook_attempts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("delivery_id", sa.Integer, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["moderation_webhook_deliveries.id"],
            name="fk_moderation_webhook_attempts_delivery",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_webhook_attempts"),
    )
    op.create_index(
        "ix_moderation_webhook_attempts_delivery", "moderation_webhook_attempts", ["delivery_id"]
    )
    op.create_table(
        "moderation_dsa_submissions",
        sa.Column("puid", sa.String(500), nullable=False),
        sa.Column("decision_id", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.String(32), nullable=False),
        sa.Column("uuid", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["moderation_decisions.id"],
            name="fk_moderation_dsa_submissions_decision_id_moderation_decisions",
        ),
        sa.PrimaryKeyConstraint("puid", name="pk_moderation_dsa_submissions"),
    )
    op.create_table(
        "moderation_redirect_tallies",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("hour", sa.String(32), nullable=False),
        sa.Column("list_id", sa.String(64), nullable=False),
        sa.Column("shown", sa.Integer, nullable=False),
        sa.Column("logged", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_redirect_tallies"),
    )
    op.create_index(
        "ix_moderation_redirect_tallies_hour_list",
        "moderation_redirect_tallies",
        ["hour", "list_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_moderation_redirect_tallies_hour_list", "moderation_redirect_tallies")
    op.drop_table("moderation_redirect_tallies")
    op.drop_table("moderation_dsa_submissions")
    op.drop_index("ix_moderation_webhook_attempts_delivery", "moderation_webhook_attempts")
    op.drop_table("moderation_webhook_attempts")
    op.drop_index("ix_moderation_webhook_deliveries_state_next", "moderation_webhook_deliveries")
    op.drop_table("moderation_webhook_deliveries")
    op.drop_index("ix_moderation_appeals_decision", "moderation_appeals")
    op.drop_table("moderation_appeals")
    op.drop_index("ix_moderation_restrictions_account", "moderation_restrictions")
    op.drop_table("moderation_restrictions")
    op.drop_index("ix_moderation_strikes_account", "moderation_strikes")
    op.drop_table("moderation_strikes")
    op.drop_index("ix_moderation_decisions_case", "moderation_decisions")
    op.drop_table("moderation_decisions")
    op.drop_index("ix_moderation_reports_case", "moderation_reports")
    op.drop_index("ix_moderation_reports_reporter_created", "moderation_reports")
    op.drop_table("moderation_reports")
    op.drop_index("ix_moderation_cases_queue_state_due", "moderation_cases")
    op.drop_index("ix_moderation_cases_subject", "moderation_cases")
    op.drop_table("moderation_cases")

"""Moderation tables: cases, reports, decisions, strikes, restrictions, appeals,
webhook deliveries, DSA submissions and redirect tallies.

They are views that make the moderation loop fast; the ledger holds the record.
Times are RFC 3339 strings (``accord.clock.format_time``), sortable as text;
``due_at`` is epoch seconds so that the next-case query is one index range scan
over ``(queue, state, due_at)``. ``open_key`` is the subject's key while its case
is open and NULL afterwards: a unique constraint on it makes "one open case per
subject" hold under concurrent reports on every database (NULLs do not collide).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from accord.store.base import metadata

__all__ = [
    "appeals",
    "cases",
    "decisions",
    "dsa_submissions",
    "redirect_tallies",
    "reports",
    "restrictions",
    "strikes",
    "webhook_attempts",
    "webhook_deliveries",
]

cases = Table(
    "moderation_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(500), nullable=False),
    Column("open_key", String(520), nullable=True, unique=True),
    Column("account", String(200), nullable=True),
    Column("content_type", String(32), nullable=True),
    Column("content_date", String(32), nullable=True),
    Column("queue", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("reporters", Integer, nullable=False),
    Column("reporter_weight", Float, nullable=False),
    Column("automated", Boolean, nullable=False),
    Column("reach", Integer, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("lease_holder", String(64), nullable=True),
    Column("lease_expires", String(32), nullable=True),
    Column("labels", JSON, nullable=False),
    Column("content_state", String(32), nullable=False),
    Column("closed_at", String(32), nullable=True),
)
Index("ix_moderation_cases_queue_state_due", cases.c.queue, cases.c.state, cases.c.due_at)
Index("ix_moderation_cases_subject", cases.c.subject_type, cases.c.subject_id)

reports = Table(
    "moderation_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("moderation_cases.id"), nullable=False),
    Column("reporter", String(200), nullable=True),
    Column("source", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("text", Text, nullable=True),
    Column("labels", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)
Index("ix_moderation_reports_case", reports.c.case_id)
Index("ix_moderation_reports_reporter_created", reports.c.reporter, reports.c.created_at)

decisions = Table(
    "moderation_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("moderation_cases.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("policy_id", String(100), nullable=True),
    Column("facts", Text, nullable=False),
    Column("automated_detection", Boolean, nullable=False),
    Column("automated_decision", String(40), nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("account", String(200), nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("reversed", Boolean, nullable=False),
    Column("reversed_at", String(32), nullable=True),
    Column("statement", JSON, nullable=True),
)
Index("ix_moderation_decisions_case", decisions.c.case_id)

strikes = Table(
    "moderation_strikes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(200), nullable=False),
    Column("decision_id", Integer, ForeignKey("moderation_decisions.id"), nullable=False),
    Column("policy_id", String(100), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("reversed", Boolean, nullable=False),
)
Index("ix_moderation_strikes_account", strikes.c.account)

restrictions = Table(
    "moderation_restrictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("feature", String(64), nullable=True),
    Column("ladder", String(64), nullable=True),
    Column("starts_at", String(32), nullable=False),
    Column("ends_at", String(32), nullable=True),
    Column("decision_id", Integer, ForeignKey("moderation_decisions.id"), nullable=False),
    Column("lifted", Boolean, nullable=False),
)
Index("ix_moderation_restrictions_account", restrictions.c.account)

appeals = Table(
    "moderation_appeals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("moderation_decisions.id"), nullable=False),
    Column("appellant", String(200), nullable=False),
    Column("appellant_kind", String(16), nullable=False),
    Column("statement", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("pending_key", Integer, nullable=True, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", String(32), nullable=True),
    Column("outcome_reason", Text, nullable=True),
)
Index("ix_moderation_appeals_decision", appeals.c.decision_id)

webhook_deliveries = Table(
    "moderation_webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("event", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("delivered_at", String(32), nullable=True),
)
Index(
    "ix_moderation_webhook_deliveries_state_next",
    webhook_deliveries.c.state,
    webhook_deliveries.c.next_attempt_at,
)

webhook_attempts = Table(
    "moderation_webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Integer,
        # named by hand: the conventional name is longer than PostgreSQL's 63 characters
        ForeignKey(
            "moderation_webhook_deliveries.id", name="fk_moderation_webhook_attempts_delivery"
        ),
        nullable=False,
    ),
    Column("at", String(32), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("duration_ms", Float, nullable=False),
)
Index("ix_moderation_webhook_attempts_delivery", webhook_attempts.c.delivery_id)

dsa_submissions = Table(
    "moderation_dsa_submissions",
    metadata,
    Column("puid", String(500), primary_key=True),
    Column("decision_id", Integer, ForeignKey("moderation_decisions.id"), nullable=False),
    Column("submitted_at", String(32), nullable=False),
    Column("uuid", String(64), nullable=True),
)

redirect_tallies = Table(
    "moderation_redirect_tallies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hour", String(32), nullable=False),
    Column("list_id", String(64), nullable=False),
    Column("shown", Integer, nullable=False),
    Column("logged", Boolean, nullable=False),
)
Index(
    "ix_moderation_redirect_tallies_hour_list",
    redirect_tallies.c.hour,
    redirect_tallies.c.list_id,
    unique=True,
)

"""Banks, their content and signals, and the change feed that matchers follow.

``bank_signals.id`` is the id a signal has in every in-memory index.
``bank_keypoints`` holds, beside an item banked from its media, the local
features of the image (packed bytes, :mod:`accord.matching.keypoints`): a side
signal that is never exported or exchanged. It has no feed of its own: it
follows the item's PDQ signal in ``signal_changes``.
``signal_changes`` is an append-only feed (``seq`` increasing): every add,
remove, enable or disable of a signal appends a row, so that each matcher
process applies only what changed since the last ``seq`` it saw.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)

from accord.store.base import metadata

__all__ = ["bank_content", "bank_keypoints", "bank_signals", "banks", "signal_changes"]

banks = Table(
    "banks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("matching_enabled_ratio", Float, nullable=False),
    Column("description", Text, nullable=False),
    Column("thresholds", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

bank_content = Table(
    "bank_content",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bank_id", Integer, ForeignKey("banks.id", ondelete="CASCADE"), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("source", String(500), nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("added_at", String(32), nullable=False),
    Column("note", Text, nullable=True),
    Column("external_id", String(500), nullable=True),
    Column("meta", JSON, nullable=False),
)
Index("ix_bank_content_bank_id", bank_content.c.bank_id)
Index("ix_bank_content_external", bank_content.c.bank_id, bank_content.c.external_id)

bank_signals = Table(
    "bank_signals",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "content_id", Integer, ForeignKey("bank_content.id", ondelete="CASCADE"), nullable=False
    ),
    Column("bank_id", Integer, nullable=False),
    Column("signal_type", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("quality", Integer, nullable=True),
)
Index("ix_bank_signals_content_id", bank_signals.c.content_id)
NOT_PDQ = text("signal_type != 'pdq'")
"""The signals a matcher reads from the database when its PDQ index came from a snapshot."""
Index(
    "ix_bank_signals_not_pdq",
    bank_signals.c.id,
    sqlite_where=NOT_PDQ,
    postgresql_where=NOT_PDQ,
)

signal_changes = Table(
    "signal_changes",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("signal_id", BigInteger, nullable=False),
    Column("op", String(8), nullable=False),
    Column("signal_type", String(32), nullable=False),
    Column("value", Text, nullable=True),
    Column("bank_id", Integer, nullable=False),
    Column("content_id", Integer, nullable=False),
)

bank_keypoints = Table(
    "bank_keypoints",
    metadata,
    Column(
        "content_id",
        Integer,
        ForeignKey("bank_content.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("bank_id", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

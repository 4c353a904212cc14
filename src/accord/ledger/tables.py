"""The ledger's append-only table: one row per event, in sequence order.

``seq`` is the leaf index of the event in the Merkle log (0-based, no gaps);
``body`` is the event's canonical JSON, the exact bytes of the leaf;
``leaf_hash`` is ``SHA-256(0x00 || body)`` (RFC 9162), kept so that the tree
can be extended without re-reading bodies.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, Table

from accord.store.base import metadata

__all__ = ["ledger_events"]

ledger_events = Table(
    "ledger_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("time", String(32), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)
Index("ix_ledger_events_kind_time", ledger_events.c.kind, ledger_events.c.time)

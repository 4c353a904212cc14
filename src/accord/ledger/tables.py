"""The ledger's append-only table: one row per event, in sequence order.

``seq`` is the leaf index of the event in the Merkle log (0-based, no gaps);
``body`` is the event's canonical JSON, the exact bytes of the leaf;
``leaf_hash`` is ``SHA-256(0x00 || body)`` (RFC 9162), kept so that the tree
can be extended without re-reading bodies.

The tree's stored interior nodes, its size, the signed checkpoints and the
witnesses' cosignatures follow (migration ``ledger_0001``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from accord.store.base import metadata

__all__ = [
    "ledger_checkpoints",
    "ledger_cosignatures",
    "ledger_events",
    "ledger_nodes",
    "ledger_tree",
]

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

# --- the Merkle tree and its checkpoints (migration branch "ledger") -----------------------

# Complete (perfect) subtrees of 16 leaves or more: the hash of leaves
# [idx << level, (idx + 1) << level), keyed by node = idx * 64 + level (one
# integer key, so that a proof's nodes are one indexed ``IN`` lookup on both
# databases). Written once, when their last leaf is appended, and never
# changed; level 0 is ledger_events.leaf_hash.
ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("node", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# One row (id 1): how many leaves the stored nodes cover (equal to the number
# of events after every commit; the append hook checks it and catches up if
# not) and the frontier: the 32-byte roots of the perfect subtrees covering
# [0, size), widest first, concatenated, so that an append reads one row.
ledger_tree = Table(
    "ledger_tree",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

# Signed checkpoints (C2SP signed notes), one per tree size.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("issued_at", String(32), nullable=False),
)

# Witness cosignatures: signature lines over a stored checkpoint's body.
ledger_cosignatures = Table(
    "ledger_cosignatures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("size", "name", "key_id", name="uq_ledger_cosignatures_size"),
)

"""The ledger: appends events, as canonical JSON leaves, to the append-only log.

Every state change that a user, an auditor or a regulator may ask about is
appended here *inside the transaction that makes the change*, so the change
and its event commit together or not at all:

    with db.write() as conn:
        conn.execute(insert(banks).values(...))
        ledger.append(conn, "bank.created", {"bank": "TEST_BANK"}, actor=key.actor)

Appends are serialised: on SQLite by the database's single writer, on
PostgreSQL by a transaction-scoped advisory lock, so sequence numbers have no
gaps and no duplicates whatever the number of processes. Extensions (the
Merkle tree's interior nodes, :mod:`accord.ledger.tree`, registered first by
the constructor) register an ``on_append`` hook that runs in the same
transaction with the new leaf hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, text

from accord.clock import Clock, format_time
from accord.errors import InvalidInput
from accord.ledger.canonical import canonical_event, parse_canonical
from accord.ledger.kinds import KINDS
from accord.ledger.pseudonym import Pseudonymizer
from accord.ledger.tables import ledger_events
from accord.ledger.tree import StoredTree
from accord.store.bulk import insert_rows
from accord.store.engine import Database

__all__ = ["AppendHook", "Event", "Ledger", "leaf_hash"]

# An arbitrary, fixed 63-bit number naming the ledger's advisory lock in PostgreSQL.
_PG_LOCK_ID = 0x61636F7264_01

AppendHook = Callable[[Connection, int, Sequence[bytes]], None]


_sha = hashlib.sha256


def leaf_hash(body: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 || leaf)``."""
    return _sha(b"\x00" + body).digest()


@dataclass(frozen=True, slots=True)
class Event:
    """One appended event: its leaf index, kind, time and exact leaf bytes."""

    seq: int
    kind: str
    time: str
    body: bytes

    @property
    def data(self) -> dict[str, Any]:
        """The event's JSON object (``seq``, ``time``, ``kind``, ``actor``, ``data``)."""
        return parse_canonical(self.body)

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.body)


class Ledger:
    """Append-only log of canonical-JSON events."""

    def __init__(self, db: Database, clock: Clock, pseudonymize: Pseudonymizer) -> None:
        self.db = db
        self.clock = clock
        self.pseudonymize = pseudonymize
        self.tree = StoredTree()
        self._hooks: list[AppendHook] = [self.tree.extend]

    def on_append(self, hook: AppendHook) -> None:
        """Run ``hook(conn, first_seq, leaf_hashes)`` in the transaction of every append."""
        self._hooks.append(hook)

    def append(
        self,
        conn: Connection,
        kind: str,
        data: Mapping[str, Any],
        *,
        actor: str | None = None,
    ) -> Event:
        """Append one event in the caller's write transaction."""
        return self.append_many(conn, [(kind, data, actor)])[0]

    def append_many(
        self,
        conn: Connection,
        items: Iterable[tuple[str, Mapping[str, Any], str | None]],
    ) -> list[Event]:
        """Append events in order, in the caller's write transaction."""
        pending = list(items)
        if not pending:
            return []
        for kind, _, _ in pending:
            if kind not in KINDS:
                raise InvalidInput(f"unknown ledger event kind {kind!r}", kind=kind)
        self.lock(conn)
        start = self._next_seq(conn)
        when = format_time(self.clock.now())
        events: list[Event] = []
        rows: list[dict[str, Any]] = []
        for offset, (kind, data, actor) in enumerate(pending):
            seq = start + offset
            body = canonical_event(seq, when, kind, actor, data)
            events.append(Event(seq=seq, kind=kind, time=when, body=body))
            rows.append(
                {
                    "seq": seq,
                    "kind": kind,
                    "time": when,
                    "body": body,
                    "leaf_hash": _sha(b"\x00" + body).digest(),
                }
            )
        insert_rows(conn, ledger_events, rows)
        hashes = [row["leaf_hash"] for row in rows]
        for hook in self._hooks:
            hook(conn, start, hashes)
        return events

    @staticmethod
    def lock(conn: Connection) -> None:
        """Serialise this write transaction with every ledger append, in every process.

        PostgreSQL: a transaction-scoped advisory lock (released at commit), so
        rows that take sequence numbers after it commit in sequence order;
        SQLite: nothing to do, its writers are serialised already. A change
        feed that readers follow by sequence number takes this lock first.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})

    def size(self, conn: Connection | None = None) -> int:
        """Number of events in the log."""
        if conn is not None:
            return self._next_seq(conn)
        with self.db.read() as c:
            return self._next_seq(c)

    def entries(self, start: int, end: int) -> list[Event]:
        """Events with ``start <= seq < end``, in order."""
        if start < 0 or end < start:
            raise InvalidInput("entries need 0 <= start <= end", start=start, end=end)
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    ledger_events.c.seq,
                    ledger_events.c.kind,
                    ledger_events.c.time,
                    ledger_events.c.body,
                )
                .where(ledger_events.c.seq >= start, ledger_events.c.seq < end)
                .order_by(ledger_events.c.seq)
            ).all()
        return [Event(seq=r.seq, kind=r.kind, time=r.time, body=bytes(r.body)) for r in rows]

    @staticmethod
    def _next_seq(conn: Connection) -> int:
        current = conn.execute(select(func.max(ledger_events.c.seq))).scalar_one()
        return 0 if current is None else int(current) + 1

"""The Merkle tree of the ledger, kept as stored complete subtrees.

Each append runs :meth:`StoredTree.extend` in its own transaction (an
``on_append`` hook that :class:`~accord.ledger.log.Ledger` registers): it reads
the tree's size and frontier (the O(log n) perfect subtrees covering it, kept
packed in the one ``ledger_tree`` row, so one read), hashes the new leaves onto
it, inserts every complete subtree the new leaves finished, and writes the new
size and frontier. Nothing is ever rehashed, and a node, once
committed, never changes. Nodes narrower than 16 leaves are not stored but
recomputed from their (at most 8) leaf hashes when needed, so an append writes
about one node row per eight leaves.

Roots and proofs at any size ask :mod:`accord.ledger.merkle` which nodes they
need (O(log n)), fetch those in one query per table (level 0 from
``ledger_events.leaf_hash``, higher levels from ``ledger_nodes``) and compute.
Because committed nodes are immutable, a small in-process cache of upper-level
nodes is safe and saves the round trip for the nodes every proof shares.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection, bindparam, insert, select, union_all, update

from accord.errors import Conflict, InvalidInput
from accord.ledger import merkle
from accord.ledger.tables import ledger_events, ledger_nodes, ledger_tree
from accord.store.bulk import insert_rows

__all__ = ["MIN_STORED_LEVEL", "StoredTree"]

T = TypeVar("T")
Key = tuple[int, int]

MIN_STORED_LEVEL = 4
"""Nodes below this level (up to 8 leaves wide) are recomputed from at most 8 leaf
hashes when asked for, instead of stored: it cuts the rows written per appended
leaf from about 1 to about 1/8, for a few more leaf hashes read per proof."""
_CACHE_MIN_LEVEL = 8  # nodes of 256+ leaves: few, shared by many proofs
_CACHE_SIZE = 65_536


# Built once: SQLAlchemy then reuses their compiled form; the lists expand per call.
# One round trip for both kinds: leaves come back keyed like nodes (seq * 64 + 0).
_NODES = union_all(
    select((ledger_events.c.seq * 64).label("node"), ledger_events.c.leaf_hash.label("hash")).where(
        ledger_events.c.seq.in_(bindparam("seqs", expanding=True))
    ),
    select(ledger_nodes.c.node, ledger_nodes.c.hash).where(
        ledger_nodes.c.node.in_(bindparam("nodes", expanding=True))
    ),
)
_SIZE = select(ledger_tree.c.size).where(ledger_tree.c.id == 1)


def _node_id(level: int, idx: int) -> int:
    """The ``ledger_nodes`` key of node ``(level, idx)``: ``idx * 64 + level``."""
    return (idx << 6) | level


class StoredTree:
    """Roots and proofs from stored nodes; :meth:`extend` is the append hook."""

    def __init__(self) -> None:
        self._cache: OrderedDict[Key, bytes] = OrderedDict()
        self._committed_size = 0  # a size seen committed; the tree never shrinks

    # --- writing -----------------------------------------------------------------------

    def extend(self, conn: Connection, first_seq: int, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaves ``first_seq, first_seq + 1, ...`` (an ``on_append`` hook)."""
        state = conn.execute(
            select(ledger_tree.c.size, ledger_tree.c.frontier).where(ledger_tree.c.id == 1)
        ).one_or_none()
        size = 0 if state is None else int(state.size)
        if size > first_seq:
            raise Conflict(
                f"the stored tree covers {size} leaves but leaf {first_seq} is being appended",
                tree_size=size,
                first_seq=first_seq,
            )
        pending = list(leaf_hashes)
        if size < first_seq:  # events appended before the tree existed: catch up, in order
            backlog = conn.execute(
                select(ledger_events.c.leaf_hash)
                .where(ledger_events.c.seq >= size, ledger_events.c.seq < first_seq)
                .order_by(ledger_events.c.seq)
            ).scalars()
            pending = [bytes(h) for h in backlog] + pending
        packed = b"" if state is None else bytes(state.frontier)
        frontier = [packed[i : i + 32] for i in range(0, len(packed), 32)]
        compact = merkle.CompactRange(size, frontier)
        rows: list[dict[str, object]] = []
        for leaf in pending:
            for level, idx, node in compact.append(leaf):
                if level >= MIN_STORED_LEVEL:
                    rows.append({"node": _node_id(level, idx), "hash": node})
        if rows:
            insert_rows(conn, ledger_nodes, rows)
        values = {"size": compact.size, "frontier": b"".join(compact.frontier())}
        if state is None:
            conn.execute(insert(ledger_tree).values(id=1, **values))
        else:
            conn.execute(update(ledger_tree).where(ledger_tree.c.id == 1).values(**values))

    # --- reading -----------------------------------------------------------------------

    def size(self, conn: Connection) -> int:
        """How many leaves the stored tree covers (in ``conn``'s view)."""
        stored = conn.execute(_SIZE).scalar()
        return 0 if stored is None else int(stored)

    def root(self, conn: Connection, size: int, *, cache: bool = False) -> bytes:
        self._check_size(conn, size, cache=cache)
        return self._compute(conn, lambda src: merkle.tree_root(src, size), cache=cache)

    def inclusion_proof(
        self, conn: Connection, index: int, size: int, *, cache: bool = False
    ) -> list[bytes]:
        self._check_size(conn, size, cache=cache)
        if not 0 <= index < size:
            raise InvalidInput(
                f"leaf {index} is not in a tree of size {size}", index=index, size=size
            )
        return self._compute(
            conn, lambda src: merkle.inclusion_proof(src, index, size), cache=cache
        )

    def consistency_proof(
        self, conn: Connection, old_size: int, new_size: int, *, cache: bool = False
    ) -> list[bytes]:
        self._check_size(conn, new_size, cache=cache)
        if not 0 <= old_size <= new_size:
            raise InvalidInput(
                f"no consistency proof from size {old_size} to size {new_size}",
                old_size=old_size,
                new_size=new_size,
            )
        return self._compute(
            conn, lambda src: merkle.consistency_proof(src, old_size, new_size), cache=cache
        )

    def _check_size(self, conn: Connection, size: int, *, cache: bool = False) -> None:
        """Refuse sizes beyond the tree; ``cache=True`` only in read transactions."""
        if cache and 0 <= size <= self._committed_size:
            return
        current = self.size(conn)
        if cache:
            self._committed_size = max(self._committed_size, current)
        if not 0 <= size <= current:
            raise InvalidInput(
                f"tree size {size} is not between 0 and the log's size {current}",
                size=size,
                current=current,
            )

    def _compute(self, conn: Connection, fn: Callable[[merkle.NodeSource], T], *, cache: bool) -> T:
        nodes = self._fetch(conn, merkle.nodes_needed(fn), cache=cache)
        return fn(lambda level, idx: nodes[(level, idx)])

    def _fetch(self, conn: Connection, keys: list[Key], *, cache: bool = False) -> dict[Key, bytes]:
        """The nodes at ``keys``; ``cache=True`` only for reads of committed data.

        A write transaction may read nodes that it wrote itself and may still roll
        back, so only read transactions feed the cache.
        """
        found: dict[Key, bytes] = {}
        leaves: list[int] = []
        inner: list[Key] = []
        derived: list[Key] = []
        for key in keys:
            level, idx = key
            cached = self._cache.get(key)
            if cached is not None:
                found[key] = cached
            elif level == 0:
                leaves.append(idx)
            elif level < MIN_STORED_LEVEL:
                derived.append(key)
                leaves.extend(range(idx << level, (idx + 1) << level))
            else:
                inner.append(key)
        if leaves or inner:
            params = {"seqs": leaves, "nodes": [_node_id(*k) for k in inner]}
            for node, h in conn.execute(_NODES, params):
                key = (int(node) & 63, int(node) >> 6)
                found[key] = bytes(h)
                if cache and key[0] >= _CACHE_MIN_LEVEL:
                    self._cache[key] = found[key]
                    if len(self._cache) > _CACHE_SIZE:
                        self._cache.popitem(last=False)
        for level, idx in derived:
            first = idx << level
            try:
                hashes = [found[(0, seq)] for seq in range(first, first + (1 << level))]
            except KeyError:
                continue  # reported as missing below
            found[(level, idx)] = merkle.root_of(hashes)
        missing = [k for k in keys if k not in found]
        if missing:
            raise Conflict(
                f"the stored tree lacks {len(missing)} node(s), first {missing[0]}",
                missing=len(missing),
            )
        return found

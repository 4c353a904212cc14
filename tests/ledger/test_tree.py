"""The stored Merkle tree: nodes kept by the append hook give the same roots and proofs
as a tree computed in memory, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from accord.errors import InvalidInput
from accord.ledger import merkle
from accord.ledger.tables import ledger_nodes, ledger_tree
from accord.ledger.tree import MIN_STORED_LEVEL


def _append(accord, n: int, batch: int = 7) -> None:
    done = 0
    while done < n:
        k = min(batch, n - done)
        with accord.db.write() as conn:
            accord.ledger.append_many(
                conn, [("bank.created", {"bank": f"B{done + i}"}, None) for i in range(k)]
            )
        done += k


def _memory(accord) -> merkle.MemoryTree:
    return merkle.MemoryTree(e.leaf_hash for e in accord.ledger.entries(0, accord.ledger.size()))


def test_stored_roots_and_proofs_match_memory(store):
    _append(store, 45)
    mem = _memory(store)
    tree = store.ledger.tree
    with store.db.read() as conn:
        assert tree.size(conn) == 45
        for size in range(46):
            assert tree.root(conn, size) == mem.root(size)
        for size in (1, 2, 3, 16, 17, 45):
            for index in range(size):
                assert tree.inclusion_proof(conn, index, size) == merkle.inclusion_proof(
                    mem.node, index, size
                )
            for old in range(size + 1):
                assert tree.consistency_proof(conn, old, size) == merkle.consistency_proof(
                    mem.node, old, size
                )
        # one row per completed perfect subtree of 16 leaves or more: 2 of 16, 1 of 32
        assert MIN_STORED_LEVEL == 4
        count = conn.execute(select(func.count()).select_from(ledger_nodes)).scalar_one()
        assert count == 3


def test_a_rolled_back_append_leaves_the_tree_as_it_was(accord):
    _append(accord, 5)

    def append_then_fail() -> None:
        with accord.db.write() as conn:
            accord.ledger.append_many(conn, [("bank.created", {"bank": "x"}, None)] * 3)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        append_then_fail()
    _append(accord, 4)
    with accord.db.read() as conn:
        assert accord.ledger.tree.root(conn, 9) == _memory(accord).root()


def test_the_tree_catches_up_with_events_appended_before_it(accord):
    _append(accord, 10)
    with accord.db.write() as conn:  # as if the nodes table came later than the events
        conn.execute(delete(ledger_nodes))
        conn.execute(delete(ledger_tree))
    _append(accord, 3)
    with accord.db.read() as conn:
        assert accord.ledger.tree.size(conn) == 13
        assert accord.ledger.tree.root(conn, 13) == _memory(accord).root()


def test_sizes_beyond_the_log_are_refused(accord):
    _append(accord, 3)
    with accord.db.read() as conn:
        with pytest.raises(InvalidInput, match="tree size 4"):
            accord.ledger.tree.root(conn, 4)
        with pytest.raises(InvalidInput, match="leaf 3"):
            accord.ledger.tree.inclusion_proof(conn, 3, 3)
        with pytest.raises(InvalidInput):
            accord.ledger.tree.consistency_proof(conn, 3, 2)

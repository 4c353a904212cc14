"""RFC 9162 hashing of gate outputs: the streaming root equals the recursive definition,
audit paths verify, proofs of absence verify and cannot be forged from a present item."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.jobs import merkle as m


def test_empty_and_single_leaf_follow_the_rfc():
    assert m.root_of_batches([]) == (hashlib.sha256(b"").digest(), 0)
    assert m.root_of_batches([[b"a"]])[0] == hashlib.sha256(b"\x00a").digest()
    two = hashlib.sha256(
        b"\x01" + hashlib.sha256(b"\x00a").digest() + hashlib.sha256(b"\x00b").digest()
    ).digest()
    assert m.reference_root([b"a", b"b"]) == two


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(1, 50))
def test_streaming_root_equals_reference(n, batch):
    items = [f"id-{i:05d}".encode() for i in range(n)]
    batches = [items[i : i + batch] for i in range(0, n, batch)]
    assert m.root_of_batches(batches) == (m.reference_root(items), n)


def test_streaming_root_across_full_chunks():
    items = [f"{i:08d}".encode() for i in range((1 << 15) * 2 + 7)]
    assert m.root_of_batches([items])[0] == m.reference_root(items)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=6), min_size=0, max_size=40, unique=True),
    st.binary(min_size=1, max_size=6),
)
def test_absence_proofs(items, probe):
    items.sort()
    root = m.reference_root(items)
    for i, item in enumerate(items):
        assert m.root_from_inclusion(item, i, len(items), m.inclusion_proof(items, i)) == root
    if probe in items:
        with pytest.raises(ValueError, match="is in the tree"):
            m.absence_proof(items, probe)
        return
    assert m.verify_absence(m.absence_proof(items, probe), root)


def test_a_forged_absence_proof_fails():
    items = sorted([b"a", b"c", b"e", b"g"])
    root = m.reference_root(items)
    honest = m.absence_proof(items, b"d")
    # claim "c" is absent by skipping it: the neighbours are no longer adjacent
    forged = m.AbsenceProof(
        b"c", 4, honest.left and (0, b"a", m.inclusion_proof(items, 0)), honest.right
    )
    assert not m.verify_absence(forged, root)


def test_parallel_hashing_gives_the_same_root():
    items = [f"{i:08d}".encode() for i in range((1 << 15) * 5 + 123)]
    batches = [items[i : i + 10_000] for i in range(0, len(items), 10_000)]
    assert m.root_of_batches(batches, workers=2) == m.root_of_batches([items])

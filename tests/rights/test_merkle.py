"""RFC 9162 hashing of gate outputs in blocks of sorted ids: the fast Arrow hasher equals the
definition at every block boundary, audit paths verify, proofs of absence verify for absent ids
and fail for present ids and for tampered blocks."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import struct

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.jobs import merkle as m

B = m.BLOCK_SIZE


def test_empty_and_single_block_follow_the_rfc():
    assert m.block_root([]) == (hashlib.sha256(b"").digest(), 0, 0)
    leaf = struct.pack(">III", 2, 1, 2) + b"a" + b"bc"
    assert m.encode_block([b"a", b"bc"]) == leaf
    assert m.block_root([pa.array(["a", "bc"])]) == (hashlib.sha256(b"\x00" + leaf).digest(), 1, 2)
    two = hashlib.sha256(
        b"\x01"
        + hashlib.sha256(b"\x00" + m.encode_block([b"a"])).digest()
        + hashlib.sha256(b"\x00" + m.encode_block([b"b"])).digest()
    ).digest()
    assert m.reference_block_root([b"a", b"b"], 1) == two


def test_the_block_encoding_is_unambiguous():
    # the same bytes split differently, or one id more, give different leaves
    assert m.encode_block([b"ab", b"c"]) != m.encode_block([b"a", b"bc"])
    assert m.encode_block([b"a", b""]) != m.encode_block([b"a"])


def _chunks(ids: list[bytes], cuts: list[int], kind: pa.DataType) -> list[pa.Array]:
    bounds = sorted({0, len(ids), *(c % (len(ids) + 1) for c in cuts)})
    values = [x.decode() for x in ids] if kind in (pa.string(), pa.large_string()) else ids
    return [pa.array(values[a:b], kind) for a, b in itertools.pairwise(bounds)]


@settings(max_examples=80, deadline=None)
@given(
    block=st.sampled_from([1, 2, 3, 4, 8, 16]),
    multiple=st.integers(0, 6),
    delta=st.integers(-2, 2),
    cuts=st.lists(st.integers(0, 200), max_size=4),
    kind=st.sampled_from([pa.string(), pa.large_string(), pa.binary(), pa.large_binary()]),
    seed=st.integers(0, 2**32),
)
def test_arrow_hasher_equals_the_definition_around_block_boundaries(
    block, multiple, delta, cuts, kind, seed
):
    import random

    rng = random.Random(seed)
    n = max(0, multiple * block + delta)
    ids = sorted(
        {"".join(rng.choice("ab-é") for _ in range(rng.randint(1, 5))).encode() for _ in range(n)}
    )
    root, size, items = m.block_root(_chunks(ids, cuts, kind), block)
    assert root == m.reference_block_root(ids, block)
    assert (size, items) == ((len(ids) + block - 1) // block, len(ids))


@pytest.mark.parametrize("n", [B - 1, B, B + 1, 2 * B - 1, 2 * B, 2 * B + 1, 5 * B + 3])
def test_default_block_size_boundaries(n):
    ids = [f"item-{i:06d}".encode() for i in range(n)]
    arrays = _chunks(ids, [97, B, 3 * B + 1], pa.string())
    assert m.block_root(arrays)[0] == m.reference_block_root(ids)


def test_the_hasher_refuses_unsorted_or_missing_ids():
    with pytest.raises(InvalidInput, match="out of byte order"):
        m.block_root([pa.array(["b", "a"])])
    with pytest.raises(InvalidInput, match="out of byte order"):
        m.block_root([pa.array(["a", "c"]), pa.array(["b"])])
    with pytest.raises(InvalidInput, match="missing"):
        m.block_root([pa.array(["a", None])])
    # byte order, not alphabetical: "B" (0x42) before "a" (0x61), and duplicates are fine
    assert m.block_root([pa.array(["B", "a", "a"])])[2] == 3


def test_audit_paths_verify():
    leaves = [m.encode_block([bytes([i])]) for i in range(13)]
    root = m.reference_root(leaves)
    for i, leaf in enumerate(leaves):
        assert m.root_from_inclusion(leaf, i, 13, m.inclusion_proof(leaves, i)) == root


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text("abé€", min_size=1, max_size=4), min_size=0, max_size=40, unique=True),
    st.text("abé€", min_size=0, max_size=4),
    st.sampled_from([1, 2, 3, 4, 8]),
)
def test_absence_proofs_verify_for_absent_ids_only(texts, text, block):
    items, probe = sorted(x.encode() for x in texts), text.encode()
    root = m.reference_block_root(items, block)
    if probe in items:
        with pytest.raises(ValueError, match="is in the tree"):
            m.absence_proof(items, probe, block)
        return
    proof = m.absence_proof(items, probe, block)
    assert 0 <= len(proof.blocks) <= 2
    size = (len(items) + block - 1) // block
    assert m.verify_absence(proof, root, size)
    assert m.verify_absence(m.AbsenceProof.from_dict(proof.as_dict()), root, size)
    # the same proof says nothing about an id that is present
    for present in items:
        assert not m.verify_absence(dataclasses.replace(proof, item=present), root, size)


def _tree(n: int = 40, block: int = 4) -> tuple[list[bytes], bytes]:
    items = [f"{i * 2:04d}".encode() for i in range(n)]  # even numbers: odd ones are absent
    return items, m.reference_block_root(items, block)


def test_one_block_or_two_neighbours():
    items, root = _tree()
    inside = m.absence_proof(items, b"0013", 4)  # between 0012 and 0014, both in block 1
    assert [b.index for b in inside.blocks] == [1]
    between = m.absence_proof(items, b"0015", 4)  # 0014 ends block 1, 0016 starts block 2
    assert [b.index for b in between.blocks] == [1, 2]
    before, after = m.absence_proof(items, b"", 4), m.absence_proof(items, b"9", 4)
    assert [b.index for b in before.blocks] == [0]
    assert [b.index for b in after.blocks] == [9]
    for proof in (inside, between, before, after):
        assert m.verify_absence(proof, root, 10)


def test_tampered_proofs_fail():
    items, root = _tree()
    proof = m.absence_proof(items, b"0015", 4)
    left, right = proof.blocks

    def with_blocks(*blocks: m.Block, **changes: object) -> m.AbsenceProof:
        return dataclasses.replace(proof, blocks=blocks, **changes)

    # a present id removed from its block, to claim it absent: the block no longer hashes
    dropped = dataclasses.replace(left, items=left.items[:-1])
    claim = dataclasses.replace(with_blocks(dropped, right), item=b"0014")
    assert not m.verify_absence(claim, root, 10)
    # an id changed, a path hash flipped, an index moved, a wrong tree size
    changed = dataclasses.replace(left, items=(*left.items[:-1], b"0013"))
    assert not m.verify_absence(with_blocks(changed, right), root, 10)
    flipped = dataclasses.replace(right, path=(bytes(32), *right.path[1:]))
    assert not m.verify_absence(with_blocks(left, flipped), root, 10)
    assert not m.verify_absence(with_blocks(dataclasses.replace(right, index=3)), root, 10)
    # a size other than the manifest's, though the audit paths still reach the root
    assert not m.verify_absence(with_blocks(left, right, size=11), root, 10)
    # one of the two neighbours left out: the id is no longer enclosed
    assert not m.verify_absence(with_blocks(left), root, 10)
    assert not m.verify_absence(with_blocks(right), root, 10)
    # two blocks that are not neighbours
    far = m.absence_proof(items, b"0031", 4).blocks[-1]
    assert not m.verify_absence(with_blocks(left, far), root, 10)
    # a block presented in a tree of a smaller block size
    assert not m.verify_absence(with_blocks(left, right, block_size=3), root, 10)
    assert not m.verify_absence(proof, m.reference_block_root(items[1:], 4), 10)
    assert m.verify_absence(proof, root, 10)


def test_empty_tree():
    proof = m.absence_proof([], b"x")
    assert proof.blocks == ()
    assert m.verify_absence(proof, m.EMPTY_ROOT, 0)
    assert not m.verify_absence(proof, bytes(32), 0)


def test_a_malformed_proof_document_is_invalid_input():
    with pytest.raises(InvalidInput, match="not an absence proof"):
        m.AbsenceProof.from_dict({"item_id": "x"})


def test_blocks_hashed_elsewhere_join_the_stream_in_order():
    import numpy as np

    ids = [f"{i:05d}".encode() for i in range(12)]
    rows = np.frombuffer(b"".join(ids), np.uint8).reshape(12, 5)
    hasher = m.BlockHasher(4)
    hasher.add_hashed(m.leaves_of_rows(rows[:8], 4), 8, ids[0], ids[7])
    hasher.add(pa.array([x.decode() for x in ids[8:]]))
    assert hasher.root() == m.reference_block_root(ids, 4)
    assert m.leaves_of_rows(rows[:4], 4) == [m.leaf_hash(m.encode_block(ids[:4]))]
    with pytest.raises(ValueError, match="whole blocks"):
        m.leaves_of_rows(rows[:5], 4)
    late = m.BlockHasher(4)
    late.add(pa.array(["99999"] * 4))
    with pytest.raises(InvalidInput, match="out of byte order"):
        late.add_hashed(m.leaves_of_rows(rows[:4], 4), 4, ids[0], ids[3])
    unfinished = m.BlockHasher(4)
    unfinished.add(pa.array(["0"]))
    assert not unfinished.at_block_boundary
    with pytest.raises(ValueError, match="whole blocks"):
        unfinished.add_hashed([], 0, b"1", b"1")
    with pytest.raises(ValueError, match="full"):
        m.BlockHasher(4).add_hashed(m.leaves_of_rows(rows[:4], 4), 3, ids[0], ids[2])

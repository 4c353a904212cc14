"""RFC 9162 Merkle trees: the transparency-dev vectors, and properties over random trees."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import VerificationFailed
from accord.ledger import merkle as m

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "rfc6962"


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).glob("*/*.json")) if VECTORS.is_dir() else []


needs_vectors = pytest.mark.skipif(
    not VECTORS.is_dir(),
    reason=f"RFC 6962 vectors not found at {VECTORS} (shared/ beside the repo)",
)


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


@needs_vectors
@pytest.mark.parametrize(
    "path", _vector_files("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b64(p) for p in v["proof"] or []]

    def check() -> None:
        m.verify_inclusion(_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b64(v["root"]))

    if v["wantErr"]:
        with pytest.raises(VerificationFailed):
            check()
    else:
        check()


@needs_vectors
@pytest.mark.parametrize(
    "path", _vector_files("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b64(p) for p in v["proof"] or []]

    def check() -> None:
        m.verify_consistency(v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), proof)

    if v["wantErr"]:
        with pytest.raises(VerificationFailed):
            check()
    else:
        check()


def test_there_are_vectors_of_both_kinds() -> None:
    if not VECTORS.is_dir():
        pytest.skip(f"RFC 6962 vectors not found at {VECTORS}")
    assert len(_vector_files("inclusion")) > 50
    assert len(_vector_files("consistency")) > 50


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH written as the RFC's recursion, over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return m.hash_children(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [m.hash_leaf(salt + i.to_bytes(4, "big")) for i in range(n)]


def test_known_roots_and_empty_tree() -> None:
    assert m.root_of([]) == hashlib.sha256(b"").digest()
    # RFC 6962 reference tree (8 leaves of the CT test data) root, as published in its tests
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ]
    root = m.root_of(m.hash_leaf(d) for d in data)
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@given(st.integers(min_value=1, max_value=300))
def test_memory_tree_compact_range_and_reference_agree(n: int) -> None:
    leaves = _leaves(n)
    tree = m.MemoryTree(leaves)
    for size in {1, n // 2 or 1, n}:
        assert tree.root(size) == _reference_root(leaves[:size]) == m.root_of(leaves[:size])


@settings(max_examples=200)
@given(st.data())
def test_inclusion_proofs_verify_and_tampering_fails(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=200), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    leaves = _leaves(size)
    tree = m.MemoryTree(leaves)
    root = tree.root()
    proof = m.inclusion_proof(tree.node, index, size)
    m.verify_inclusion(leaves[index], index, size, proof, root)

    # another leaf, another index, a changed proof, a shorter or longer proof: all fail
    with pytest.raises(VerificationFailed):
        m.verify_inclusion(m.hash_leaf(b"forged"), index, size, proof, root)
    other = data.draw(st.integers(min_value=0, max_value=size - 1), label="other")
    if leaves[other] != leaves[index]:
        with pytest.raises(VerificationFailed):
            m.verify_inclusion(leaves[other], index, size, proof, root)
    if proof:
        pos = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="pos")
        bad = list(proof)
        bad[pos] = bytes([bad[pos][0] ^ 1]) + bad[pos][1:]
        with pytest.raises(VerificationFailed):
            m.verify_inclusion(leaves[index], index, size, bad, root)
        with pytest.raises(VerificationFailed):
            m.verify_inclusion(leaves[index], index, size, proof[:-1], root)
    with pytest.raises(VerificationFailed):
        m.verify_inclusion(leaves[index], index, size, [*proof, root], root)


@settings(max_examples=200)
@given(st.data())
def test_consistency_proofs_verify_and_wrong_roots_fail(data: st.DataObject) -> None:
    new = data.draw(st.integers(min_value=1, max_value=200), label="new")
    old = data.draw(st.integers(min_value=1, max_value=new), label="old")
    leaves = _leaves(new)
    tree = m.MemoryTree(leaves)
    proof = m.consistency_proof(tree.node, old, new)
    m.verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    if old < new:
        forged = list(leaves)
        pos = data.draw(st.integers(min_value=0, max_value=old - 1), label="pos")
        forged[pos] = m.hash_leaf(b"rewritten history")
        with pytest.raises(VerificationFailed):
            m.verify_consistency(old, new, m.root_of(forged[:old]), tree.root(new), proof)
        with pytest.raises(VerificationFailed):
            m.verify_consistency(old, new, tree.root(old), m.root_of(forged), proof)
        if proof:
            with pytest.raises(VerificationFailed):
                m.verify_consistency(old, new, tree.root(old), tree.root(new), proof[1:])


def _tamper(leaves: list[bytes], how: str, pos: int) -> list[bytes]:
    out = list(leaves)
    if how == "change":
        out[pos] = m.hash_leaf(b"changed" + out[pos])
    elif how == "drop":
        del out[pos]
    elif how == "insert":
        out.insert(pos, m.hash_leaf(b"inserted"))
    elif how == "reorder":
        other = (pos + 1) % len(out)
        out[pos], out[other] = out[other], out[pos]
    return out


@settings(max_examples=300)
@given(
    st.integers(min_value=2, max_value=150),
    st.sampled_from(["change", "drop", "insert", "reorder"]),
    st.data(),
)
def test_changing_dropping_reordering_or_inserting_a_leaf_changes_the_root(
    size: int, how: str, data: st.DataObject
) -> None:
    leaves = _leaves(size)
    root = m.root_of(leaves)
    pos = data.draw(st.integers(min_value=0, max_value=size - 1), label="pos")
    tampered = _tamper(leaves, how, pos)
    assert m.root_of(tampered) != root
    # and a proof for any leaf computed over the tampered log fails against the real root
    tree = m.MemoryTree(tampered)
    index = data.draw(st.integers(min_value=0, max_value=len(tampered) - 1), label="index")
    proof = m.inclusion_proof(tree.node, index, len(tampered))
    with pytest.raises(VerificationFailed):
        m.verify_inclusion(tampered[index], index, size, proof, root)


def test_nodes_needed_is_logarithmic() -> None:
    size = 10_000_019
    inc = m.nodes_needed(lambda src: m.inclusion_proof(src, 1234567, size))
    con = m.nodes_needed(lambda src: m.consistency_proof(src, 3_333_333, size))
    root = m.nodes_needed(lambda src: m.tree_root(src, size))
    assert len(inc) <= 2 * size.bit_length()
    assert len(con) <= 3 * size.bit_length()
    assert len(root) == bin(size).count("1")


def test_bad_arguments() -> None:
    tree = m.MemoryTree(_leaves(4))
    with pytest.raises(ValueError):
        m.inclusion_proof(tree.node, 4, 4)
    with pytest.raises(ValueError):
        m.consistency_proof(tree.node, 5, 4)
    assert m.consistency_proof(tree.node, 0, 4) == []
    assert m.consistency_proof(tree.node, 4, 4) == []
    with pytest.raises(VerificationFailed, match="32"):
        m.verify_inclusion(b"short", 0, 1, [], b"x" * 32)

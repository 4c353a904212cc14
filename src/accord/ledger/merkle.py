"""RFC 9162 (Certificate Transparency v2) Merkle trees: hashes, roots, proofs, verification.

Pure functions, no IO. The tree over leaves ``D[0:n]`` is the RFC's: a leaf
hash is ``SHA-256(0x00 || leaf)``, an interior node ``SHA-256(0x01 || left ||
right)``, and a tree of ``n > 1`` leaves splits at ``k``, the largest power of
two below ``n``. Every subtree the RFC's algorithms visit therefore starts at a
multiple of its own (power-of-two) width, so it is either *perfect* (a
complete subtree, named by ``(level, index)``: the ``2**level`` leaves from
``index * 2**level``) or a left-to-right fold of perfect ones.

Proof generation takes a :data:`NodeSource`, a function that returns the hash
of the perfect subtree ``(level, index)``; level 0 is a leaf hash. A caller
may read those from stored nodes (:mod:`accord.ledger.tree`) or from memory
(:class:`MemoryTree`); every proof or root needs O(log n) of them, and
:func:`nodes_needed` lists which, so that a database can fetch them in one
query. Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by
step and is strict: hashes must be 32 bytes, and a proof from the empty tree
must be empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from accord.errors import VerificationFailed

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryTree",
    "NodeSource",
    "consistency_proof",
    "hash_children",
    "hash_leaf",
    "inclusion_proof",
    "nodes_needed",
    "perfect_subtrees",
    "range_root",
    "root_of",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeSource = Callable[[int, int], bytes]
"""``source(level, index)``: the hash of leaves ``[index << level, (index + 1) << level)``."""


def hash_leaf(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` whose fold is the RFC root of ``D[start:end]``.

    ``start`` must be a multiple of the width of the widest one (true of every
    subtree the RFC visits, and of ``start == 0``). Left to right, widest first.
    """
    out: list[tuple[int, int]] = []
    while start < end:
        width = end - start
        level = width.bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"range [{start}, {end}) is not aligned as an RFC 9162 subtree")
        out.append((level, start >> level))
        start += 1 << level
    return out


def range_root(source: NodeSource, start: int, end: int) -> bytes:
    """The RFC 9162 root of ``D[start:end]`` from O(log n) perfect subtree hashes."""
    if end <= start:
        raise ValueError("a subtree has at least one leaf")
    parts = [source(level, index) for level, index in perfect_subtrees(start, end)]
    acc = parts[-1]
    for part in reversed(parts[:-1]):
        acc = hash_children(part, acc)
    return acc


def tree_root(source: NodeSource, size: int) -> bytes:
    """The root of the tree of ``size`` leaves (``SHA-256("")`` when empty)."""
    return EMPTY_ROOT if size == 0 else range_root(source, 0, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 ``PATH(index, D[0:size])``: sibling hashes from the leaf up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            path.append(range_root(source, start + k, end))
            end = start + k
        else:
            path.append(range_root(source, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 ``PROOF(old_size, D[0:new_size])``; empty if ``old_size`` is 0 or ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                path.append(range_root(source, start, end))
            break
        k = _split(n)
        if m <= k:
            path.append(range_root(source, start + k, end))
            end = start + k
        else:
            path.append(range_root(source, start, start + k))
            start += k
            m -= k
            whole = False
    path.reverse()
    return path


def nodes_needed(compute: Callable[[NodeSource], object]) -> list[tuple[int, int]]:
    """The ``(level, index)`` nodes that ``compute(source)`` reads, in first-use order.

    The proof algorithms' control flow does not depend on hash values, so a dry
    run with a recording source names exactly the nodes to fetch.
    """
    seen: dict[tuple[int, int], None] = {}

    def record(level: int, index: int) -> bytes:
        seen[(level, index)] = None
        return bytes(HASH_SIZE)

    compute(record)
    return list(seen)


class CompactRange:
    """The perfect subtrees covering ``D[0:size]``, extended leaf by leaf in O(1) amortised.

    ``append`` returns the complete nodes that the new leaf finished (level >= 1),
    which is what :mod:`accord.ledger.tree` stores.
    """

    def __init__(self, size: int = 0, roots: Sequence[bytes] = ()) -> None:
        expected = [lvl for lvl, _ in perfect_subtrees(0, size)]
        if len(roots) != len(expected):
            raise ValueError(f"a tree of size {size} has {len(expected)} frontier subtrees")
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(zip(expected, roots, strict=True))

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        leaf = self.size
        level, node = 0, leaf_hash
        made: list[tuple[int, int, bytes]] = []
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            node = hash_children(left, node)
            level += 1
            made.append((level, leaf >> level, node))
        self._stack.append((level, node))
        self.size += 1
        return made

    def frontier(self) -> list[bytes]:
        """The hashes of the perfect subtrees covering the range, widest first."""
        return [node for _, node in self._stack]

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, part in reversed(self._stack[:-1]):
            acc = hash_children(part, acc)
        return acc


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """The root over leaf hashes, streamed (O(log n) memory)."""
    cr = CompactRange()
    for h in leaf_hashes:
        cr.append(h)
    return cr.root()


class MemoryTree:
    """Every level of a tree in memory: a :data:`NodeSource` for tests and benchmarks."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf_hash: bytes) -> None:
        self.levels[0].append(leaf_hash)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            row = self.levels[level]
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(hash_children(row[-2], row[-1]))
            level += 1

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return tree_root(self.node, self.size if size is None else size)


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationFailed(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Raises :class:`VerificationFailed` saying why it is not.
    """
    _check_hash(leaf_hash, "the leaf hash")
    _check_hash(root, "the root hash")
    for p in proof:
        _check_hash(p, "a proof hash")
    if not 0 <= index < size:
        raise VerificationFailed(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise VerificationFailed("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationFailed("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise VerificationFailed("the inclusion proof does not lead to the root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``.

    As in transparency-dev/merkle: a proof from the empty tree is refused (it
    proves nothing; callers treat size 0 as trivially consistent), and equal
    sizes need an empty proof and equal roots.
    """
    if new_size < old_size:
        raise VerificationFailed(f"size {old_size} cannot grow into size {new_size}")
    if old_size <= 0:
        raise VerificationFailed("a consistency proof from the empty tree proves nothing")
    if old_size == new_size:
        if proof:
            raise VerificationFailed("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationFailed("two trees of the same size have different roots")
        return
    _check_hash(old_root, "the first root hash")
    _check_hash(new_root, "the second root hash")
    for p in proof:
        _check_hash(p, "a proof hash")
    if not proof:
        raise VerificationFailed("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationFailed("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationFailed("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise VerificationFailed("the consistency proof does not lead to the first root")
    if sr != new_root:
        raise VerificationFailed("the consistency proof does not lead to the second root")

"""RFC 9162 Merkle tree hashing over a stream of sorted item ids, and proofs of absence.

A gate manifest commits to the items it let through with the root of a Merkle
tree (RFC 9162 section 2.1: leaf ``SHA-256(0x00 || id)``, node
``SHA-256(0x01 || left || right)``) whose leaves are the UTF-8 item ids in
ascending byte order. Because the leaves are sorted, absence is provable: the
two neighbouring leaves between which an id would sit, with their inclusion
proofs, show that it is not there.

:func:`root_of_batches` reads ids in batches (from DuckDB or Spark) and keeps
only ``O(log n)`` subtree hashes: each batch of ``2**k`` aligned leaves is
hashed level by level, and full subtrees are merged on a stack. The result is
the RFC's ``MTH`` whatever the batch sizes; :func:`reference_root` is the
recursive definition, used by the tests to check it.
"""

from __future__ import annotations

import bisect
import hashlib
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "AbsenceProof",
    "absence_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "reference_root",
    "root_from_inclusion",
    "root_of_batches",
    "verify_absence",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha = hashlib.sha256


def leaf_hash(item: bytes) -> bytes:
    return _sha(b"\x00" + item).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right).digest()


def _largest_power_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_root(items: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` exactly as RFC 9162 defines it (recursive; for tests and small trees)."""
    if not items:
        return EMPTY_ROOT
    if len(items) == 1:
        return leaf_hash(items[0])
    k = _largest_power_below(len(items))
    return node_hash(reference_root(items[:k]), reference_root(items[k:]))


def _level_root(hashes: list[bytes]) -> bytes:
    # Pairing left to right and carrying an odd last node up unchanged yields MTH.
    while len(hashes) > 1:
        paired = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]
        if len(hashes) % 2:
            paired.append(hashes[-1])
        hashes = paired
    return hashes[0]


_CHUNK = 1 << 15


def _chunk_root(chunk: list[bytes]) -> bytes:
    return _level_root([leaf_hash(x) for x in chunk])


def _chunks(batches: Iterable[Sequence[bytes]], counter: list[int]) -> Iterator[list[bytes]]:
    """Full chunks of ``_CHUNK`` ids, then the shorter tail (if any)."""
    pending: list[bytes] = []
    for batch in batches:
        counter[0] += len(batch)
        pending.extend(batch)
        while len(pending) >= _CHUNK:
            yield pending[:_CHUNK]
            del pending[:_CHUNK]
    if pending:
        yield pending


def _chunk_roots(chunks: Iterator[list[bytes]], workers: int) -> Iterator[tuple[int, bytes]]:
    if workers <= 1:
        for chunk in chunks:
            yield len(chunk), _chunk_root(chunk)
        return
    # SHA-256 of short inputs holds the GIL, so parallel hashing needs processes; "spawn"
    # because forking a process that runs DuckDB's threads is unsafe.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        in_flight: deque[tuple[int, Future[bytes]]] = deque()
        for chunk in chunks:
            in_flight.append((len(chunk), pool.submit(_chunk_root, chunk)))
            if len(in_flight) >= 2 * workers:  # bounded: the stream may be far larger than memory
                size, future = in_flight.popleft()
                yield size, future.result()
        while in_flight:
            size, future = in_flight.popleft()
            yield size, future.result()


def root_of_batches(batches: Iterable[Sequence[bytes]], *, workers: int = 1) -> tuple[bytes, int]:
    """The RFC 9162 root over every id of ``batches`` in order, and the number of leaves.

    ``workers`` > 1 hashes chunks of ``2**15`` leaves in that many processes.
    """
    stack: list[tuple[int, bytes]] = []  # (size, hash), sizes strictly decreasing powers of two
    tail: list[tuple[int, bytes]] = []
    counter = [0]
    for size, node in _chunk_roots(_chunks(batches, counter), workers):
        if size < _CHUNK:  # the last, partial chunk
            tail.append((size, node))
            continue
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, node = left_size + size, node_hash(left, node)
        stack.append((size, node))
    nodes = stack + tail
    if not nodes:
        return EMPTY_ROOT, 0
    root = nodes[-1][1]
    for _size, left in reversed(nodes[:-1]):
        root = node_hash(left, root)
    return root, counter[0]


def _levels(items: Sequence[bytes]) -> list[list[bytes]]:
    levels = [[leaf_hash(x) for x in items]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def _path(levels: list[list[bytes]], index: int) -> list[bytes]:
    path: list[bytes] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):  # a last node without a sibling is carried up unchanged
            path.append(level[sibling])
        index //= 2
    return path


def inclusion_proof(items: Sequence[bytes], index: int) -> list[bytes]:
    """The RFC 9162 audit path of leaf ``index`` (``PATH(m, D[n])``)."""
    if not 0 <= index < len(items):
        raise IndexError("leaf index out of range")
    return _path(_levels(items), index)


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root implied by an audit path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError("leaf index out of range")
    fn, sn, node = index, size - 1, leaf_hash(leaf)
    for sibling in path:
        if sn == 0:
            raise ValueError("audit path too long")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("audit path too short")
    return node


@dataclass(frozen=True, slots=True)
class AbsenceProof:
    """Neighbours of an absent id in the sorted leaves, with their audit paths."""

    item: bytes
    size: int
    left: tuple[int, bytes, list[bytes]] | None  # (index, id, path) of the greatest id < item
    right: tuple[int, bytes, list[bytes]] | None  # (index, id, path) of the smallest id > item

    def as_dict(self) -> dict[str, object]:
        def side(s: tuple[int, bytes, list[bytes]] | None) -> dict[str, object] | None:
            if s is None:
                return None
            return {"index": s[0], "item_id": s[1].decode(), "path": [h.hex() for h in s[2]]}

        return {
            "item_id": self.item.decode(),
            "tree_size": self.size,
            "left": side(self.left),
            "right": side(self.right),
        }


def absence_proof(sorted_items: Sequence[bytes], item: bytes) -> AbsenceProof:
    """A proof that ``item`` is not among ``sorted_items`` (raises if it is)."""
    at = bisect.bisect_left(sorted_items, item)
    if at < len(sorted_items) and sorted_items[at] == item:
        raise ValueError("the item is in the tree; there is no proof of its absence")
    left = right = None
    levels = _levels(sorted_items) if sorted_items else []
    if at > 0:
        left = (at - 1, sorted_items[at - 1], _path(levels, at - 1))
    if at < len(sorted_items):
        right = (at, sorted_items[at], _path(levels, at))
    return AbsenceProof(item, len(sorted_items), left, right)


def verify_absence(proof: AbsenceProof, root: bytes) -> bool:
    """Whether ``proof`` shows, against ``root``, that its item is absent."""
    if proof.size == 0:
        return root == EMPTY_ROOT
    for side in (proof.left, proof.right):
        if side is not None and root_from_inclusion(side[1], side[0], proof.size, side[2]) != root:
            return False
    left, right = proof.left, proof.right
    if left is None and (right is None or right[0] != 0):
        return False
    if right is None and (left is None or left[0] != proof.size - 1):
        return False
    if left is not None and right is not None and right[0] != left[0] + 1:
        return False
    return (left is None or left[1] < proof.item) and (right is None or proof.item < right[1])

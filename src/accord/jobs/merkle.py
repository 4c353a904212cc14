"""RFC 9162 Merkle trees over blocks of sorted item ids, and proofs of absence.

A gate manifest commits to the items it let through with the root of a Merkle
tree (RFC 9162 section 2.1: leaf hash ``SHA-256(0x00 || leaf)``, node
``SHA-256(0x01 || left || right)``). The included item ids are sorted in
ascending byte order (UTF-8) and cut into consecutive *blocks* of
:data:`BLOCK_SIZE` ids (the last block may be shorter); each block is one leaf,
encoded without ambiguity by :func:`encode_block`::

    leaf = u32(k) || u32(len(id_1)) || ... || u32(len(id_k)) || id_1 || ... || id_k

(``u32``: four bytes, big-endian). Hashing per block instead of per id divides
the number of SHA-256 calls made from Python by the block size: the ids of a
block are hashed in three ``update`` calls straight from an Arrow array's
offsets and data buffers (:class:`BlockHasher`), with no Python loop over ids.

Because the ids are sorted, absence is provable: the block (or the two
neighbouring blocks) where an id would sit, with their audit paths, show that it
is not there (:func:`absence_proof`, :func:`verify_absence`). The price is that
such a proof shows up to two blocks of neighbouring item ids (content ids, not
people). :func:`reference_block_root` is the definition written plainly, used by
the tests to check the fast hasher.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from accord.errors import InvalidInput

__all__ = [
    "BLOCK_SIZE",
    "EMPTY_ROOT",
    "AbsenceProof",
    "Block",
    "BlockHasher",
    "absence_proof",
    "block_root",
    "encode_block",
    "inclusion_proof",
    "leaf_hash",
    "leaves_of_rows",
    "node_hash",
    "reference_block_root",
    "reference_root",
    "root_from_inclusion",
    "verify_absence",
]

BLOCK_SIZE = 256
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha = hashlib.sha256
_U32_MAX = 0xFFFFFFFF


def leaf_hash(leaf: bytes) -> bytes:
    return _sha(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right).digest()


def encode_block(items: Sequence[bytes]) -> bytes:
    """The leaf bytes of one block: count, each id's length, then the ids (u32 big-endian)."""
    if not 0 < len(items) <= _U32_MAX:
        raise ValueError("a block holds at least one id")
    return (
        struct.pack(">I", len(items))
        + b"".join(struct.pack(">I", len(x)) for x in items)
        + b"".join(items)
    )


def _largest_power_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` exactly as RFC 9162 defines it (recursive; for tests and small trees)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _largest_power_below(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def _blocks(items: Sequence[bytes], block_size: int) -> list[bytes]:
    return [encode_block(items[i : i + block_size]) for i in range(0, len(items), block_size)]


def reference_block_root(sorted_items: Sequence[bytes], block_size: int = BLOCK_SIZE) -> bytes:
    """The gate's root by the definition: blocks of sorted ids, encoded, then ``MTH``."""
    return reference_root(_blocks(sorted_items, block_size))


class _Frontier:
    """RFC 9162 root of a stream of leaf hashes in ``O(log n)`` memory.

    The stack holds perfect subtrees of strictly decreasing sizes (the binary
    digits of the count); folding it from the right gives ``MTH``, whose split
    is always at the largest power of two below the size.
    """

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.count = 0

    def push(self, leaf_digest: bytes) -> None:
        size, node = 1, leaf_digest
        while self.stack and self.stack[-1][0] == size:
            left_size, left = self.stack.pop()
            size, node = left_size + size, node_hash(left, node)
        self.stack.append((size, node))
        self.count += 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        root = self.stack[-1][1]
        for _size, left in reversed(self.stack[:-1]):
            root = node_hash(left, root)
        return root


_OFFSET_TYPES: dict[Any, Any] = {
    pa.string(): np.int32,
    pa.binary(): np.int32,
    pa.large_string(): np.int64,
    pa.large_binary(): np.int64,
}


def _buffers(array: pa.Array) -> tuple[np.ndarray, memoryview]:
    """The offsets (relative to the data buffer) and data of a string or binary array."""
    if array.type not in _OFFSET_TYPES:
        array = array.cast(pa.large_binary())
    if array.null_count:
        raise InvalidInput("item ids must not be missing")
    bufs = array.buffers()
    offsets = np.frombuffer(bufs[1], dtype=_OFFSET_TYPES[array.type])
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
    return offsets, data


class BlockHasher:
    """Feed sorted ids as Arrow arrays, in order; get the RFC 9162 root over their blocks.

    Checks that the ids ascend (byte order, duplicates allowed) across arrays
    too, so that an engine's sort that disagreed with byte order is caught
    instead of committed. ``leaves`` (optional) collects every leaf hash, which
    proofs need; the root itself keeps only ``O(log n)`` hashes.
    """

    def __init__(self, block_size: int = BLOCK_SIZE, *, keep_leaves: bool = False) -> None:
        if block_size < 1:
            raise ValueError("block_size must be at least 1")
        self.block_size = block_size
        self.items = 0
        self.leaves: list[bytes] | None = [] if keep_leaves else None
        self._frontier = _Frontier()
        self._pending: list[bytes] = []  # ids of the unfinished block (fewer than block_size)
        self._last: bytes | None = None
        self._full_prefix = b"\x00" + struct.pack(">I", block_size)

    def _leaf(self, digest: bytes) -> None:
        self._frontier.push(digest)
        if self.leaves is not None:
            self.leaves.append(digest)

    def add(self, array: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.add(chunk)
            return
        n = len(array)
        if n == 0:
            return
        self._check_order(array)
        b = self.block_size
        start = 0
        if self._pending:  # complete the block left unfinished by the previous array
            start = min(b - len(self._pending), n)
            self._pending.extend(_as_bytes(array.slice(0, start)))
            if len(self._pending) == b:
                self._leaf(leaf_hash(encode_block(self._pending)))
                self._pending = []
        full = (n - start) // b
        if full:
            offsets, data = _buffers(array.slice(start, full * b))
            lengths = np.diff(offsets)
            if lengths.size and int(lengths.max()) > _U32_MAX:
                raise InvalidInput("an item id is longer than 4 GiB")
            if lengths.size and int(lengths.min()) == int(lengths.max()):
                width = int(lengths[0])
                start_byte = int(offsets[0])
                span = data[start_byte : start_byte + full * b * width]
                for digest in _fixed_width_leaves(span, width, b):
                    self._leaf(digest)
            else:
                bounds = offsets[::b].tolist()
                lengths_be = memoryview(lengths.astype(">u4").tobytes())
                prefix = self._full_prefix
                for j in range(full):
                    h = _sha(prefix)
                    h.update(lengths_be[4 * j * b : 4 * (j + 1) * b])
                    h.update(data[bounds[j] : bounds[j + 1]])
                    self._leaf(h.digest())
        rest = start + full * b
        if rest < n:
            self._pending.extend(_as_bytes(array.slice(rest)))
        self.items += n

    @property
    def at_block_boundary(self) -> bool:
        """True when no block is left unfinished (what :meth:`add_hashed` needs)."""
        return not self._pending

    def add_hashed(self, leaves: Sequence[bytes], count: int, first: bytes, last: bytes) -> None:
        """Add full blocks hashed elsewhere (:func:`leaves_of_rows`), in order.

        ``count`` ids, the least ``first`` and the greatest ``last``: the order is
        checked against what came before, not inside the blocks (their sort is the
        caller's, :func:`accord.jobs.idsort.hash_sorted`).
        """
        if self._pending:
            raise ValueError("hashed blocks can only follow whole blocks")
        if count != len(leaves) * self.block_size:
            raise ValueError("hashed blocks must be full")
        if self._last is not None and first < self._last:
            raise InvalidInput("item ids reached the Merkle hasher out of byte order")
        for digest in leaves:
            self._leaf(digest)
        if count:
            self.items += count
            self._last = last

    def _check_order(self, array: pa.Array) -> None:
        import pyarrow.compute as pc

        if array.null_count:
            raise InvalidInput("item ids must not be missing")
        first = _as_bytes(array.slice(0, 1))[0]
        if self._last is not None and first < self._last:
            raise InvalidInput("item ids reached the Merkle hasher out of byte order")
        n = len(array)
        if n > 1 and pc.any(pc.less(array.slice(1), array.slice(0, n - 1))).as_py():
            raise InvalidInput("item ids reached the Merkle hasher out of byte order")
        self._last = _as_bytes(array.slice(n - 1))[0]

    def root(self) -> bytes:
        """The root over everything added (the last block may be short); ends the stream."""
        if self._pending:
            self._leaf(leaf_hash(encode_block(self._pending)))
            self._pending = []
        return self._frontier.root()

    @property
    def tree_size(self) -> int:
        return self._frontier.count + (1 if self._pending else 0)


def _fixed_width_leaves(data: memoryview | bytes, width: int, block_size: int) -> list[bytes]:
    """Leaf hashes of the full blocks of ids of one ``width`` laid end to end in ``data``.

    Every full block starts with the same count and lengths, so that part is
    hashed once and its state copied per block; ``update`` on a block's ids
    (more than 2 KiB for ids of 8 bytes or more in blocks of 256) runs without
    the GIL, so several threads hash at once.
    """
    if width > _U32_MAX:
        raise InvalidInput("an item id is longer than 4 GiB")
    head = _sha(b"\x00" + struct.pack(">I", block_size) + struct.pack(">I", width) * block_size)
    step = width * block_size
    view = memoryview(data)
    digests = []
    for start in range(0, len(view) - step + 1, step):
        h = head.copy()
        h.update(view[start : start + step])
        digests.append(h.digest())
    return digests


def leaves_of_rows(rows: np.ndarray, block_size: int = BLOCK_SIZE) -> list[bytes]:
    """Leaf hashes of sorted ids of one width, the rows of a uint8 matrix, in full blocks.

    ``len(rows)`` must be a multiple of ``block_size``; safe to call from several threads.
    """
    if rows.ndim != 2 or len(rows) % block_size:
        raise ValueError("rows must be a matrix of whole blocks")
    if not len(rows):
        return []
    return _fixed_width_leaves(np.ascontiguousarray(rows).data.cast("B"), rows.shape[1], block_size)


def _as_bytes(array: pa.Array) -> list[bytes]:
    return [x.encode() if isinstance(x, str) else bytes(x) for x in array.to_pylist()]


def block_root(
    arrays: Iterable[pa.Array | pa.ChunkedArray], block_size: int = BLOCK_SIZE
) -> tuple[bytes, int, int]:
    """``(root, tree size in blocks, number of ids)`` over sorted id arrays, in order."""
    hasher = BlockHasher(block_size)
    for array in arrays:
        hasher.add(array)
    root = hasher.root()
    return root, hasher.tree_size, hasher.items


def _levels(leaf_digests: Sequence[bytes]) -> list[list[bytes]]:
    levels = [list(leaf_digests)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def _path(levels: list[list[bytes]], index: int) -> list[bytes]:
    # pairing left to right and carrying an odd last node up unchanged is MTH's shape
    path: list[bytes] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The RFC 9162 audit path of leaf ``index`` (``PATH(m, D[n])``); leaves are leaf bytes."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    return _path(_levels([leaf_hash(x) for x in leaves]), index)


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
class Block:
    """One leaf of the tree as a proof shows it: its index, its ids, its audit path."""

    index: int
    items: tuple[bytes, ...]
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AbsenceProof:
    """The one or two consecutive blocks around where an absent id would sit."""

    item: bytes
    block_size: int
    size: int  # tree size: the number of blocks
    blocks: tuple[Block, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "item_id": self.item.decode(),
            "block_size": self.block_size,
            "tree_size": self.size,
            "blocks": [
                {
                    "index": b.index,
                    "item_ids": [x.decode() for x in b.items],
                    "path": [h.hex() for h in b.path],
                }
                for b in self.blocks
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AbsenceProof:
        """The proof from :meth:`as_dict`'s JSON form (what a person is given)."""
        try:
            return cls(
                item=str(data["item_id"]).encode(),
                block_size=int(data["block_size"]),
                size=int(data["tree_size"]),
                blocks=tuple(
                    Block(
                        int(b["index"]),
                        tuple(str(x).encode() for x in b["item_ids"]),
                        tuple(bytes.fromhex(h) for h in b["path"]),
                    )
                    for b in data["blocks"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not an absence proof: {exc}") from exc


def absence_proof(
    sorted_items: Sequence[bytes],
    item: bytes,
    block_size: int = BLOCK_SIZE,
    *,
    leaf_digests: Sequence[bytes] | None = None,
) -> AbsenceProof:
    """A proof that ``item`` is not among ``sorted_items`` (raises ``ValueError`` if it is).

    ``leaf_digests`` (the leaf hashes, e.g. from :class:`BlockHasher`) saves
    re-encoding every block; ``sorted_items`` only needs ``len`` and indexing.
    """
    n = len(sorted_items)
    at = bisect.bisect_left(sorted_items, item)
    if at < n and sorted_items[at] == item:
        raise ValueError("the item is in the tree; there is no proof of its absence")
    if n == 0:
        return AbsenceProof(item, block_size, 0, ())
    size = (n + block_size - 1) // block_size
    if leaf_digests is None:
        leaf_digests = [leaf_hash(x) for x in _blocks(sorted_items, block_size)]
    if len(leaf_digests) != size:
        raise ValueError("leaf hashes do not match the ids")
    # the blocks holding the neighbours: the greatest id below and the smallest above
    below = (at - 1) // block_size if at > 0 else None
    above = at // block_size if at < n else None
    indices = sorted({i for i in (below, above) if i is not None})
    levels = _levels(leaf_digests)
    blocks = tuple(
        Block(
            i,
            tuple(sorted_items[j] for j in range(i * block_size, min(n, (i + 1) * block_size))),
            tuple(_path(levels, i)),
        )
        for i in indices
    )
    return AbsenceProof(item, block_size, size, blocks)


def verify_absence(proof: AbsenceProof, root: bytes, tree_size: int) -> bool:
    """Whether ``proof`` shows, against ``root`` and ``tree_size``, that its item is absent.

    ``root`` and ``tree_size`` come from the manifest (an audit path alone does
    not fix the tree's size, and the edges of the tree depend on it). The
    blocks must be consecutive leaves that verify against ``root``, every
    block but the tree's last must be full, their ids must ascend, the item must
    not be among them, and it must fall within their span (or beyond the first
    or last leaf of the tree).
    """
    if proof.size != tree_size:
        return False
    if proof.size == 0:
        return not proof.blocks and root == EMPTY_ROOT
    if not 1 <= len(proof.blocks) <= 2 or proof.block_size < 1:
        return False
    first, last = proof.blocks[0].index, proof.blocks[-1].index
    if last - first != len(proof.blocks) - 1:
        return False
    items: list[bytes] = []
    for block in proof.blocks:
        count = len(block.items)
        if not 0 < count <= proof.block_size:
            return False
        if block.index < proof.size - 1 and count != proof.block_size:
            return False
        try:
            implied = root_from_inclusion(
                encode_block(block.items), block.index, proof.size, block.path
            )
        except ValueError:
            return False
        if implied != root:
            return False
        items.extend(block.items)
    if any(b < a for a, b in itertools.pairwise(items)):
        return False
    if proof.item in items:
        return False
    after_start = first == 0 or items[0] < proof.item
    before_end = last == proof.size - 1 or proof.item < items[-1]
    return after_start and before_end

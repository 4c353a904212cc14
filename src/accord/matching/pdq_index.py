"""An exact, scalable index of PDQ hashes: multi-index hashing over sorted numpy arrays.

Why: brute force compares a query with every banked hash (10M hashes = 320 MB read
per lookup). Multi-index hashing (Norouzi, Punjani & Fleet, "Fast search in Hamming
space with multi-index hashing", CVPR 2012) reads only a few thousand candidates and
still finds *every* hash within the threshold.

How it stays exact: the 256 bits are cut into ``m`` disjoint chunks of ``w`` bits
(bits are first shuffled by a fixed permutation, so that the correlated neighbouring
DCT bits of PDQ spread over all chunks; bits left over when ``m * w < 256`` are only
used for the final check). If two hashes differ in at most ``t`` bits, then at least
one chunk differs in at most ``t // m`` bits (pigeonhole). So probing, for each chunk,
every key within ``t // m`` bits of the query's key finds every true match; each
candidate is then checked with the full 256-bit Hamming distance, which removes the
false ones. The layout ``(m, w)`` is chosen per segment from its size (a cost model
that trades probes against bucket sizes, under a memory cap).

Data flow::

    add / add_arrays ─► buffer (≤ 4096 rows, scanned by brute force)
                           │ full
                           ▼
                        recent segment (MIH; growing ids appended, else rebuilt)
                           │ more than 262,144 rows
                           ▼
                        main segment (MIH; growing ids appended, else rebuilt)

    remove ─► tombstone (alive mask) in whichever tier holds the id;
              a segment with more than a quarter dead rows is rebuilt (compaction)

    query / query_many ─► one compiled search per segment (pdq_kernels: probe,
                          check candidates inline), a compiled scan of the buffer

A segment holds its rows sorted by id (so removal is a binary search), the hashes as
``(n, 4)`` uint64, and per chunk a permutation of row numbers sorted by chunk key plus
a table of bucket offsets (``offsets[c, key] .. offsets[c, key + 1]``). Memory is
about 32 (hash) + 8 (id) + 4·m (permutations) + 1 (alive) bytes per row plus the
offset tables; at 10M rows the chosen layout (11 chunks of 23 bits) uses about 122
bytes per hash. Snapshots (:meth:`PdqIndex.save` / :meth:`PdqIndex.load`) are the main
segment's arrays as ``.npy`` files, its tombstones and the smaller tiers' rows, plus a
small JSON header, read with ``allow_pickle=False``; neither saving nor loading
rebuilds the main segment. :meth:`PdqIndex.frozen` gives a copy that later changes do
not touch (segments are immutable apart from their tombstones, which it copies), so a
serving process can save while it goes on taking changes.

The loops (chunk keys, bucket tables, search, scan) are numba kernels in
:mod:`accord.matching.pdq_kernels`; this module holds the structure around them. It is
pure computation over numpy arrays, apart from ``save``/``load``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from accord.errors import InvalidInput, InvalidSignal
from accord.matching import pdq_kernels
from accord.signals.base import IndexHit, SignalIndex

__all__ = [
    "DEFAULT_THRESHOLD",
    "SNAPSHOT_FORMAT",
    "PdqIndex",
    "bytes_to_hex",
    "hamming_reference",
    "hex_to_bytes",
]

HASH_BITS: Final = 256
HASH_BYTES: Final = 32
DEFAULT_THRESHOLD: Final = 31
SNAPSHOT_FORMAT: Final = "accord.pdq_index"
SNAPSHOT_VERSION: Final = 2
"""Version 2 adds the main segment's tombstones and the rows of the smaller tiers
(``alive.npy``, ``tail_ids.npy``, ``tail_hashes.npy``), so saving never rebuilds;
version 1 folders (main only, all rows alive) are still read."""

# Tier sizes: the buffer is scanned by brute force on every query; it moves into the
# recent segment when full, and recent into main when it holds RECENT_MIN_ROWS rows.
BUFFER_ROWS: Final = 4096
RECENT_MIN_ROWS: Final = 262144
DEAD_FRACTION: Final = 0.25
# A segment grows by appends while its layout costs at most this many times the best
# layout for its new size, and is rebuilt beyond. At 2 (sessions 3-5) a bank bulk-loaded
# to 10M through the service kept the 12 x 21 bits chosen at 3M (1.65x the work of
# 11 x 23 a lookup); at 1.5 it is rebuilt at 2.4M and 9.8M and ends at 11 x 23.
APPEND_COST_MAX: Final = 1.5
# A segment's arrays may hold at most this many bytes a row: hash 32, id 8, alive 1,
# 4 a chunk of row numbers, and the offset tables (at least 4 MiB of tables is always
# allowed, for small segments). 123 leaves the process's own few bytes a hash (numba,
# the id map) under the 128 at 10M rows, where it allows 11 x 23 bits
# (121.9 B/hash): 18% less CPU a lookup than 11 x 22 (103.5 B/hash) in an A/B run.
ROW_BYTES_MAX: Final = 123
ROW_BYTES_FIXED: Final = HASH_BYTES + 8 + 1
TABLE_BYTES_MIN: Final = 4 << 20
# Above this many probes per query a segment is scanned by brute force instead.
MAX_PROBES: Final = 20000
# Room for this many hits is made before a lookup; the kernels resume if they need more.
HITS_CAPACITY = 64
# The fixed bit shuffle applied before chunking (persisted in snapshots all the same).
_BIT_ORDER: Final = np.random.default_rng(0x5EED_0BD0).permutation(HASH_BITS).astype(np.int16)

U8Array = npt.NDArray[np.uint8]
U32Array = npt.NDArray[np.uint32]
U64Array = npt.NDArray[np.uint64]
I32Array = npt.NDArray[np.int32]
I64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --- hex helpers and the reference comparison ------------------------------------------


def hex_to_bytes(value: str) -> bytes:
    """The 32 bytes of a 64-character PDQ hex string; raises :class:`InvalidSignal`."""
    text = value.strip()
    if len(text) != 2 * HASH_BYTES:
        raise InvalidSignal(
            f"a PDQ hash is 64 hex characters, got {len(text)}", signal_type="pdq", value=value
        )
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidSignal(
            "a PDQ hash holds only hex digits 0-9 and a-f", signal_type="pdq", value=value
        ) from None


def bytes_to_hex(value: bytes | U8Array) -> str:
    """The lower-case hex form of 32 hash bytes."""
    return bytes(value).hex()


def hamming_reference(a: str, b: str) -> int:
    """The slow, obviously right PDQ distance: the number of differing bits."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _hashes_from_hex(values: Sequence[str]) -> U8Array:
    # All 64 characters long (checked in C): one bytes.fromhex of them joined, which
    # fails on anything but hex digits and whitespace, and whitespace leaves it short
    # (about 10x faster than one value at a time).
    if set(map(len, values)) <= {2 * HASH_BYTES}:
        try:
            joined = bytes.fromhex("".join(values))
        except (ValueError, TypeError):
            joined = b""  # value by value below, for the message
        if len(joined) == HASH_BYTES * len(values):  # no whitespace took a digit's place
            return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), HASH_BYTES).copy()
    out = np.empty((len(values), HASH_BYTES), dtype=np.uint8)
    for i, value in enumerate(values):
        out[i] = np.frombuffer(hex_to_bytes(value), dtype=np.uint8)
    return out


def _as_hash_matrix(hashes: npt.ArrayLike, what: str) -> U8Array:
    array = np.asarray(hashes)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != HASH_BYTES:
        raise InvalidInput(
            f"{what} must be a uint8 array of shape (n, 32), got {array.dtype} {array.shape}",
            shape=array.shape,
        )
    return np.ascontiguousarray(array)


def _as_words(hashes: U8Array) -> U64Array:
    """``(n, 32)`` bytes viewed as ``(n, 4)`` 64-bit words (no copy when contiguous)."""
    return np.ascontiguousarray(hashes).view(np.uint64).reshape(-1, 4)


# --- layout: how the bits are cut into chunks ------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    chunks: int
    width: int

    @property
    def buckets(self) -> int:
        return 1 << self.width


def _probe_count(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(radius + 1))


def _radii(chunks: int, threshold: int) -> list[int]:
    """The probe radius of each chunk: ``r = threshold // chunks`` for most of them,
    ``r - 1`` for the last ``chunks * (r + 1) - threshold - 1`` (``-1``: not probed).

    Why this is exact (the general pigeonhole of multi-index hashing): if every chunk
    differed in more than its radius, the distance would be at least
    ``sum(r_c + 1) = threshold + 1``. At 11 chunks and threshold 31 one chunk is
    probed at radius 1 (23 probes instead of 254: 8% fewer probes and candidates).
    """
    r = threshold // chunks
    lowered = chunks * (r + 1) - (threshold + 1)
    return [r] * (chunks - lowered) + [r - 1] * lowered


@cache  # the layout search asks it thousands of times a merge, a lookup once per segment
def _total_probes(layout: _Layout, threshold: int) -> int:
    return sum(_probe_count(layout.width, r) for r in _radii(layout.chunks, threshold))


# The compiled search's cost of one probe (its bucket bounds), one probed bucket that
# is not empty (its row numbers) and one candidate (its hash): cache misses measured at
# 10M rows as about 16, 24 and 19 ns (``benchmarks/matching.py``, 2 shared cores).
PROBE_COST: Final = 1.0
BUCKET_COST: Final = 1.5
CANDIDATE_COST: Final = 1.2


def _layout_cost(layout: _Layout, rows: int, threshold: int) -> float:
    """Estimated cost of a lookup in units of one probe, with uniform buckets assumed:
    every probe reads its bucket bounds, a non-empty bucket its row numbers (one cache
    line), and each candidate its hash."""
    probes = _total_probes(layout, threshold)
    load = rows / layout.buckets
    return probes * (PROBE_COST + BUCKET_COST * -math.expm1(-load) + CANDIDATE_COST * load)


def _choose_layout(rows: int, threshold: int) -> _Layout:
    """The ``(m, w)`` with the least estimated work per query, under the memory cap.

    Work is counted by :func:`_layout_cost` (cache misses of the compiled search).
    """
    best: tuple[float, _Layout] | None = None
    for chunks in range(8, 33):
        cap = max(TABLE_BYTES_MIN, (ROW_BYTES_MAX - ROW_BYTES_FIXED - 4 * chunks) * rows)
        for width in range(8, min(32, HASH_BITS // chunks) + 1):
            layout = _Layout(chunks, width)
            if chunks * ((1 << width) + 1) * 4 > cap:
                break
            if _total_probes(layout, threshold) > MAX_PROBES:
                break
            cost = _layout_cost(layout, rows, threshold)
            if best is None or cost < best[0]:
                best = (cost, layout)
    return best[1] if best is not None else _Layout(16, 16)


_MASKS: dict[tuple[int, int], U32Array] = {}


def _masks(width: int, radius: int) -> U32Array:
    """Every ``width``-bit value with at most ``radius`` bits set (the probe offsets)."""
    key = (width, radius)
    if key not in _MASKS:
        values = [0]
        for k in range(1, radius + 1):
            values.extend(sum(1 << b for b in bits) for bits in combinations(range(width), k))
        _MASKS[key] = np.asarray(values, dtype=np.uint32)
    return _MASKS[key]


_POSITIONS: dict[tuple[_Layout, bytes], tuple[I64Array, U64Array]] = {}


def _bits_in_words() -> I64Array:
    """``out[b]``: where bit ``b`` (``np.unpackbits`` order) lies in a hash viewed as four
    native 64-bit words, as ``word * 64 + shift`` (so it holds on any byte order)."""
    one_bit_each = np.packbits(np.eye(HASH_BITS, dtype=np.uint8), axis=1)
    words = one_bit_each.view(np.uint64).reshape(HASH_BITS, 4)
    word = np.argmax(words != 0, axis=1)
    shift = np.log2(words[np.arange(HASH_BITS), word].astype(np.float64))
    out: I64Array = (word * 64 + shift).astype(np.int64)
    return out


_BIT_IN_WORDS: Final = _bits_in_words()


def _bit_positions(layout: _Layout, bit_order: npt.NDArray[np.int16]) -> tuple[I64Array, U64Array]:
    """Where each chunk's key bits are in a hash seen as four 64-bit words.

    ``positions[c, j]`` (``word * 64 + shift``) is bit ``bit_order[c * w + j]`` of the hash,
    counting bits as ``np.unpackbits`` does (most significant bit of byte 0 first), and it
    becomes bit ``j`` of chunk ``c``'s key; ``chunk_masks[c]`` has the chunk's bits set.
    """
    cache_key = (layout, bit_order.tobytes())
    if cache_key not in _POSITIONS:
        m, w = layout.chunks, layout.width
        positions = _BIT_IN_WORDS[bit_order[: m * w].astype(np.int64)].reshape(m, w)
        chunk_masks = np.zeros((m, 4), dtype=np.uint64)
        for c in range(m):
            for p in positions[c].tolist():
                chunk_masks[c, p >> 6] |= np.uint64(1 << (p & 63))
        _POSITIONS[cache_key] = (np.ascontiguousarray(positions), chunk_masks)
    return _POSITIONS[cache_key]


def _chunk_keys(words: U64Array, positions: I64Array, chunk: int) -> U32Array:
    """The ``chunk``-th key of every row of ``words`` (``(n, 4)`` uint64)."""
    out = np.empty(len(words), dtype=np.uint32)
    pdq_kernels.chunk_column(np.ascontiguousarray(words), positions[chunk], out)
    return out


def _unique(values: I64Array) -> I64Array:
    """Sorted distinct values (``np.unique`` without its hash-table path, which is slower here)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


class _Plan(NamedTuple):
    """What the compiled search needs besides a segment's arrays: a function of the
    segment's layout, bit order and the threshold only, so a segment keeps one per
    threshold instead of working it out again on every lookup (about 15 us of Python)."""

    positions: I64Array
    chunk_masks: U64Array
    masks: U32Array
    radii: I64Array
    counts: I64Array


def _plan(layout: _Layout, bit_order: npt.NDArray[np.int16], threshold: int) -> _Plan | None:
    """The search plan of ``layout`` at ``threshold``; None when probing would cost more
    than a scan (:data:`MAX_PROBES`)."""
    if _total_probes(layout, threshold) > MAX_PROBES:
        return None
    positions, chunk_masks = _bit_positions(layout, bit_order)
    radii = _radii(layout.chunks, threshold)
    return _Plan(
        positions,
        chunk_masks,
        # masks are ordered by bit count, so a chunk of radius r takes the first ones
        _masks(layout.width, max(radii)),
        np.asarray(radii, dtype=np.int64),
        np.asarray([_probe_count(layout.width, r) for r in radii], dtype=np.int64),
    )


# --- segments: immutable MIH structures with tombstones --------------------------------


class _Segment:
    """Rows sorted by id, their hashes, and per chunk a bucket table; rows die by tombstone."""

    __slots__ = ("alive", "bit_order", "dead", "ids", "layout", "offsets", "perm", "plans", "words")

    def __init__(
        self,
        ids: I64Array,
        words: U64Array,
        layout: _Layout,
        perm: I32Array,
        offsets: I32Array,
        bit_order: npt.NDArray[np.int16],
        alive: BoolArray | None = None,
    ) -> None:
        self.ids = ids
        self.words = words
        self.layout = layout
        self.perm = perm
        self.offsets = offsets
        self.bit_order = bit_order
        self.alive = alive if alive is not None else np.ones(len(ids), dtype=np.bool_)
        self.dead = int(len(ids) - np.count_nonzero(self.alive))
        self.plans: dict[int, _Plan | None] = {}

    @classmethod
    def build(cls, ids: I64Array, hashes: U8Array, threshold: int) -> _Segment:
        """A segment over ``ids``/``hashes`` (ids unique), laid out for ``threshold``."""
        order = np.argsort(ids)
        ids = np.ascontiguousarray(ids[order])
        hashes = np.ascontiguousarray(hashes[order])
        n = len(ids)
        layout = _choose_layout(n, threshold)
        words = _as_words(hashes)
        positions, _ = _bit_positions(layout, _BIT_ORDER)
        perm = np.empty((layout.chunks, n), dtype=np.int32)
        offsets = np.zeros((layout.chunks, layout.buckets + 1), dtype=np.int32)
        for c in range(layout.chunks if n else 0):
            # a counting sort by key; rows stay in ascending order inside a bucket
            pdq_kernels.bucket_table(_chunk_keys(words, positions, c), perm[c], offsets[c])
        return cls(ids, words, layout, perm, offsets, _BIT_ORDER.copy())

    def can_append(self, ids: I64Array, threshold: int) -> bool:
        """Whether :meth:`appended` applies: new ids above every id here, and this
        segment's layout still within :data:`APPEND_COST_MAX` times the cost of the best
        one for the new size."""
        if len(self.ids) == 0 or len(ids) == 0 or int(ids.min()) <= int(self.ids[-1]):
            return False
        rows = len(self.ids) + len(ids)
        best = _choose_layout(rows, threshold)
        return _layout_cost(self.layout, rows, threshold) <= APPEND_COST_MAX * _layout_cost(
            best, rows, threshold
        )

    def appended(self, ids: I64Array, hashes: U8Array) -> _Segment:
        """This segment plus rows whose ids are all above its own, without a rebuild.

        Row numbers of the old rows do not change, so each chunk's permutation only
        needs the new rows put at the end of their buckets and the offsets shifted by the
        new bucket counts: one compiled pass a chunk (``pdq_kernels.merge_table``).
        """
        order = np.argsort(ids)
        ids = np.ascontiguousarray(ids[order])
        hashes = np.ascontiguousarray(hashes[order])
        n, k = len(self.ids), len(ids)
        words = _as_words(hashes)
        positions, _ = _bit_positions(self.layout, self.bit_order)
        m, buckets = self.layout.chunks, self.layout.buckets
        perm = np.empty((m, n + k), dtype=np.int32)
        offsets = np.empty((m, buckets + 1), dtype=np.int32)
        for c in range(m):
            column = _chunk_keys(words, positions, c)
            pdq_kernels.merge_table(column, n, self.perm[c], self.offsets[c], perm[c], offsets[c])
        return _Segment(
            np.concatenate([self.ids, ids]),
            np.concatenate([self.words, words]),
            self.layout,
            perm,
            offsets,
            self.bit_order,
            np.concatenate([self.alive, np.ones(k, dtype=np.bool_)]),
        )

    def __len__(self) -> int:
        return len(self.ids) - self.dead

    def positions(self, ids: I64Array) -> I64Array:
        """Row numbers of the live rows among ``ids`` (unknown and dead ids dropped)."""
        if len(self.ids) == 0 or len(ids) == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, len(self.ids) - 1)
        found = (self.ids[pos] == ids) & self.alive[pos]
        return np.asarray(pos[found], dtype=np.int64)

    def kill(self, ids: I64Array) -> int:
        pos = self.positions(ids)
        self.alive[pos] = False
        self.dead += len(pos)
        return len(pos)

    def with_own_tombstones(self) -> _Segment:
        """The same segment with a copy of its tombstones (see :meth:`PdqIndex.frozen`)."""
        copy = _Segment(
            self.ids,
            self.words,
            self.layout,
            self.perm,
            self.offsets,
            self.bit_order,
            self.alive.copy(),
        )
        copy.plans = self.plans
        return copy

    def live_rows(self) -> tuple[I64Array, U8Array]:
        keep = self.alive
        return self.ids[keep], self.words[keep].view(np.uint8).reshape(-1, HASH_BYTES)

    def search(self, queries: U64Array, threshold: int, out: _Hits) -> None:
        """Add to ``out`` every live row within ``threshold`` of each of ``queries``
        (``(q, 4)`` uint64), each row once per query."""
        if len(self.ids) == 0:
            return
        if threshold not in self.plans:
            self.plans[threshold] = _plan(self.layout, self.bit_order, threshold)
        plan = self.plans[threshold]
        if plan is None:
            out.scan(queries, self.words, self.alive, self.ids, threshold)
            return
        done = 0
        while done < len(queries):
            out.count, done = pdq_kernels.search(
                queries,
                plan.positions,
                plan.chunk_masks,
                plan.masks,
                self.offsets,
                self.perm,
                self.words,
                self.alive,
                self.ids,
                threshold,
                plan.radii,
                plan.counts,
                out.query,
                out.id,
                out.distance,
                out.count,
                done,
            )
            if done < len(queries):
                out.grow(2 * len(out.query))

    def nbytes(self) -> int:
        arrays = (self.ids, self.words, self.perm, self.offsets, self.alive)
        return sum(a.nbytes for a in arrays)


class _Hits:
    """Output arrays the kernels append ``(query number, id, distance)`` to, grown on demand."""

    __slots__ = ("count", "distance", "id", "query")

    def __init__(self, capacity: int | None = None) -> None:
        capacity = HITS_CAPACITY if capacity is None else capacity
        self.query = np.empty(capacity, dtype=np.int64)
        self.id = np.empty(capacity, dtype=np.int64)
        self.distance = np.empty(capacity, dtype=np.int64)
        self.count = 0

    def fits(self, count: int) -> bool:
        """Keep ``count`` hits if they fitted; else make room for them and return False
        (the caller runs its kernel again from the old count)."""
        if count <= len(self.query):
            self.count = count
            return True
        self.grow(max(count, 2 * len(self.query)))
        return False

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` hits, keeping the ones held."""
        for name in ("query", "id", "distance"):
            grown = np.empty(capacity, dtype=np.int64)
            grown[: self.count] = getattr(self, name)[: self.count]
            setattr(self, name, grown)

    def scan(
        self, queries: U64Array, words: U64Array, alive: BoolArray, ids: I64Array, threshold: int
    ) -> None:
        """Brute force over ``words``: every live row within ``threshold``."""
        while True:
            count = pdq_kernels.scan(
                queries,
                words,
                alive,
                ids,
                threshold,
                self.query,
                self.id,
                self.distance,
                self.count,
            )
            if self.fits(count):
                return

    def results(self, queries: int) -> list[list[IndexHit]]:
        """One list per query, sorted by distance, then id."""
        results: list[list[IndexHit]] = [[] for _ in range(queries)]
        if self.count == 0:
            return results
        if queries == 1:  # one lookup (the service's): no query numbers to sort by
            ids, dist = self.id[: self.count], self.distance[: self.count]
            if self.count > 1:
                order = np.lexsort((ids, dist))
                ids, dist = ids[order], dist[order]
            return [list(map(IndexHit, ids.tolist(), dist.tolist()))]
        qnum, ids, dist = (
            self.query[: self.count],
            self.id[: self.count],
            self.distance[: self.count],
        )
        order = np.lexsort((ids, dist, qnum))
        ids_list, dist_list = ids[order].tolist(), dist[order].tolist()
        bounds = np.searchsorted(qnum[order], np.arange(queries + 1)).tolist()
        for qi in range(queries):
            lo, hi = bounds[qi], bounds[qi + 1]
            if hi > lo:  # map() with positional arguments: about twice as fast as a loop
                results[qi] = list(map(IndexHit, ids_list[lo:hi], dist_list[lo:hi]))
        return results


def _empty_segment(threshold: int) -> _Segment:
    return _Segment.build(
        np.empty(0, dtype=np.int64), np.empty((0, HASH_BYTES), dtype=np.uint8), threshold
    )


# --- the index -------------------------------------------------------------------------


class PdqIndex(SignalIndex):
    """Exact PDQ lookups within a Hamming threshold over millions of hashes.

    ``add`` replaces an id that is already present. Results are the same as comparing
    the query with every entry by Hamming distance (see :func:`hamming_reference`).
    Not thread-safe for writers: a single writer (the matcher) owns each index.
    """

    def __init__(self, threshold: int = DEFAULT_THRESHOLD) -> None:
        if not 0 <= threshold < HASH_BITS:
            raise InvalidInput(f"a PDQ threshold is 0..255 bits, got {threshold}")
        pdq_kernels.warm_up()
        self.threshold = int(threshold)
        self._main = _empty_segment(self.threshold)
        self._recent = _empty_segment(self.threshold)
        self._buffer_ids = np.empty(0, dtype=np.int64)
        self._buffer_words = np.empty((0, 4), dtype=np.uint64)

    # -- SignalIndex ----------------------------------------------------------------------

    def add(self, ids: Sequence[int], values: Sequence[str]) -> None:
        if len(ids) != len(values):
            raise InvalidInput(f"{len(ids)} ids for {len(values)} values")
        self.add_arrays(np.asarray(ids, dtype=np.int64), _hashes_from_hex(values))

    def remove(self, ids: Iterable[int]) -> None:
        self.remove_arrays(np.fromiter(ids, dtype=np.int64))

    def query(self, value: str, threshold: float | None = None) -> list[IndexHit]:
        query = np.frombuffer(hex_to_bytes(value), dtype=np.uint8).reshape(1, HASH_BYTES)
        return self.query_many(query, threshold)[0]

    def __len__(self) -> int:
        return len(self._main) + len(self._recent) + len(self._buffer_ids)

    # -- fast paths -----------------------------------------------------------------------

    def add_arrays(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Add (or replace) ``ids`` (int64) with ``hashes`` (uint8, shape ``(n, 32)``)."""
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        hash_array = _as_hash_matrix(hashes, "hashes")
        if len(id_array) != len(hash_array):
            raise InvalidInput(f"{len(id_array)} ids for {len(hash_array)} hashes")
        if len(id_array) == 0:
            return
        if len(_unique(id_array)) != len(id_array):
            # last occurrence of a repeated id wins, as if added one by one
            reverse_unique = np.unique(id_array[::-1], return_index=True)[1]
            keep = np.sort(len(id_array) - 1 - reverse_unique)
            id_array, hash_array = id_array[keep], hash_array[keep]
        self.remove_arrays(id_array)
        if len(id_array) >= BUFFER_ROWS:
            self._merge_recent(id_array, hash_array)
            return
        self._buffer_ids = np.concatenate([self._buffer_ids, id_array])
        self._buffer_words = np.concatenate([self._buffer_words, _as_words(hash_array)])
        if len(self._buffer_ids) >= BUFFER_ROWS:
            buffer_hashes = self._buffer_words.view(np.uint8).reshape(-1, HASH_BYTES)
            buffer_ids = self._buffer_ids
            self._buffer_ids = np.empty(0, dtype=np.int64)
            self._buffer_words = np.empty((0, 4), dtype=np.uint64)
            self._merge_recent(buffer_ids, buffer_hashes)

    def remove_arrays(self, ids: npt.ArrayLike) -> None:
        """Remove ``ids`` (int64); unknown ids are ignored."""
        id_array = _unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        if len(id_array) == 0:
            return
        if len(self._buffer_ids):
            keep = ~np.isin(self._buffer_ids, id_array)
            if not keep.all():
                self._buffer_ids = self._buffer_ids[keep]
                self._buffer_words = self._buffer_words[keep]
        for segment in (self._recent, self._main):
            segment.kill(id_array)
        if self._recent.dead > DEAD_FRACTION * len(self._recent.ids):
            self._recent = _Segment.build(*self._recent.live_rows(), self.threshold)
        if self._main.dead > DEAD_FRACTION * len(self._main.ids):
            self._main = _Segment.build(*self._main.live_rows(), self.threshold)

    def query_many(
        self, hashes: npt.ArrayLike, threshold: float | None = None
    ) -> list[list[IndexHit]]:
        """For each row of ``hashes`` (uint8, ``(m, 32)``, or a sequence of hex strings),
        its hits sorted by distance, id: one compiled search per tier for all the queries.

        An id lives in one tier only (``add`` removes it from the others first), and a
        segment reports each row once, so hits need no deduplication.
        """
        if isinstance(hashes, list | tuple) and hashes and isinstance(hashes[0], str):
            hashes = _hashes_from_hex(hashes)
        queries = _as_words(_as_hash_matrix(hashes, "queries"))
        if not queries.flags.writeable:  # the kernels are compiled for writeable arrays
            queries = queries.copy()
        limit = self._threshold(threshold)
        hits = _Hits()
        for segment in (self._main, self._recent):
            if len(segment):
                segment.search(queries, limit, hits)
        if len(self._buffer_ids):
            alive = np.ones(len(self._buffer_ids), dtype=np.bool_)
            hits.scan(queries, self._buffer_words, alive, self._buffer_ids, limit)
        return hits.results(len(queries))

    def ids(self) -> I64Array:
        """Every live id (sorted)."""
        parts = [s.ids[s.alive] for s in (self._main, self._recent)] + [self._buffer_ids]
        parts = [part for part in parts if len(part)]
        if len(parts) == 1 and parts[0] is not self._buffer_ids:
            return parts[0]  # a segment's rows are sorted by id: no sort of 10M ids
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def nbytes(self) -> int:
        """Bytes held by the index's arrays (what ``RAM per hash`` is computed from)."""
        buffer = self._buffer_ids.nbytes + self._buffer_words.nbytes
        return self._main.nbytes() + self._recent.nbytes() + buffer

    def compact(self) -> None:
        """Fold every tier into one main segment without tombstones."""
        ids, hashes = self._all_live_rows()
        self._main = _Segment.build(ids, hashes, self.threshold)
        self._recent = _empty_segment(self.threshold)
        self._buffer_ids = np.empty(0, dtype=np.int64)
        self._buffer_words = np.empty((0, 4), dtype=np.uint64)

    # -- snapshots ------------------------------------------------------------------------

    def frozen(self) -> PdqIndex:
        """A copy that later changes to this index do not touch, made in milliseconds.

        Segments never change their arrays, only their tombstones (``alive``), so the
        copy shares the arrays and copies the tombstones and the buffer: 10 MB at 10M
        rows. The serving matcher takes one under its lock and saves it outside."""
        copy = PdqIndex.__new__(PdqIndex)
        copy.threshold = self.threshold
        copy._main = self._main.with_own_tombstones()
        copy._recent = self._recent.with_own_tombstones()
        copy._buffer_ids = self._buffer_ids.copy()
        copy._buffer_words = self._buffer_words.copy()
        return copy

    def save(self, path: str | Path) -> None:
        """Write a snapshot folder: ``.npy`` arrays plus ``index.json``, written last.

        The main segment is written as it is, with its tombstones; the recent segment's
        and the buffer's live rows are written as rows (at most ~266k of them), which
        :meth:`load` adds back. Nothing is rebuilt and this index is not changed."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        main = self._main
        tail_ids, tail_hashes = self._tail_rows()
        arrays: dict[str, npt.NDArray[Any]] = {
            "ids": main.ids,
            "hashes": main.words.view(np.uint8).reshape(-1, HASH_BYTES),
            "perm": main.perm,
            "offsets": main.offsets,
            "bit_order": main.bit_order,
            "alive": main.alive,
            "tail_ids": tail_ids,
            "tail_hashes": tail_hashes,
        }
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        header = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "threshold": self.threshold,
            "count": len(main.ids),
            "tail": len(arrays["tail_ids"]),
            "chunks": main.layout.chunks,
            "width": main.layout.width,
        }
        # the header is written last: a folder without it is an unfinished snapshot
        (folder / "index.json").write_text(json.dumps(header, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = False) -> PdqIndex:
        """Read a snapshot written by :meth:`save` (never unpickles anything)."""
        folder = Path(path)
        try:
            header = json.loads((folder / "index.json").read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{folder} holds no readable PDQ index snapshot: {exc}") from None
        version = header.get("version")
        if header.get("format") != SNAPSHOT_FORMAT or version not in (1, SNAPSHOT_VERSION):
            raise InvalidInput(
                f"{folder} is not a version 1 or {SNAPSHOT_VERSION} {SNAPSHOT_FORMAT} snapshot",
                format=header.get("format"),
                version=version,
            )
        mode: Any = "r" if mmap else None

        def read(name: str) -> npt.NDArray[Any]:
            try:
                array: npt.NDArray[Any] = np.load(
                    folder / f"{name}.npy", mmap_mode=mode, allow_pickle=False
                )
                return array
            except (OSError, ValueError) as exc:
                raise InvalidInput(f"snapshot array {name}.npy cannot be read: {exc}") from None

        layout = _Layout(int(header["chunks"]), int(header["width"]))
        count = int(header["count"])
        ids, hashes, perm = read("ids"), read("hashes"), read("perm")
        offsets, bit_order = read("offsets"), read("bit_order")
        expected: dict[str, tuple[npt.NDArray[Any], Any, tuple[int, ...]]] = {
            "ids": (ids, np.int64, (count,)),
            "hashes": (hashes, np.uint8, (count, HASH_BYTES)),
            "perm": (perm, np.int32, (layout.chunks, count)),
            "offsets": (offsets, np.int32, (layout.chunks, layout.buckets + 1)),
            "bit_order": (bit_order, np.int16, (HASH_BITS,)),
        }
        if version == 1:
            alive = np.ones(count, dtype=np.bool_)
            tail_ids = np.empty(0, dtype=np.int64)
            tail_hashes = np.empty((0, HASH_BYTES), dtype=np.uint8)
        else:
            # tombstones change while serving: always read into memory, never mapped
            alive = np.array(read("alive"))
            tail_ids, tail_hashes = read("tail_ids"), read("tail_hashes")
            tail = int(header["tail"])
            expected |= {
                "alive": (alive, np.bool_, (count,)),
                "tail_ids": (tail_ids, np.int64, (tail,)),
                "tail_hashes": (tail_hashes, np.uint8, (tail, HASH_BYTES)),
            }
        for name, (array, dtype, shape) in expected.items():
            if array.dtype != dtype or array.shape != shape:
                raise InvalidInput(
                    f"snapshot array {name}.npy is {array.dtype} {array.shape}, "
                    f"expected {np.dtype(dtype)} {shape}"
                )
        if not np.array_equal(np.sort(bit_order), np.arange(HASH_BITS)):
            raise InvalidInput("snapshot bit_order is not a permutation of 0..255")
        if count and (
            int(perm.min()) < 0
            or int(perm.max()) >= count
            or np.any(offsets[:, 0] != 0)
            or np.any(offsets[:, -1] != count)
            or np.any(np.diff(ids) <= 0)
        ):
            raise InvalidInput("snapshot arrays do not describe a consistent index")
        index = cls(int(header["threshold"]))
        words = hashes.view(np.uint64).reshape(-1, 4)
        index._main = _Segment(ids, words, layout, perm, offsets, bit_order, alive)
        if len(tail_ids):
            index.add_arrays(np.asarray(tail_ids), np.asarray(tail_hashes))
        return index

    # -- internals ------------------------------------------------------------------------

    def _threshold(self, threshold: float | None) -> int:
        if threshold is None:
            return self.threshold
        value = int(threshold)
        if value != threshold or not 0 <= value < HASH_BITS:
            raise InvalidInput(f"a PDQ threshold is a whole number of bits 0..255, got {threshold}")
        return value

    def _merge_recent(self, ids: I64Array, hashes: U8Array) -> None:
        """Fold new rows into the recent segment, and recent into main once it is full.

        New ids above every id already held (bank row ids grow) are appended without a
        rebuild (:meth:`_Segment.appended`). When recent moves into main, the rows whose
        ids are not above main's (replacements, out-of-order ids) stay in recent if they
        are few, so that main is rebuilt only for a bulk load out of order.
        """
        if len(self._recent) + len(ids) <= RECENT_MIN_ROWS:
            self._recent = self._extend(self._recent, ids, hashes)
            return
        recent_ids, recent_hashes = self._recent.live_rows()
        all_ids = np.concatenate([recent_ids, ids])
        all_hashes = np.concatenate([recent_hashes, hashes])
        self._recent = _empty_segment(self.threshold)
        if len(self._main.ids):
            above = all_ids > self._main.ids[-1]
            below = int(len(above) - np.count_nonzero(above))
            if 0 < below <= RECENT_MIN_ROWS // 2:
                self._recent = _Segment.build(all_ids[~above], all_hashes[~above], self.threshold)
                all_ids, all_hashes = all_ids[above], all_hashes[above]
        if len(all_ids):
            self._main = self._extend(self._main, all_ids, all_hashes)

    def _extend(self, segment: _Segment, ids: I64Array, hashes: U8Array) -> _Segment:
        if segment.can_append(ids, self.threshold):
            return segment.appended(ids, hashes)
        old_ids, old_hashes = segment.live_rows()
        return _Segment.build(
            np.concatenate([old_ids, ids]), np.concatenate([old_hashes, hashes]), self.threshold
        )

    def _tail_rows(self) -> tuple[I64Array, U8Array]:
        """The live rows of the tiers below main: the recent segment's, then the buffer's."""
        recent_ids, recent_hashes = self._recent.live_rows()
        buffer_hashes = self._buffer_words.view(np.uint8).reshape(-1, HASH_BYTES)
        return (
            np.concatenate([recent_ids, self._buffer_ids]),
            np.concatenate([recent_hashes, buffer_hashes]),
        )

    def _all_live_rows(self) -> tuple[I64Array, U8Array]:
        main_ids, main_hashes = self._main.live_rows()
        tail_ids, tail_hashes = self._tail_rows()
        return np.concatenate([main_ids, tail_ids]), np.concatenate([main_hashes, tail_hashes])

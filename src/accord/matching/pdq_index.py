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

    query / query_many ─► probe every segment, check candidates, scan the buffer

A segment holds its rows sorted by id (so removal is a binary search), the hashes as
``(n, 4)`` uint64, and per chunk a permutation of row numbers sorted by chunk key plus
a table of bucket offsets (``offsets[c, key] .. offsets[c, key + 1]``). Memory is
about 32 (hash) + 8 (id) + 4·m (permutations) + 1 (alive) bytes per row plus the
offset tables; at 10M rows the chosen layout (11 chunks of 22 bits) uses about 104
bytes per hash. Snapshots (:meth:`PdqIndex.save` / :meth:`PdqIndex.load`) are these
arrays as ``.npy`` files plus a small JSON header, read with ``allow_pickle=False``;
loading needs no rebuild.

This module is pure computation over numpy arrays, apart from ``save``/``load``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Final

import faiss
import numpy as np
import numpy.typing as npt

from accord.errors import InvalidInput, InvalidSignal
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
SNAPSHOT_VERSION: Final = 1

# Tier sizes: the buffer is scanned by brute force on every query; it moves into the
# recent segment when full, and recent into main when it holds RECENT_MIN_ROWS rows.
BUFFER_ROWS: Final = 4096
RECENT_MIN_ROWS: Final = 262144
DEAD_FRACTION: Final = 0.25
# Offset tables may use at most this many bytes per row (or 4 MiB, for small segments).
TABLE_BYTES_PER_ROW: Final = 20
TABLE_BYTES_MIN: Final = 4 << 20
# Above this many probes per query a segment is scanned by brute force instead.
MAX_PROBES: Final = 20000
# query_many works through its queries in blocks of this many.
QUERY_BLOCK: Final = 16
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


def _distances(words: U64Array, query: U64Array) -> I64Array:
    """Hamming distances of each row of ``words`` (``(k, 4)`` uint64) to one ``query`` (4,).

    faiss's popcount loop is about 20 times faster than ``np.bitwise_count`` plus a
    row sum on small batches, which is what a lookup checks.
    """
    rows = np.ascontiguousarray(words).view(np.uint8)
    probe = np.ascontiguousarray(query).view(np.uint8)
    out = np.empty(len(rows), dtype=np.int32)
    if len(rows):
        faiss.hammings(  # type: ignore[attr-defined]
            faiss.swig_ptr(probe),
            faiss.swig_ptr(rows),
            1,
            len(rows),
            HASH_BYTES,
            faiss.swig_ptr(out),
        )
    return out.astype(np.int64)


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


def _layout_cost(layout: _Layout, rows: int, threshold: int) -> float:
    """Estimated random reads per lookup: two per probe, two per (uniform) candidate."""
    probes = layout.chunks * _probe_count(layout.width, threshold // layout.chunks)
    return probes * (2.0 + 2.0 * rows / layout.buckets)


def _choose_layout(rows: int, threshold: int) -> _Layout:
    """The ``(m, w)`` with the least estimated work per query, under the memory cap.

    Work is counted in random memory reads: two per probe (bucket start and end) and
    two per candidate (row number, then the hash), with uniform buckets assumed.
    """
    cap = max(TABLE_BYTES_MIN, TABLE_BYTES_PER_ROW * rows)
    best: tuple[float, _Layout] | None = None
    for chunks in range(8, 33):
        radius = threshold // chunks
        for width in range(8, min(32, HASH_BITS // chunks) + 1):
            if chunks * ((1 << width) + 1) * 4 > cap:
                break
            if chunks * _probe_count(width, radius) > MAX_PROBES:
                break
            layout = _Layout(chunks, width)
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


_WEIGHTS: dict[tuple[_Layout, bytes], npt.NDArray[np.floating[Any]]] = {}


def _key_weights(
    layout: _Layout, bit_order: npt.NDArray[np.int16]
) -> npt.NDArray[np.floating[Any]]:
    """Weight ``[b, c]`` is ``2**j`` when bit ``b`` is the ``j``-th bit of chunk ``c``.

    float32 is exact for keys of up to 24 bits and halves the work of the product;
    float64 holds every key of up to 32 bits exactly.
    """
    cache_key = (layout, bit_order.tobytes())
    if cache_key not in _WEIGHTS:
        m, w = layout.chunks, layout.width
        weights = np.zeros((HASH_BITS, m), dtype=np.float32 if w <= 24 else np.float64)
        used = bit_order[: m * w].astype(np.int64)
        weights[used, np.repeat(np.arange(m), w)] = np.tile(2.0 ** np.arange(w), m)
        _WEIGHTS[cache_key] = weights
    return _WEIGHTS[cache_key]


def _chunk_keys(hashes: U8Array, layout: _Layout, bit_order: npt.NDArray[np.int16]) -> U32Array:
    """``(n, m)`` chunk keys: bits shuffled by ``bit_order``, cut into ``m`` groups of ``w``,
    computed as one matrix product per batch, ``bits @ weights``."""
    weights = _key_weights(layout, bit_order)
    n = hashes.shape[0]
    out = np.empty((n, layout.chunks), dtype=np.uint32)
    step = 1 << 16
    for lo in range(0, n, step):
        bits = np.unpackbits(hashes[lo : lo + step], axis=1).astype(weights.dtype)
        out[lo : lo + step] = bits @ weights
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


# --- segments: immutable MIH structures with tombstones --------------------------------


class _Segment:
    """Rows sorted by id, their hashes, and per chunk a bucket table; rows die by tombstone."""

    __slots__ = ("alive", "bit_order", "dead", "ids", "layout", "offsets", "perm", "words")

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

    @classmethod
    def build(cls, ids: I64Array, hashes: U8Array, threshold: int) -> _Segment:
        """A segment over ``ids``/``hashes`` (ids unique), laid out for ``threshold``."""
        order = np.argsort(ids)
        ids = np.ascontiguousarray(ids[order])
        hashes = np.ascontiguousarray(hashes[order])
        n = len(ids)
        layout = _choose_layout(n, threshold)
        keys = _chunk_keys(hashes, layout, _BIT_ORDER)
        perm = np.empty((layout.chunks, n), dtype=np.int32)
        offsets = np.empty((layout.chunks, layout.buckets + 1), dtype=np.int32)
        for c in range(layout.chunks):
            column = keys[:, c]
            perm[c] = np.argsort(column)  # order inside a bucket does not matter
            offsets[c, 0] = 0
            np.cumsum(np.bincount(column, minlength=layout.buckets), out=offsets[c, 1:])
        return cls(ids, _as_words(hashes), layout, perm, offsets, _BIT_ORDER.copy())

    def can_append(self, ids: I64Array, threshold: int) -> bool:
        """Whether :meth:`appended` applies: new ids above every id here, and this
        segment's layout still within twice the cost of the best one for the new size."""
        if len(self.ids) == 0 or len(ids) == 0 or int(ids.min()) <= int(self.ids[-1]):
            return False
        rows = len(self.ids) + len(ids)
        best = _choose_layout(rows, threshold)
        return _layout_cost(self.layout, rows, threshold) <= 2 * _layout_cost(best, rows, threshold)

    def appended(self, ids: I64Array, hashes: U8Array) -> _Segment:
        """This segment plus rows whose ids are all above its own, without a rebuild.

        Row numbers of the old rows do not change, so each chunk's permutation only
        needs the new rows inserted at the end of their buckets (``np.insert``, one
        sequential pass) and the offsets shifted by the new bucket counts.
        """
        order = np.argsort(ids)
        ids = np.ascontiguousarray(ids[order])
        hashes = np.ascontiguousarray(hashes[order])
        n, k = len(self.ids), len(ids)
        keys = _chunk_keys(hashes, self.layout, self.bit_order)
        new_rows = np.arange(n, n + k, dtype=np.int32)
        m, buckets = self.layout.chunks, self.layout.buckets
        perm = np.empty((m, n + k), dtype=np.int32)
        offsets = np.empty((m, buckets + 1), dtype=np.int32)
        for c in range(m):
            column = keys[:, c]
            by_key = np.argsort(column)
            perm[c] = np.insert(self.perm[c], self.offsets[c][column[by_key] + 1], new_rows[by_key])
            offsets[c, 0] = 0
            np.cumsum(np.bincount(column, minlength=buckets), out=offsets[c, 1:])
            offsets[c] += self.offsets[c]
        return _Segment(
            np.concatenate([self.ids, ids]),
            np.concatenate([self.words, _as_words(hashes)]),
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

    def live_rows(self) -> tuple[I64Array, U8Array]:
        keep = self.alive
        return self.ids[keep], self.words[keep].view(np.uint8).reshape(-1, HASH_BYTES)

    def search(
        self, queries: U64Array, query_keys: U32Array | None, threshold: int
    ) -> tuple[I64Array, I64Array, I64Array]:
        """``(query number, row, distance)`` of every live row within ``threshold``.

        A row may appear more than once (found through several chunks); callers dedupe.
        """
        m, w = self.layout.chunks, self.layout.width
        n = len(self.ids)
        radius = threshold // m
        if n == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        if m * _probe_count(w, radius) > MAX_PROBES or query_keys is None:
            return self._scan(queries, threshold)
        masks = _masks(w, radius)
        q = len(queries)
        # probes[i, c, p]: chunk c's key of query i, flipped by mask p
        probes = (query_keys[:, :, None] ^ masks[None, None, :]).astype(np.int64)
        flat = probes + (np.arange(m, dtype=np.int64) * (self.layout.buckets + 1))[None, :, None]
        table = self.offsets.reshape(-1)
        starts = table[flat].astype(np.int64)
        ends = table[flat + 1].astype(np.int64)
        lengths = (ends - starts).reshape(-1)
        per_query = lengths.reshape(q, -1).sum(axis=1)
        nonempty = lengths > 0
        lengths = lengths[nonempty]
        total = int(lengths.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        # where each probed bucket starts in the flattened (m * n) permutation
        first = (starts + (np.arange(m, dtype=np.int64) * n)[None, :, None]).reshape(-1)[nonempty]
        run_start = np.cumsum(lengths) - lengths
        index = np.repeat(first - run_start, lengths) + np.arange(total, dtype=np.int64)
        rows = np.take(self.perm.reshape(-1), index).astype(np.int64)
        candidates = np.take(self.words, rows, axis=0)
        dist = np.empty(total, dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(per_query)]).tolist()
        for i in range(q):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                dist[lo:hi] = _distances(candidates[lo:hi], queries[i])
        qnum = np.repeat(np.arange(q, dtype=np.int64), per_query)
        ok = (dist <= threshold) & self.alive[rows]
        return qnum[ok], rows[ok], dist[ok]

    def _scan(self, queries: U64Array, threshold: int) -> tuple[I64Array, I64Array, I64Array]:
        qs, rs, ds = [], [], []
        for i, query in enumerate(queries):
            dist = _distances(self.words, query)
            rows = np.flatnonzero((dist <= threshold) & self.alive)
            qs.append(np.full(len(rows), i, dtype=np.int64))
            rs.append(rows.astype(np.int64))
            ds.append(dist[rows])
        return np.concatenate(qs), np.concatenate(rs), np.concatenate(ds)

    def nbytes(self) -> int:
        arrays = (self.ids, self.words, self.perm, self.offsets, self.alive)
        return sum(a.nbytes for a in arrays)


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
        its hits sorted by distance, id.

        Queries go through in blocks of :data:`QUERY_BLOCK`, which keeps the candidate
        arrays in cache (one block of 300 queries at 10M was twice as slow per query).
        """
        if isinstance(hashes, list | tuple) and hashes and isinstance(hashes[0], str):
            hashes = _hashes_from_hex(hashes)
        queries = _as_hash_matrix(hashes, "queries")
        limit = self._threshold(threshold)
        if len(queries) <= QUERY_BLOCK:
            return self._query_block(queries, limit)
        results: list[list[IndexHit]] = []
        for lo in range(0, len(queries), QUERY_BLOCK):
            results.extend(self._query_block(queries[lo : lo + QUERY_BLOCK], limit))
        return results

    def _query_block(self, queries: U8Array, limit: int) -> list[list[IndexHit]]:
        words = _as_words(queries)
        qparts: list[I64Array] = []
        idparts: list[I64Array] = []
        dparts: list[I64Array] = []
        keys: dict[tuple[_Layout, bytes], U32Array] = {}
        for segment in (self._main, self._recent):
            if len(segment) == 0:
                continue
            # segments loaded from a snapshot keep the bit order they were built with
            key = (segment.layout, segment.bit_order.tobytes())
            if key not in keys:
                keys[key] = _chunk_keys(queries, segment.layout, segment.bit_order)
            qnum, rows, dist = segment.search(words, keys[key], limit)
            qparts.append(qnum)
            idparts.append(segment.ids[rows])
            dparts.append(dist)
        if len(self._buffer_ids):
            for i, query in enumerate(words):
                dist = _distances(self._buffer_words, query)
                rows = np.flatnonzero(dist <= limit)
                qparts.append(np.full(len(rows), i, dtype=np.int64))
                idparts.append(self._buffer_ids[rows])
                dparts.append(dist[rows])
        results: list[list[IndexHit]] = [[] for _ in range(len(queries))]
        if not qparts:
            return results
        qnum = np.concatenate(qparts)
        ids = np.concatenate(idparts)
        dist = np.concatenate(dparts)
        if len(qnum) == 0:
            return results
        order = np.lexsort((ids, dist, qnum))
        qnum, ids, dist = qnum[order], ids[order], dist[order]
        first = np.ones(len(qnum), dtype=np.bool_)
        first[1:] = (qnum[1:] != qnum[:-1]) | (ids[1:] != ids[:-1])
        for qi, hit_id, d in zip(
            qnum[first].tolist(), ids[first].tolist(), dist[first].tolist(), strict=True
        ):
            results[qi].append(IndexHit(id=hit_id, distance=d))
        return results

    def ids(self) -> I64Array:
        """Every live id (sorted)."""
        parts = [s.ids[s.alive] for s in (self._main, self._recent)] + [self._buffer_ids]
        return np.sort(np.concatenate(parts))

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

    def save(self, path: str | Path) -> None:
        """Write a snapshot folder: ``.npy`` arrays plus ``index.json`` (compacts first)."""
        if self._recent.ids.size or self._buffer_ids.size or self._main.dead:
            self.compact()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        main = self._main
        arrays: dict[str, npt.NDArray[Any]] = {
            "ids": main.ids,
            "hashes": main.words.view(np.uint8).reshape(-1, HASH_BYTES),
            "perm": main.perm,
            "offsets": main.offsets,
            "bit_order": main.bit_order,
        }
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        header = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "threshold": self.threshold,
            "count": len(main.ids),
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
        if header.get("format") != SNAPSHOT_FORMAT or header.get("version") != SNAPSHOT_VERSION:
            raise InvalidInput(
                f"{folder} is not a version {SNAPSHOT_VERSION} {SNAPSHOT_FORMAT} snapshot",
                format=header.get("format"),
                version=header.get("version"),
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
        expected = {
            "ids": (ids, np.int64, (count,)),
            "hashes": (hashes, np.uint8, (count, HASH_BYTES)),
            "perm": (perm, np.int32, (layout.chunks, count)),
            "offsets": (offsets, np.int32, (layout.chunks, layout.buckets + 1)),
            "bit_order": (bit_order, np.int16, (HASH_BITS,)),
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
        alive = np.ones(count, dtype=np.bool_)
        index._main = _Segment(ids, words, layout, perm, offsets, bit_order, alive)
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

    def _all_live_rows(self) -> tuple[I64Array, U8Array]:
        main_ids, main_hashes = self._main.live_rows()
        recent_ids, recent_hashes = self._recent.live_rows()
        buffer_hashes = self._buffer_words.view(np.uint8).reshape(-1, HASH_BYTES)
        return (
            np.concatenate([main_ids, recent_ids, self._buffer_ids]),
            np.concatenate([main_hashes, recent_hashes, buffer_hashes]),
        )

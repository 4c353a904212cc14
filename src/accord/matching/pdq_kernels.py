"""Compiled loops behind :mod:`accord.matching.pdq_index`: chunk keys, bucket tables,
and the probe-and-verify search.

Why: a multi-index lookup at 10M hashes visits a few thousand buckets and checks a few
thousand candidates. Done with numpy, every step materialises an array (probes, bucket
bounds, candidate row numbers, gathered hashes, distances) and the lookup costs about
2 ms, mostly in array bookkeeping. These numba kernels walk the same structure with
plain loops: for each probe, read the bucket bounds, and for each member read its row
number, then its four 64-bit words, and compare them with the query by popcount, with
no intermediate arrays. A hit is emitted only from the first chunk that can find it,
so a row close to the query is reported once however many chunks hold it.

Data flow::

    query words (q, 4) uint64 ──► keys of the query (bit positions per chunk)
        ──► probe key ^ mask for every mask of <= radius bits (radius per chunk)
        ──► offsets[c, key] .. offsets[c, key + 1] ──► perm[c, j] = row
        ──► popcount(words[row] ^ query) <= threshold and alive[row]
        ──► (query number, id, distance) into caller-owned output arrays

The output arrays have a fixed capacity; a kernel returns how many hits there were, and
writes only those that fit, so the caller can retry with room for all of them.

Kernels are compiled by :func:`accord.compiled.compile_kernel` (cached on disk when a
cache folder is writable, ``nogil``: lookups in several threads run side by side).
Everything here is pure computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from accord.compiled import compile_kernel

__all__ = [
    "CACHED",
    "bucket_table",
    "chunk_column",
    "merge_table",
    "scan",
    "search",
    "warm_up",
]

U64Array = npt.NDArray[np.uint64]
I32Array = npt.NDArray[np.int32]
I64Array = npt.NDArray[np.int64]


def _popcount_typer(typingctx: Any, value: Any) -> Any:
    """The LLVM ``ctpop`` instruction on a 64-bit word (``popcnt`` on x86-64)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


_popcount: Any = intrinsic(_popcount_typer)
_cgutils: Any = cgutils  # numba's code generation helpers carry no annotations


def _prefetch_typer(typingctx: Any, array: Any, row: Any, column: Any) -> Any:
    """A hint to load the cache line of ``array[row, column]`` (a 2-D array); no fault
    and no effect on results, whatever the address."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = _cgutils.get_item_pointer(
            context, builder, array_type, array, [args[1], args[2]], wraparound=False
        )
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        function = builder.module.declare_intrinsic("llvm.prefetch", [byte_pointer], function_type)
        # read (0), keep in every cache level (3), data cache (1)
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, types.intp, types.intp), codegen


_prefetch: Any = intrinsic(_prefetch_typer)
# How many candidates ahead of the one being checked its hash is asked for (measured
# at 10M rows: 16 was best of 4, 8, 16, 32; 1.6x faster than none).
PREFETCH_AHEAD: Final = 16


def _distance_py(words: Any, row: Any, q0: Any, q1: Any, q2: Any, q3: Any) -> Any:
    """The Hamming distance of ``words[row]`` to the query words ``q0 .. q3``."""
    return np.int64(
        _popcount(words[row, 0] ^ q0)
        + _popcount(words[row, 1] ^ q1)
        + _popcount(words[row, 2] ^ q2)
        + _popcount(words[row, 3] ^ q3)
    )


def _chunk_column(words: Any, positions: Any, out: Any) -> None:
    """``out[r]``: the key of row ``r`` in one chunk, bit ``j`` from bit ``positions[j]``
    of the row (counted over the four words, ``word * 64 + shift``)."""
    for r in range(words.shape[0]):
        key = np.uint64(0)
        for j in range(positions.shape[0]):
            p = positions[j]
            key |= ((words[r, p >> 6] >> np.uint64(p & 63)) & np.uint64(1)) << np.uint64(j)
        out[r] = np.uint32(key)


def _bucket_table(keys: Any, perm: Any, offsets: Any) -> None:
    """A counting sort of ``keys``: ``perm`` lists row numbers by key (rows ascending inside
    a bucket), ``offsets[k] .. offsets[k + 1]`` is the span of key ``k``."""
    buckets = offsets.shape[0] - 1
    for k in range(buckets + 1):
        offsets[k] = 0
    for r in range(keys.shape[0]):
        offsets[np.int64(keys[r]) + 1] += 1
    for k in range(buckets):
        offsets[k + 1] += offsets[k]
    fill = offsets[:-1].copy()
    for r in range(keys.shape[0]):
        key = np.int64(keys[r])
        perm[fill[key]] = r
        fill[key] += 1


def _merge_table(
    keys: Any, first_row: int, old_perm: Any, old_offsets: Any, perm: Any, offsets: Any
) -> None:
    """The bucket table of a segment's rows plus new rows ``first_row + r`` (``keys[r]``
    their keys, row numbers above every old one): each bucket keeps its old rows and then
    takes its new ones in row order, as :func:`_bucket_table` of all rows would have it.
    One pass over the buckets and the rows (``np.insert`` with a sort of the new keys,
    which this replaces, went over every old row twice and sorted)."""
    buckets = old_offsets.shape[0] - 1
    for k in range(buckets + 1):
        offsets[k] = 0
    for r in range(keys.shape[0]):
        offsets[np.int64(keys[r]) + 1] += 1
    fill = np.empty(buckets, dtype=np.int64)
    added = 0
    for k in range(buckets):
        start = old_offsets[k] + added  # bucket k begins after every earlier new row
        end = old_offsets[k + 1]
        for j in range(old_offsets[k], end):
            perm[start + j - old_offsets[k]] = old_perm[j]
        fill[k] = start + end - old_offsets[k]
        added += offsets[k + 1]
        offsets[k] = start
    offsets[buckets] = old_offsets[buckets] + added
    for r in range(keys.shape[0]):
        key = np.int64(keys[r])
        perm[fill[key]] = first_row + r
        fill[key] += 1


def _search(
    queries: Any,
    positions: Any,
    chunk_masks: Any,
    masks: Any,
    offsets: Any,
    perm: Any,
    words: Any,
    alive: Any,
    ids: Any,
    threshold: int,
    radii: Any,
    counts: Any,
    out_query: Any,
    out_id: Any,
    out_distance: Any,
    count: int,
    first_query: int,
) -> tuple[int, int]:
    """Every live row within ``threshold`` of each query from ``first_query`` on, appended
    to the output from ``count`` on; returns ``(count, next query)``.

    Stops early when a query's hits do not fit the output arrays: the count and query
    returned are then those from before that query, for the caller to grow the arrays
    and call again from there.

    Each query goes in three passes over small scratch arrays, so that the random reads
    of a pass do not wait for one another (a loop that follows bucket, then row number,
    then hash, one candidate at a time, waits for each read in turn): the bounds of every
    probed bucket (asking for the bucket's first row numbers meanwhile), then the row
    numbers in them, then the hashes of those rows (each asked for
    :data:`PREFETCH_AHEAD` candidates in advance).
    """
    chunks = positions.shape[0]
    width = positions.shape[1]
    probes = masks.shape[0]
    last_slot = perm.shape[1] - 1
    capacity = out_query.shape[0]
    starts = np.empty(chunks * probes, dtype=np.int64)
    ends = np.empty(chunks * probes, dtype=np.int64)
    chunk_end = np.empty(chunks, dtype=np.int64)
    rows = np.empty(4096, dtype=np.int64)
    for i in range(first_query, queries.shape[0]):
        q0, q1, q2, q3 = queries[i, 0], queries[i, 1], queries[i, 2], queries[i, 3]
        before = count
        # pass 1: the buckets every chunk probes, their bounds asked for all at once
        for c in range(chunks):
            key = np.int64(0)
            for j in range(width):
                p = positions[c, j]
                bit = (queries[i, p >> 6] >> np.uint64(p & 63)) & np.uint64(1)
                key |= np.int64(bit) << j
            for m in range(counts[c]):
                probe = key ^ np.int64(masks[m])
                _prefetch(offsets, c, probe)
                starts[c * probes + m] = probe
        # then their bounds (asking for each bucket's first row numbers meanwhile)
        total = 0
        for c in range(chunks):
            for m in range(c * probes, c * probes + counts[c]):
                probe = starts[m]
                lo = offsets[c, probe]
                hi = offsets[c, probe + 1]
                _prefetch(perm, c, min(lo, last_slot))
                starts[m] = lo
                ends[m] = hi
                total += hi - lo
        if total > rows.shape[0]:
            rows = np.empty(2 * total, dtype=np.int64)
        # pass 2: the row numbers in those buckets
        n = 0
        for c in range(chunks):
            for m in range(c * probes, c * probes + counts[c]):
                for slot in range(starts[m], ends[m]):
                    rows[n] = perm[c, slot]
                    n += 1
            chunk_end[c] = n
        # pass 3: the full distance of each candidate
        k = 0
        for c in range(chunks):
            while k < chunk_end[c]:
                _prefetch(words, rows[min(k + PREFETCH_AHEAD, n - 1)], 0)
                row = rows[k]
                k += 1
                d = _distance(words, row, q0, q1, q2, q3)
                if d > threshold or not alive[row]:
                    continue
                # reported by the first chunk within the radius only
                first = True
                for e in range(c):
                    near = np.int64(
                        _popcount((words[row, 0] ^ q0) & chunk_masks[e, 0])
                        + _popcount((words[row, 1] ^ q1) & chunk_masks[e, 1])
                        + _popcount((words[row, 2] ^ q2) & chunk_masks[e, 2])
                        + _popcount((words[row, 3] ^ q3) & chunk_masks[e, 3])
                    )
                    if near <= radii[e]:
                        first = False
                        break
                if first:
                    if count < capacity:
                        out_query[count] = i
                        out_id[count] = ids[row]
                        out_distance[count] = d
                    count += 1
        if count > capacity:
            return before, i
    return count, queries.shape[0]


def _scan(
    queries: Any,
    words: Any,
    alive: Any,
    ids: Any,
    threshold: int,
    out_query: Any,
    out_id: Any,
    out_distance: Any,
    count: int,
) -> int:
    """Brute force: every live row within ``threshold`` of each query, from ``count`` on."""
    capacity = out_query.shape[0]
    for i in range(queries.shape[0]):
        q0, q1, q2, q3 = queries[i, 0], queries[i, 1], queries[i, 2], queries[i, 3]
        for row in range(words.shape[0]):
            d = _distance(words, row, q0, q1, q2, q3)
            if d <= threshold and alive[row]:
                if count < capacity:
                    out_query[count] = i
                    out_id[count] = ids[row]
                    out_distance[count] = d
                count += 1
    return count


_compile = compile_kernel  # kept under this name for the tests


_distance = numba.njit(inline="always")(_distance_py)
_compiled = [_compile(f) for f in (_chunk_column, _bucket_table, _search, _scan, _merge_table)]
CACHED: Final = all(cached for _, cached in _compiled)
chunk_column: Callable[[U64Array, I64Array, npt.NDArray[np.uint32]], None] = _compiled[0][0]
bucket_table: Callable[[npt.NDArray[np.uint32], I32Array, I32Array], None] = _compiled[1][0]
search: Callable[..., tuple[int, int]] = _compiled[2][0]
scan: Callable[..., int] = _compiled[3][0]
merge_table: Callable[..., None] = _compiled[4][0]


_warm = False


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, once per process.

    Loading the cached machine code takes 1-2 s the first time in a process (numba
    sets up LLVM), compiling it about 5 s; :class:`~accord.matching.pdq_index.PdqIndex`
    calls this when the first index is made, so that no lookup pays for it.
    """
    global _warm
    if _warm:
        return
    words = np.zeros((1, 4), dtype=np.uint64)
    one = np.zeros(1, dtype=np.int64)
    keys = np.zeros(1, dtype=np.uint32)
    chunk_column(words, np.zeros(1, dtype=np.int64), keys)
    bucket_table(keys, np.zeros(1, dtype=np.int32), np.zeros(3, dtype=np.int32))
    merge_table(
        keys,
        1,
        np.zeros(1, dtype=np.int32),
        np.array([0, 1, 1], dtype=np.int32),
        np.zeros(2, dtype=np.int32),
        np.zeros(3, dtype=np.int32),
    )
    positions = np.zeros((1, 1), dtype=np.int64)
    offsets = np.zeros((1, 3), dtype=np.int32)
    alive = np.ones(1, dtype=np.bool_)
    search(
        words,
        positions,
        words,
        np.zeros(1, dtype=np.uint32),
        offsets,
        np.zeros((1, 1), dtype=np.int32),
        words,
        alive,
        one,
        0,
        np.zeros(1, dtype=np.int64),  # radii
        np.ones(1, dtype=np.int64),  # probe counts
        one,
        one.copy(),
        one.copy(),
        0,
        0,
    )
    scan(words, words, alive, one, 0, one, one.copy(), one.copy(), 0)
    _warm = True

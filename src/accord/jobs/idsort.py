"""Sort item ids into ascending byte order in memory, fast when they have one width.

The gate's Merkle root needs the included ids sorted (:mod:`accord.jobs.merkle`).
A general string sort compares whole strings, and ids such as
``item-000000123456`` share long prefixes, so most comparisons walk many bytes
(DuckDB's ``ORDER BY`` on 10M such ids takes longer than the gate's whole
Parquet write). Most id schemes are of one width (zero-padded counters, UUIDs,
hex digests), and then the ids are rows of a ``(n, width)`` byte matrix read
straight from the Arrow data buffer:

1. each leading byte column is replaced by its value minus the column's
   minimum (a column of digits needs 4 bits, a constant column none), and as
   many columns as fit are packed, above the row number, into one ``uint64``
   per id;
2. one ``np.sort`` of those integers (a vectorised sort, about five times
   faster here than ``np.argsort``) orders the ids, and the low bits say which
   row goes where; keys that already fall in long ascending runs (ids read back
   from a file written from a corpus in id order) are sorted by timsort instead,
   which merges the runs in a fraction of the time;
3. only ids that tie on the packed columns are sorted further, by the bytes
   after them, run by run (``np.lexsort``).

The sorted matrix is returned as a ``large_binary`` Arrow array without another
copy. Ids of varying width use Arrow's own sort (:func:`pyarrow.compute.sort_indices`).
Everything is in memory: the DuckDB engine uses this only below a size limit
and lets DuckDB sort (spilling to disk) above it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["sort_ids"]


def _fixed_width_matrix(array: pa.Array) -> np.ndarray | None:
    """The ids as an ``(n, width)`` uint8 matrix, or None if their widths differ."""
    if array.type not in (pa.string(), pa.binary(), pa.large_string(), pa.large_binary()):
        return None
    bufs = array.buffers()
    wide = array.type in (pa.large_string(), pa.large_binary())
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    lengths = np.diff(offsets)
    width = int(lengths[0])
    if width == 0 or not bool((lengths == width).all()):
        return None
    data = np.frombuffer(bufs[2], dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]
    return data.reshape(len(array), width)


def _word(matrix: np.ndarray, start: int) -> np.ndarray:
    """Bytes ``[start, start + 8)`` of each row as big-endian uint64 (zero-padded)."""
    part = matrix[:, start : start + 8]
    if part.shape[1] < 8:
        part = np.pad(part, ((0, 0), (0, 8 - part.shape[1])))
    return np.ascontiguousarray(part).view(">u8").ravel().astype(np.uint64)


_PACK_ROWS = 1 << 20  # rows packed at a time, so that the work stays in cache


def _column_range(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's minimum and maximum byte, reduced over wide rows (a fast axis-0 reduce)."""
    n, width = matrix.shape
    fold = max(1, 4096 // width)  # rows laid side by side
    head = (n // fold) * fold
    wide = matrix[:head].reshape(n // fold, fold * width)
    low = wide.min(axis=0).reshape(fold, width).min(axis=0) if head else matrix[:1].min(axis=0)
    high = wide.max(axis=0).reshape(fold, width).max(axis=0) if head else matrix[:1].max(axis=0)
    if head < n:
        low = np.minimum(low, matrix[head:].min(axis=0))
        high = np.maximum(high, matrix[head:].max(axis=0))
    return low, high


def _pack(matrix: np.ndarray, index_bits: int) -> tuple[np.ndarray, int]:
    """One ``uint64`` per row: leading byte columns as offsets from their minimum, then the row.

    Returns the keys and the first column not packed. A column of digits spans
    10 values (4 bits), a constant column none; columns are taken left to right
    while they fit beside ``index_bits``.
    """
    n, width = matrix.shape
    low, high = _column_range(matrix)
    spans = [(int(high[c]) - int(low[c])).bit_length() for c in range(width)]
    columns: list[tuple[int, int]] = []  # (column, bits)
    used = 0
    end = 0
    while end < width and used + spans[end] + index_bits <= 64:
        if spans[end]:
            columns.append((end, spans[end]))
            used += spans[end]
        end += 1
    key = np.empty(n, dtype=np.uint64)
    first = columns[0][0] if columns else 0
    for start in range(0, n, _PACK_ROWS):
        # the packed columns of these rows, one contiguous line per column
        lines = np.ascontiguousarray(matrix[start : start + _PACK_ROWS, first:end].T)
        part = np.zeros(lines.shape[1], dtype=np.uint64)
        for column, bits in columns:
            part <<= np.uint64(bits)
            part |= lines[column - first] - low[column]
        part <<= np.uint64(index_bits)
        part |= np.arange(start, start + len(part), dtype=np.uint64)
        key[start : start + len(part)] = part
    return key, end


# Keys falling in fewer ascending runs than one per this many are sorted by merging the runs.
_RUN_LENGTH = 256


def _sort_kind(key: np.ndarray) -> Literal["quicksort", "stable"]:
    """``stable`` (timsort, which merges the ascending runs it finds) when ``key`` is made of
    long ascending runs, else ``quicksort`` (numpy's vectorised sort).

    Ids read back from a Parquet file that DuckDB wrote from a corpus in id order come
    in a few dozen ascending runs (its threads' row groups interleave): timsort orders
    9.2M such keys in 0.02-0.03 s against 0.3-0.4 s, and the row gather that follows
    becomes nearly sequential (0.15 s against 0.35-0.5 s). On shuffled keys timsort
    is several times slower than the vectorised sort, hence the count of descents
    (one comparison pass) to choose.
    """
    if len(key) < 2:
        return "quicksort"
    descents = int(np.count_nonzero(key[1:] < key[:-1]))
    return "stable" if (descents + 1) * _RUN_LENGTH <= len(key) else "quicksort"


def _sort_matrix(matrix: np.ndarray) -> np.ndarray:
    n, width = matrix.shape
    index_bits = max(1, (n - 1).bit_length())
    # one np.sort of the packed keys both orders the rows and (low bits) says which is where
    key, column = _pack(matrix, index_bits)
    key.sort(kind=_sort_kind(key))
    where = None
    if column < width:  # rows equal on the packed columns are ordered by the bytes after them
        ranked = key >> np.uint64(index_bits)
        tied = np.flatnonzero(ranked[1:] == ranked[:-1])
        if tied.size:
            where = np.unique(np.concatenate([tied, tied + 1]))  # positions in sorted order
            breaks = np.ones(where.size, dtype=bool)  # a run: contiguous positions, one key
            breaks[1:] = (where[1:] != where[:-1] + 1) | (ranked[where[1:]] != ranked[where[:-1]])
            run = np.cumsum(breaks)
        del ranked
    # the low bits are the rows in sorted order: masked in place, no copy of n keys
    np.bitwise_and(key, np.uint64((1 << index_bits) - 1), out=key)
    order = key.view(np.int64)
    if where is not None:
        members = order[where]
        rows = matrix[members]
        words = [_word(rows, s) for s in reversed(range(column, width, 8))]
        # np.lexsort sorts by its last key first: the run, then the bytes left to right
        order[where] = members[np.lexsort((*words, run))]
    sorted_matrix: np.ndarray = np.take(matrix, order, axis=0)
    return sorted_matrix


def sort_ids(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The ids in ascending byte order (duplicates kept), as one Arrow array.

    Fixed-width ids come back as ``large_binary`` holding the same bytes; others
    keep their type.
    """
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    chunks = [c for c in chunks if len(c)]
    if any(c.null_count for c in chunks):
        raise ValueError("ids must not be missing")
    matrices = [_fixed_width_matrix(c) for c in chunks]
    widths = {m.shape[1] for m in matrices if m is not None}
    if not chunks or any(m is None for m in matrices) or len(widths) != 1:
        binary = pa.types.is_binary(ids.type) or pa.types.is_large_binary(ids.type)
        wide = pa.large_binary() if binary else pa.large_string()
        array = pa.chunked_array([c.cast(wide) for c in chunks], wide).combine_chunks()
        return pc.take(array, pc.sort_indices(array)) if len(array) > 1 else array
    matrix = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)  # type: ignore[arg-type]
    assert matrix is not None
    ordered = np.ascontiguousarray(_sort_matrix(matrix))
    n, width = ordered.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(ordered)]
    )

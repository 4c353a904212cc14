"""Sort item ids into ascending byte order in memory, fast when they have one width.

The gate's Merkle root needs the included ids sorted (:mod:`accord.jobs.merkle`).
A general string sort compares whole strings, and ids such as
``item-000000123456`` share long prefixes, so most comparisons walk many bytes
(DuckDB's ``ORDER BY`` on 10M such ids takes longer than the gate's whole
Parquet write). Most id schemes are of one width (zero-padded counters, UUIDs,
hex digests), and then each Arrow chunk of ids is an ``(n, width)`` byte matrix
read straight from its data buffer (:class:`SortedIds`):

1. each leading byte column is replaced by its value minus the column's
   minimum over all chunks (a column of digits needs 4 bits, a constant column
   none), and as many columns as fit are packed, above the row number, into
   one ``uint64`` per id, chunk by chunk (on several threads: numpy releases
   the GIL), without first copying the chunks into one matrix;
2. one ``np.sort`` of those integers (a vectorised sort, about five times
   faster here than ``np.argsort``) orders the ids, and the low bits say which
   row goes where; keys that already fall in long ascending runs (ids read back
   from a file written from a corpus in id order) are sorted by timsort instead,
   which merges the runs in a fraction of the time;
3. when every column that varies is packed (zero-padded counters up to a few
   hundred million ids), the sorted keys *are* the sorted ids: any range of
   them is rebuilt from the keys' bits (:meth:`SortedIds.rows`) and the chunks
   are not read again. Otherwise the chunks are joined into one matrix, ids that
   tie on the packed columns are sorted further by the bytes after them, run by
   run (``np.lexsort``), and a range of sorted ids is a gather of its rows.

:func:`hash_sorted` feeds the sorted ids to a :class:`~accord.jobs.merkle.BlockHasher`
range by range on several threads (rebuild or gather, then hash: hashlib also
releases the GIL), so no sorted copy of all the ids is ever made.
:func:`sort_ids` returns them as one Arrow array. Ids of varying width use
Arrow's own sort (:func:`pyarrow.compute.sort_indices`). Everything is in
memory: the DuckDB engine uses this only below a size limit and lets DuckDB
sort (spilling to disk) above it.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accord.jobs.merkle import BlockHasher, leaves_of_rows

__all__ = ["COMPILED_FROM", "KeyedIds", "SortedIds", "hash_rows", "hash_sorted", "sort_ids"]

# From this many ids on, packing and rebuilding run as compiled loops
# (:mod:`accord.jobs.idsort_kernels`), which a process loads once in 1-2 s of CPU; below,
# numpy does it (about 0.4 CPU-s more at 10M ids), unless the loops are loaded already.
COMPILED_FROM = 50_000_000
_LOADED_FROM = 1 << 21  # compiled loops once loaded: from this many ids on


def _use_compiled(n: int) -> bool:
    """Compiled loops for ``n`` ids: from :data:`COMPILED_FROM` on, or from 2M on in a
    process that has loaded them already."""
    if n >= COMPILED_FROM:
        return True
    kernels = sys.modules.get("accord.jobs.idsort_kernels")
    return n >= _LOADED_FROM and kernels is not None and bool(kernels.is_warm())


_T = TypeVar("_T")
_R = TypeVar("_R")


def _chunks(ids: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    chunks = [c for c in chunks if len(c)]
    if any(c.null_count for c in chunks):
        raise ValueError("ids must not be missing")
    return chunks


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


def _packed_columns(
    low: np.ndarray, high: np.ndarray, index_bits: int
) -> tuple[list[tuple[int, int]], int]:
    """The ``(column, bits)`` packed above ``index_bits``, left to right, and the first not packed.

    A column of digits spans 10 values (4 bits), a constant column none; columns
    are taken while they fit in 64 bits beside the row number.
    """
    width = len(low)
    spans = [(int(high[c]) - int(low[c])).bit_length() for c in range(width)]
    columns: list[tuple[int, int]] = []
    used = 0
    end = 0
    while end < width and used + spans[end] + index_bits <= 64:
        if spans[end]:
            columns.append((end, spans[end]))
            used += spans[end]
        end += 1
    return columns, end


def _pack_into(
    out: np.ndarray,
    matrix: np.ndarray,
    row0: int,
    low: np.ndarray,
    columns: list[tuple[int, int]],
    end: int,
    index_bits: int,
    kernels: Any = None,
) -> None:
    """Write into ``out`` the packed keys of ``matrix``'s rows: their ``columns`` and, if
    ``index_bits`` is not 0, their row numbers from ``row0`` in the low bits.

    ``kernels`` (:mod:`accord.jobs.idsort_kernels`, loaded) packs in one compiled loop;
    without it numpy packs a column at a time.
    """
    if kernels is not None:
        kernels.pack(
            matrix.reshape(-1),
            matrix.shape[1],
            low,
            np.array([c for c, _ in columns], dtype=np.int64),
            np.array([b for _, b in columns], dtype=np.int64),
            index_bits,
            row0,
            out,
        )
        return
    first = columns[0][0] if columns else 0
    for start in range(0, len(matrix), _PACK_ROWS):
        # the packed columns of these rows, one contiguous line per column
        lines = np.ascontiguousarray(matrix[start : start + _PACK_ROWS, first:end].T)
        part = np.zeros(lines.shape[1], dtype=np.uint64)
        for column, bits in columns:
            part <<= np.uint64(bits)
            part |= lines[column - first] - low[column]
        if index_bits:
            part <<= np.uint64(index_bits)
            part |= np.arange(row0 + start, row0 + start + len(part), dtype=np.uint64)
        out[start : start + len(part)] = part


def _pack(matrix: np.ndarray, index_bits: int) -> tuple[np.ndarray, int]:
    """One ``uint64`` per row: leading byte columns as offsets from their minimum, then the row.

    Returns the keys and the first column not packed.
    """
    low, high = _column_range(matrix)
    columns, end = _packed_columns(low, high, index_bits)
    key = np.empty(len(matrix), dtype=np.uint64)
    _pack_into(key, matrix, 0, low, columns, end, index_bits)
    return key, end


_TILE_ROWS = 1 << 16  # rows of the tiled minima copied into rebuilt ids at a time

# Keys falling in fewer ascending runs than one per this many are sorted by merging the runs.
_RUN_LENGTH = 256


def _sort_kind(key: np.ndarray) -> Literal["quicksort", "stable"]:
    """``stable`` (timsort, which merges the ascending runs it finds) when ``key`` is made of
    long ascending runs, else ``quicksort`` (numpy's vectorised sort).

    Ids read back from a Parquet file that DuckDB wrote from a corpus in id order come
    in a few dozen ascending runs (its threads' row groups interleave): timsort orders
    9.2M such keys in 0.01-0.03 s against 0.3-0.4 s. On shuffled keys timsort is
    several times slower than the vectorised sort, hence the count of descents (one
    comparison pass) to choose.
    """
    if len(key) < 2:
        return "quicksort"
    descents = int(np.count_nonzero(key[1:] < key[:-1]))
    return "stable" if (descents + 1) * _RUN_LENGTH <= len(key) else "quicksort"


def _mapped(threads: int, fn: Callable[[_T], _R], items: Iterable[_T]) -> Iterator[_R]:
    """``map`` on a pool of ``threads`` (results in order), or on this thread for one."""
    if threads <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        yield from pool.map(fn, items)


class SortedIds:
    """Ids of one width, sorted by their packed keys; any range of the order read as a matrix.

    Build with :meth:`of`; :meth:`rows` is safe to call from several threads.
    """

    def __init__(self, matrices: list[np.ndarray], threads: int = 1) -> None:
        self.width = matrices[0].shape[1]
        sizes = [len(m) for m in matrices]
        self.n = sum(sizes)
        starts = np.cumsum([0, *sizes]).tolist()
        self._index_bits = max(1, (self.n - 1).bit_length())
        ranges = list(_mapped(threads, _column_range, matrices))
        low = np.min([r[0] for r in ranges], axis=0)
        high = np.max([r[1] for r in ranges], axis=0)
        self._low = low
        self._columns, end = _packed_columns(low, high, self._index_bits)
        key = np.empty(self.n, dtype=np.uint64)
        self._kernels = _compiled_loops(self.n)

        def pack(i: int) -> None:
            out = key[starts[i] : starts[i + 1]]
            bits = self._index_bits
            _pack_into(out, matrices[i], starts[i], low, self._columns, end, bits, self._kernels)

        for _ in _mapped(threads, pack, range(len(matrices))):
            pass
        key.sort(kind=_sort_kind(key))
        self._key = key
        self._matrix: np.ndarray | None = None
        self._tiled: np.ndarray | None = None
        if end < self.width:  # the rest of each id is needed: gather rows from one matrix
            self._matrix = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
            self._order_ties(end)
        else:  # every varying column is in the key: ids are rebuilt from it
            self._tiled = np.tile(low, _TILE_ROWS)

    @classmethod
    def of(cls, ids: pa.Array | pa.ChunkedArray, threads: int = 1) -> SortedIds | None:
        """The ids sorted, or None if they are not all of one (non-zero) width or are none.

        Missing ids are refused with ``ValueError``.
        """
        chunks = _chunks(ids)
        matrices = [_fixed_width_matrix(c) for c in chunks]
        if not matrices or any(m is None for m in matrices):
            return None
        if len({m.shape[1] for m in matrices if m is not None}) != 1:
            return None
        return cls([m for m in matrices if m is not None], threads)

    def _order_ties(self, column: int) -> None:
        """Order the keys that tie on the packed columns by the bytes from ``column`` on."""
        assert self._matrix is not None
        key, bits = self._key, np.uint64(self._index_bits)
        ranked = key >> bits
        tied = np.flatnonzero(ranked[1:] == ranked[:-1])
        if not tied.size:
            return
        where = np.unique(np.concatenate([tied, tied + 1]))  # positions in sorted order
        breaks = np.ones(where.size, dtype=bool)  # a run: contiguous positions, one key
        breaks[1:] = (where[1:] != where[:-1] + 1) | (ranked[where[1:]] != ranked[where[:-1]])
        run = np.cumsum(breaks)
        del ranked
        members = key[where]
        rows = self._matrix[(members & np.uint64((1 << self._index_bits) - 1)).view(np.int64)]
        words = [_word(rows, s) for s in reversed(range(column, self.width, 8))]
        # np.lexsort sorts by its last key first: the run, then the bytes left to right
        key[where] = members[np.lexsort((*words, run))]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The ids at sorted positions ``[start, stop)`` as a C-contiguous uint8 matrix."""
        part = self._key[start:stop]
        if self._matrix is not None:
            order = (part & np.uint64((1 << self._index_bits) - 1)).view(np.int64)
            gathered: np.ndarray = np.take(self._matrix, order, axis=0)
            return gathered
        assert self._tiled is not None
        return _rebuilt(
            part, self._index_bits, self._low, self._columns, self._tiled, self._kernels
        )


def _as_arrow(matrix: np.ndarray) -> pa.Array:
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    data = np.ascontiguousarray(matrix)
    return pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _arrow_sorted(chunks: list[pa.Array], kind: pa.DataType) -> pa.Array:
    binary = pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
    wide = pa.large_binary() if binary else pa.large_string()
    array = pa.chunked_array([c.cast(wide) for c in chunks], wide).combine_chunks()
    return pc.take(array, pc.sort_indices(array)) if len(array) > 1 else array


def sort_ids(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The ids in ascending byte order (duplicates kept), as one Arrow array.

    Fixed-width ids come back as ``large_binary`` holding the same bytes; others
    keep their type.
    """
    sorter = SortedIds.of(ids)
    if sorter is None:
        return _arrow_sorted(_chunks(ids), ids.type)
    return _as_arrow(sorter.rows(0, sorter.n))


# Blocks rebuilt (or gathered) and hashed at a time: about 2 MiB of 17-byte ids.
_SLAB_BLOCKS = 512
_AHEAD = 2  # ranges rebuilt ahead of the hashing


class _NotKeyed(Exception):
    """The ids are not all of one width, or their varying columns do not fit one key."""


class KeyedIds:
    """Ids of one width whose varying byte columns fit in 64 bits together, so that each
    id's key (those columns, each minus its minimum, side by side) *is* the id: the keys
    are sorted and any range of ids is rebuilt from them (:meth:`rows`).

    Built by :meth:`from_chunks` straight from chunks as they are read, on several
    threads: each chunk is packed on its own columns' ranges, then moved onto the
    ranges of all chunks (a shift per field). The ids' text is never held all at once,
    which at 100M ids saves reading 1.9 GB into fresh memory: 3.2-3.3 CPU-s to read the
    ids row group by row group against 4.7-6.3 for one ``read_table`` of them.
    Zero-padded counters up to 16 digits are keyed; UUIDs and hex digests are not.
    """

    def __init__(
        self, width: int, low: np.ndarray, columns: list[tuple[int, int]], key: np.ndarray
    ):
        self.n, self.width = len(key), width
        self._low = low
        self._columns = columns
        self._key = key
        self._kernels = _compiled_loops(len(key))
        self._tiled = np.tile(low, _TILE_ROWS)

    @classmethod
    def from_chunks(
        cls, read: Callable[[int], pa.Array], sizes: list[int], threads: int = 1
    ) -> KeyedIds | None:
        """Keyed ids of chunks ``read(0)`` ... ``read(len(sizes) - 1)`` (``sizes[i]`` ids
        each, missing ids refused with ``ValueError``), or None if they cannot be keyed.

        ``read`` is called from ``threads`` threads at once. The first chunk is looked at
        alone first, so ids that cannot be keyed (UUIDs) cost one chunk's read.
        """
        kernels = _compiled_loops(sum(sizes))
        starts = np.cumsum([0, *sizes]).tolist()
        key = np.empty(starts[-1], dtype=np.uint64)
        width: list[int] = []
        failed = threading.Event()  # the other threads stop reading once one chunk fails
        early: dict[int, pa.Array] = {}

        def pack(i: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
            if failed.is_set():
                raise _NotKeyed
            try:
                return pack_chunk(i, early.pop(i, None) or read(i))
            except _NotKeyed:
                failed.set()
                raise

        def pack_chunk(
            i: int, array: pa.Array
        ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
            if len(array) != sizes[i]:
                raise ValueError(f"row group {i} holds {len(array)} ids, not {sizes[i]}")
            if array.null_count:
                raise ValueError("ids must not be missing")
            matrix = _fixed_width_matrix(array) if len(array) else None
            if matrix is None or matrix.shape[1] != (width[0] if width else matrix.shape[1]):
                raise _NotKeyed
            low, high = _column_range(matrix)
            columns, end = _packed_columns(low, high, 0)
            if end < matrix.shape[1]:
                raise _NotKeyed
            _pack_into(key[starts[i] : starts[i + 1]], matrix, 0, low, columns, end, 0, kernels)
            return low, high, columns

        chunks = [i for i in range(len(sizes)) if sizes[i]]
        if not chunks:
            return None
        first = read(chunks[0])
        if first.null_count:
            raise ValueError("ids must not be missing")
        matrix = _fixed_width_matrix(first) if len(first) else None
        if matrix is None:
            return None
        width.append(matrix.shape[1])
        early[chunks[0]] = first
        del first, matrix
        try:
            packed = list(_mapped(threads, pack, chunks))
        except _NotKeyed:
            return None
        low = np.min([p[0] for p in packed], axis=0)
        high = np.max([p[1] for p in packed], axis=0)
        columns, end = _packed_columns(low, high, 0)
        if end < width[0]:
            return None
        target = {}
        shift = 0
        for column, bits in reversed(columns):
            target[column] = shift
            shift += bits

        def move(job: tuple[int, tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]]) -> None:
            i, (own_low, _, own_columns) = job
            if own_columns == columns and bool((own_low == low).all()):
                return  # packed on the same ranges already
            constant = sum((int(own_low[c]) - int(low[c])) << target[c] for c, _ in columns)
            shifts, masks, targets = [], [], []
            at = 0
            for column, bits in reversed(own_columns):
                shifts.append(at)
                masks.append((1 << bits) - 1)
                targets.append(target[column])
                at += bits
            part = key[starts[i] : starts[i + 1]]
            if kernels is None:
                moved = np.full(len(part), constant, dtype=np.uint64)
                for at, mask, to in zip(shifts, masks, targets, strict=True):
                    moved += ((part >> np.uint64(at)) & np.uint64(mask)) << np.uint64(to)
                part[:] = moved
                return
            kernels.repack(
                part,
                np.array(shifts, dtype=np.int64),
                np.array(masks, dtype=np.uint64),
                np.array(targets, dtype=np.int64),
                np.uint64(constant),
            )

        for _ in _mapped(threads, move, list(zip(chunks, packed, strict=True))):
            pass
        key.sort(kind=_sort_kind(key))
        return cls(width[0], low, columns, key)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The ids at sorted positions ``[start, stop)`` as a C-contiguous uint8 matrix."""
        return _rebuilt(
            self._key[start:stop], 0, self._low, self._columns, self._tiled, self._kernels
        )


def _compiled_loops(n: int) -> Any:
    """:mod:`accord.jobs.idsort_kernels`, loaded, if ``n`` ids call for them; else None."""
    if not _use_compiled(n):
        return None
    from accord.jobs import idsort_kernels

    idsort_kernels.warm_up()
    return idsort_kernels


def _rebuilt(
    key: np.ndarray,
    index_bits: int,
    low: np.ndarray,
    columns: list[tuple[int, int]],
    tiled: np.ndarray,
    kernels: Any,
) -> np.ndarray:
    """The ids whose packed ``columns`` sit above ``index_bits`` in ``key`` (the other
    columns are constant, their minimum), as a C-contiguous uint8 matrix; ``tiled`` is
    ``low`` repeated (see :func:`_fill`), ``kernels`` as for :func:`_pack_into`."""
    out = np.empty((len(key), len(low)), dtype=np.uint8)
    _fill(out, tiled)
    if kernels is not None:
        where = np.array([c for c, _ in columns], dtype=np.int64)
        widths = np.array([b for _, b in columns], dtype=np.int64)
        kernels.rebuild(key, index_bits, low, where, widths, out)
        return out
    values = key >> np.uint64(index_bits)
    shift = 0
    for column, bits in reversed(columns):
        field = (values >> np.uint64(shift)) & np.uint64((1 << bits) - 1)
        out[:, column] += field.astype(np.uint8)
        shift += bits
    return out


def _fill(out: np.ndarray, tiled: np.ndarray) -> None:
    """Every row of ``out`` set from ``tiled`` (one row repeated), a ``memcpy`` a piece:
    a broadcast assignment of a short row is about ten times slower."""
    flat, step = out.reshape(-1), len(tiled)
    for start in range(0, len(flat), step):
        piece = flat[start : start + step]
        piece[:] = tiled[: len(piece)]


def hash_sorted(ids: pa.Array | pa.ChunkedArray, hasher: BlockHasher, threads: int = 1) -> None:
    """Add ``ids`` to ``hasher`` in ascending byte order, hashing on ``threads`` threads.

    Ids of one width are sorted by :class:`SortedIds` and hashed range by range
    (:func:`hash_rows`), so no sorted copy of them all is made; others are sorted
    by Arrow and added whole.
    """
    sorter = SortedIds.of(ids, threads) if hasher.at_block_boundary else None
    if sorter is None:
        hasher.add(sort_ids(ids))
        return
    hash_rows(sorter, hasher, threads)


def hash_rows(sorter: SortedIds | KeyedIds, hasher: BlockHasher, threads: int = 1) -> None:
    """Add the sorted ids of ``sorter`` to ``hasher``: full blocks range by range
    (:func:`accord.jobs.merkle.leaves_of_rows`), the last short block whole.

    With two threads or more, a second thread rebuilds (or gathers) the next ranges
    while this one hashes: two stages, not two hashers. Hashing a block releases the
    GIL only inside SHA-256, so two threads hashing at once spend their time handing
    the GIL to each other (measured: no faster than one); the rebuild is a compiled
    loop (or ``np.take``) that needs no GIL. ``hasher`` must be at a block boundary.
    """
    b = hasher.block_size
    full = sorter.n - sorter.n % b
    slab = b * _SLAB_BLOCKS
    bounds = [(start, min(start + slab, full)) for start in range(0, full, slab)]

    def add(rows: np.ndarray) -> None:
        hasher.add_hashed(leaves_of_rows(rows, b), len(rows), rows[0].tobytes(), rows[-1].tobytes())

    if threads <= 1:
        for start, stop in bounds:
            add(sorter.rows(start, stop))
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead: deque[Future[np.ndarray]] = deque()
            for start, stop in bounds:
                ahead.append(pool.submit(sorter.rows, start, stop))
                if len(ahead) > _AHEAD:
                    add(ahead.popleft().result())
            while ahead:
                add(ahead.popleft().result())
    if full < sorter.n:
        hasher.add(_as_arrow(sorter.rows(full, sorter.n)))

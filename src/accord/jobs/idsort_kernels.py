"""Compiled loops behind :mod:`accord.jobs.idsort` for large sorts: pack ids into keys, and
rebuild ids from keys.

Why: packing one chunk of ids with numpy takes a pass over the chunk per packed column
(shift, subtract, or), each materialising a temporary; at 100M ids that is about
4 s on one core, against well under a second for one loop that reads each id's packed
bytes once. Rebuilding ids from sorted keys is the same loop backwards. Kernels are
compiled by :func:`accord.compiled.compile_kernel` (cached on disk, ``nogil``: chunks
are packed on several threads at once).

Data flow::

    ids of one width, one chunk (n * width bytes) ──► key[r] =
        (byte[c1] - low[c1]) ‖ (byte[c2] - low[c2]) ‖ ... ‖ (row0 + r, if index_bits)
    keys packed on one chunk's ranges ──► repack ──► keys on the ranges of all chunks
    sorted keys ──► out[r, c] = low[c] + field of key >> index_bits   (out prefilled with low)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from accord.compiled import compile_kernel

__all__ = ["is_warm", "pack", "rebuild", "repack", "warm_up"]

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _pack(
    data: U8,
    width: int,
    low: U8,
    columns: I64,
    bits: I64,
    index_bits: int,
    row0: int,
    key: U64,
) -> None:
    """``key[r]`` = the packed columns of id ``r`` of ``data``, then, if ``index_bits`` is
    not 0, its row number ``row0 + r`` in the low ``index_bits`` bits."""
    m = len(columns)
    lows = np.empty(m, dtype=np.uint64)
    shifts = np.empty(m, dtype=np.uint64)
    at = index_bits
    for j in range(m - 1, -1, -1):  # the last column lands just above the row number
        lows[j] = low[columns[j]]
        shifts[j] = at
        at += bits[j]
    for r in range(len(key)):
        base = r * width
        k = np.uint64(0)
        for j in range(m):  # fields do not overlap: adding is or-ing
            k += (np.uint64(data[base + columns[j]]) - lows[j]) << shifts[j]
        if index_bits:
            k += np.uint64(row0 + r)
        key[r] = k


def _rebuild(key: U64, index_bits: int, low: U8, columns: I64, bits: I64, out: U8) -> None:
    """Write into ``out[r]`` (already filled with ``low``) the packed columns of ``key[r]``."""
    width = out.shape[1]
    flat = out.reshape(-1)
    m = len(columns)
    masks = np.empty(m, dtype=np.uint64)
    shifts = np.empty(m, dtype=np.uint64)
    bases = np.empty(m, dtype=np.uint64)
    at = index_bits
    for j in range(m - 1, -1, -1):  # the last column is in the lowest bits
        masks[j] = np.uint64((1 << bits[j]) - 1)
        shifts[j] = at
        bases[j] = low[columns[j]]
        at += bits[j]
    for r in range(len(key)):
        k = key[r]
        row = r * width
        for j in range(m):
            flat[row + columns[j]] = np.uint8(bases[j] + ((k >> shifts[j]) & masks[j]))


def _repack(key: U64, shifts: I64, masks: U64, targets: I64, constant: np.uint64) -> None:
    """Move each packed field of ``key`` from ``shifts[j]`` to ``targets[j]`` and add
    ``constant``: keys packed on one chunk's column ranges onto all chunks' ranges."""
    for r in range(len(key)):
        k = key[r]
        out = constant
        for j in range(len(shifts)):
            out += ((k >> np.uint64(shifts[j])) & masks[j]) << np.uint64(targets[j])
        key[r] = out


_compiled = [compile_kernel(f) for f in (_pack, _rebuild, _repack)]
pack: Callable[[U8, int, U8, I64, I64, int, int, U64], None] = _compiled[0][0]
rebuild: Callable[[U64, int, U8, I64, I64, U8], None] = _compiled[1][0]
repack: Callable[[U64, I64, U64, I64, np.uint64], None] = _compiled[2][0]

_warm = False


def is_warm() -> bool:
    """Whether :func:`warm_up` has run in this process."""
    return _warm


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, once per process."""
    global _warm
    if _warm:
        return
    data = np.zeros(2, dtype=np.uint8)
    columns = np.zeros(1, dtype=np.int64)
    bits = np.ones(1, dtype=np.int64)
    key = np.zeros(2, dtype=np.uint64)
    pack(data, 1, data[:1], columns, bits, 1, 0, key)
    rebuild(key, 1, data[:1], columns, bits, np.zeros((2, 1), dtype=np.uint8))
    pack(data, 1, data[:1], columns, bits, 0, 0, key)
    repack(key, columns, key[:1], columns, np.uint64(0))
    _warm = True

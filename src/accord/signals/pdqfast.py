"""PDQ in numpy and numba: the reference algorithm's hash, 10x faster at 512x512, 20-40x above.

Why: the ``pdqhash`` package (the reference C++ behind a Cython wrapper) spends
5-12 ms on a 512x512 photo, most of it running box filters over every pixel,
which caps two cores at about 200 hashes a second. PDQ hashes are exchanged
with other platforms, so a faster hasher must give the *same* bits; this one is
written from the published algorithm (ThreatExchange's PDQ hashing document
and the reference's constants) and is compared with ``pdqhash`` in the tests.

The reference, for an H x W image:

1. luminance ``0.299 R + 0.587 G + 0.114 B`` as float32;
2. a "Jarosz" tent filter: a 1-D box filter of ``ceil(W/128)`` pixels along rows,
   then ``ceil(H/128)`` along columns, twice over (windows clipped at the edges,
   each output divided by the number of pixels it covers);
3. decimation to 64x64 at rows ``int((i + 0.5) H / 64)`` and columns likewise;
4. the quality (0..100): the sum of ``int(100 (u - v) / 255)`` over neighbour
   differences of the 64x64 image, divided by 90;
5. the 16x16 DCT ``D X D^T`` with ``D[i, j] = sqrt(2/64) cos(pi (i+1)(2j+1) / 128)``
   (frequencies 1..16: the DC row is skipped);
6. bit ``16 i + j`` is set when coefficient ``(i, j)`` exceeds the median (the
   128th smallest of the 256).

Steps 2 and 3 are linear and separable, so the 64x64 image is ``B_H L B_W^T``
with ``B_n`` (64 x n) the filter applied twice, then sampled: built once per
dimension (LRU cache) by running the reference's clipped box filter over unit
vectors. Each row of ``B_n`` covers only ``2 ceil(n/128) - 1`` neighbouring
pixels, so the product is a gather of those rows and a small weighted sum (no
dense matrix, no BLAS threads), done by two compiled loops (rows, then columns;
the same doubles as numpy's ``einsum``): 0.24-0.45 ms for 512x512 against 4.4-5.7 ms
(benchmarks/pdq_hasher.py, docs/fastpdq.md).
Luminance is also linear; it is taken after the row reduction, on 64 rows
rather than H.

Exactness. The fast path works in double precision from the uint8 pixels,
so it is exact arithmetic up to ~1e-13; the reference rounds (a float32
running sum in the box filter, float32 DCT sums, ~1e-3 on the coefficients),
and a bit differs only where that rounding reorders two coefficients at the
median: on 3,600 generated images of 20 shapes, 99.8% identical and 2 bits
apart otherwise (docs/fastpdq.md). Where rounding alone decides:

- a side below 64 pixels (decimation repeats rows, which makes rows of
  coefficients zero in exact arithmetic): the module replays the reference's
  float32 arithmetic operation for operation (:func:`_reduce_exact`,
  :func:`_dct_exact`), which gives its coefficients bit for bit, cheaply at
  those sizes;
- a median coefficient that is zero or tied in exact arithmetic (a flat
  image, an image that changes along one axis only): :func:`_decided` sees it
  (~1e-13) and :func:`_reference` asks ``pdqhash``, whose bits there are its
  rounding's (0.06% of the generated images).

A 64x64 input (what the robust views hash) is taken unfiltered, as the
reference does, with the luminance formed exactly as ``pdqhash`` forms it,
so its quality is the reference's exactly.

Dihedral hashes (the 7 other orientations) come from the same 16x16
coefficients by sign flips of alternate rows or columns and a transpose, as the
reference does, so the 8 hashes cost one hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from accord.compiled import compile_kernel
from accord.errors import InvalidMedia

__all__ = [
    "MIN_SIDE",
    "compute",
    "compute_dihedral",
    "hash_hex",
    "hashes_hex_dihedral",
    "oriented_hex",
    "turned",
]

#: The reference hashes an image with a side below this as 256 zero bits, quality 0.
MIN_SIDE = 5

#: Images with a side below this are hashed by replaying the reference's float32 arithmetic.
_EXACT_SIDE = 64

_OUT = 64  # the decimated image is 64 x 64
_LUMA = (0.299, 0.587, 0.114)


def _dct_matrix(scale: float) -> NDArray[np.float64]:
    freq = np.arange(1, 17, dtype=np.float64)[:, None]
    col = np.arange(64, dtype=np.float64)[None, :]
    return scale * np.cos((np.pi / 2.0 / 64.0) * freq * (2.0 * col + 1.0))


# The reference computes the scale factor as a float32, then each entry in double,
# stored as float32 (the replay needs those exact values; checked by the tests).
_D32 = _dct_matrix(float(np.float32(np.sqrt(2.0 / 64.0)))).astype(np.float32)
# The fast path uses the exact matrix: a coefficient that is zero in exact
# arithmetic then comes out near 1e-13, which :func:`_decided` relies on.
_D64 = _dct_matrix(np.sqrt(2.0 / 64.0))

# Sign patterns of the dihedral transforms: +1 where the index is odd (frequency
# 2, 4, ... of a row or column is even, so a mirror keeps its sign).
_ODD = np.where(np.arange(16) % 2 == 1, 1.0, -1.0)
_CHECKER = np.where((np.arange(16)[:, None] + np.arange(16)[None, :]) % 2 == 1, -1.0, 1.0)


def window_size(n: int) -> int:
    """The reference's box filter window for a side of ``n`` pixels: ceil(n / 128)."""
    return (n + 2 * _OUT - 1) // (2 * _OUT)


def _box_spans(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """First and last input index each output of the reference's 1-D box filter covers.

    The window of ``w`` pixels is placed ``(w + 2) // 2 - 1`` pixels after and the
    rest before the output pixel, and clipped at both ends (the divisor is the
    number of pixels actually covered).
    """
    full = window_size(n)
    half = (full + 2) // 2
    out = np.arange(n)
    return np.maximum(0, out - (full - half)), np.minimum(n - 1, out + half - 1)


def _sample_points(n: int) -> NDArray[np.intp]:
    """The input rows (or columns) the reference decimates to: int((i + 0.5) n / 64)."""
    return np.array([int(((i + 0.5) * n) / _OUT) for i in range(_OUT)], dtype=np.intp)


class _Plan(NamedTuple):
    """How one side of ``n`` pixels reduces to 64: for each output, ``source`` (64 x K)
    are the input positions and ``weight`` (64 x K) their weights (0 past the end)."""

    source: NDArray[np.intp]
    weight: NDArray[np.float64]


@lru_cache(maxsize=256)
def _plan(n: int) -> _Plan:
    """The rows of ``B_n``: box filter twice, then sampled, as sparse rows.

    Built by applying the filter to unit vectors: the weight of input ``k`` in
    filtered output ``o`` is ``1/count(o)`` when ``k`` is in ``o``'s span, and the
    second pass mixes the first pass' outputs the same way.
    """
    lo, hi = _box_spans(n)
    count = (hi - lo + 1).astype(np.float64)
    rows = np.zeros((_OUT, n), dtype=np.float64)
    for r, s in enumerate(_sample_points(n)):
        # Output s of the second pass averages first-pass outputs lo[s]..hi[s];
        # each of those averages its own span of the input.
        for o in range(lo[s], hi[s] + 1):
            rows[r, lo[o] : hi[o] + 1] += 1.0 / (count[s] * count[o])
    width = max(int(np.count_nonzero(row)) for row in rows)
    index = np.zeros((_OUT, width), dtype=np.intp)
    weight = np.zeros((_OUT, width), dtype=np.float64)
    for r, row in enumerate(rows):
        nz = np.flatnonzero(row)
        index[r, : nz.size] = nz
        index[r, nz.size :] = nz[-1]
        weight[r, : nz.size] = row[nz]
    return _Plan(index, weight)


def _as_pixels(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] < 3):
        raise InvalidMedia(
            "PDQ hashes an H x W x 3 (or 4) or H x W array of uint8",
            shape=arr.shape,
            dtype=str(arr.dtype),
        )
    return arr


def _luma_exact(pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Luminance as ``pdqhash`` forms it: in double, in this order, then float32."""
    if pixels.ndim == 2:
        r = g = b = pixels
    else:
        r, g, b = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
    luma: NDArray[np.float64] = r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]
    return luma.astype(np.float32)


def _rows_luma(
    flat: NDArray[np.uint8],
    channels: int,
    source: NDArray[np.intp],
    weight: NDArray[np.float64],
    luma: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The row pass of ``B_H L``: for each of the 64 output rows, the weighted sum of
    its source rows of ``flat`` (H x W*channels, uint8, in double, taps in order), then
    the luminance of each pixel (``luma`` the three weights; one weight for grey)."""
    rows_out = source.shape[0]
    taps = source.shape[1]
    n = flat.shape[1]
    w = n // channels
    out = np.empty((rows_out, w), dtype=np.float64)
    acc = np.empty(n, dtype=np.float64)
    for i in range(rows_out):
        row = flat[source[i, 0]]
        first = weight[i, 0]
        for x in range(n):
            acc[x] = first * row[x]
        for k in range(1, taps):
            wk = weight[i, k]
            if wk == 0.0:  # padding of a shorter row of B_H
                continue
            row = flat[source[i, k]]
            for x in range(n):
                acc[x] += wk * row[x]
        if channels == 1:
            for x in range(w):
                out[i, x] = acc[x] * luma[0]
        else:
            for x in range(w):
                p = channels * x
                out[i, x] = acc[p] * luma[0] + acc[p + 1] * luma[1] + acc[p + 2] * luma[2]
    return out


_rows_kernel = compile_kernel(_rows_luma)[0]
_LUMA_RGB = np.asarray(_LUMA, dtype=np.float64)
_LUMA_GREY = np.asarray([sum(_LUMA)], dtype=np.float64)


def _row_pass(
    pixels: NDArray[np.uint8], source: NDArray[np.intp], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``B_H L`` (64 x W luminance) for the rows ``source`` weighted by ``weight``."""
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    flat = np.ascontiguousarray(pixels).reshape(h, w * channels)
    luma: NDArray[np.float64] = _rows_kernel(
        flat, channels, source, weight, _LUMA_GREY if channels == 1 else _LUMA_RGB
    )
    return luma


def _columns(
    luma: NDArray[np.float64], source: NDArray[np.intp], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The column pass of ``(B_H L) B_W^T``: each output column the weighted sum of its
    source columns, taps in order (as ``einsum("ijk,jk->ij", luma[:, source], weight)``)."""
    rows_out = luma.shape[0]
    cols_out = source.shape[0]
    taps = source.shape[1]
    out = np.empty((rows_out, cols_out), dtype=np.float64)
    for i in range(rows_out):
        for j in range(cols_out):
            total = weight[j, 0] * luma[i, source[j, 0]]
            for k in range(1, taps):
                total += weight[j, k] * luma[i, source[j, k]]
            out[i, j] = total
    return out


_columns_kernel = compile_kernel(_columns)[0]


def _column_pass(
    luma: NDArray[np.float64], source: NDArray[np.intp], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(B_H L) B_W^T``: the 64 x 64 image from the row pass' output."""
    out: NDArray[np.float64] = _columns_kernel(luma, np.ascontiguousarray(source), weight)
    return out


def _reduce_fast(pixels: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The 64x64 filtered, decimated luminance as ``B_H L B_W^T`` (sparse rows), in
    double: exact up to 1e-16, so all disagreement with the reference is its rounding.

    The row pass (the only one over every pixel) is a compiled loop reading each source
    row once into a double accumulator: 0.2 ms at 512x512 against 0.6 ms for the numpy
    gather and ``einsum`` it replaced, with the same values bit for bit (tested)."""
    h, w = pixels.shape[:2]
    rows, cols = _plan(h), _plan(w)
    return _column_pass(_row_pass(pixels, rows.source, rows.weight), cols.source, cols.weight)


_BoxOps = tuple[NDArray[np.intp], NDArray[np.float32], NDArray[np.intp], NDArray[np.float32]]


@lru_cache(maxsize=256)
def _box_ops(n: int) -> _BoxOps:
    """The reference's running-sum box filter over ``n`` values as a list of signed
    additions: (source index, sign) of each addition, the addition after which each
    output is written and that output's divisor."""
    full = window_size(n)
    half = (full + 2) // 2
    src: list[int] = []
    sign: list[float] = []
    write: list[int] = []
    divisor: list[int] = []
    size = 0
    for ri in range(full):  # phases 1 and 2: add, write once the window is half full
        src.append(ri)
        sign.append(1.0)
        size += 1
        if ri >= half - 1:
            write.append(len(src) - 1)
            divisor.append(size)
    for ri in range(full, n):  # phase 3: add the new right edge, drop the left one
        src += [ri, ri - full]
        sign += [1.0, -1.0]
        write.append(len(src) - 1)
        divisor.append(size)
    for li in range(n - full, n - full + half - 1):  # phase 4: drop only
        src.append(li)
        sign.append(-1.0)
        size -= 1
        write.append(len(src) - 1)
        divisor.append(size)
    return (
        np.array(src, dtype=np.intp),
        np.array(sign, dtype=np.float32),
        np.array(write, dtype=np.intp),
        np.array(divisor, dtype=np.float32),
    )


def _box_exact(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """The reference's float32 box filter along the last axis, rounding for rounding:
    a sequential float32 cumulative sum of the same additions in the same order."""
    src, sign, write, divisor = _box_ops(values.shape[-1])
    sums = np.cumsum(values[..., src] * sign, axis=-1, dtype=np.float32)
    out: NDArray[np.float32] = sums[..., write] / divisor
    return out


def _reduce_exact(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """The 64x64 image exactly as the reference computes it (small images only)."""
    h, w = luma.shape
    buf = luma
    for _ in range(2):  # rows then columns, twice
        buf = _box_exact(buf)
        buf = np.ascontiguousarray(_box_exact(np.ascontiguousarray(buf.T)).T)
    return buf[np.ix_(_sample_points(h), _sample_points(w))]


def _dct_exact(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """``D X D^T`` with the reference's float32 products summed in its order (k = 0..63)."""
    partial = np.zeros((16, _OUT), dtype=np.float32)
    for k in range(_OUT):
        partial += _D32[:, k, None] * image[k]
    out = np.zeros((16, 16), dtype=np.float32)
    for k in range(_OUT):
        out += partial[:, k, None] * _D32[:, k]
    return out


def _quality(image: NDArray[np.float32]) -> int:
    """The reference's quality: float32 differences scaled by 100/255, truncated."""
    hundred, full = np.float32(100), np.float32(255)
    down = np.trunc(((image[:-1, :] - image[1:, :]) * hundred) / full)
    across = np.trunc(((image[:, :-1] - image[:, 1:]) * hundred) / full)
    total = int(np.abs(down).sum(dtype=np.int64)) + int(np.abs(across).sum(dtype=np.int64))
    return min(100, total // 90)


def _coefficients(pixels: NDArray[np.uint8]) -> tuple[NDArray[np.floating], int, bool]:
    """The 16x16 DCT coefficients and the quality of an image of at least 5x5 pixels,
    and whether they are the reference's own float32 values (the replay)."""
    h, w = pixels.shape[:2]
    if min(h, w) < _EXACT_SIDE:
        image = _reduce_exact(_luma_exact(pixels))
        return _dct_exact(image), _quality(image), True
    # The reference takes a 64x64 luminance as it is (its dihedral entry point runs
    # the box filter, whose window is then 1 pixel: the same values up to float32
    # rounding of a running sum).
    fine = _luma_exact(pixels) if (h, w) == (_OUT, _OUT) else _reduce_fast(pixels)
    return _dct(fine), _quality(fine.astype(np.float32)), False


def _dct(image: NDArray[np.floating]) -> NDArray[np.float64]:
    """The fast path's 16x16 DCT ``D X D^T`` of a 64x64 image, in double."""
    out: NDArray[np.float64] = _D64 @ image.astype(np.float64) @ _D64.T
    return out


def _decided(coefficients: NDArray[np.floating]) -> bool:
    """Whether the median split is decided by the image rather than by rounding.

    A coefficient that is zero in exact arithmetic (a flat image; an image that
    does not change along one axis; every other row of coefficients when rows
    repeat) is float32 noise in the reference, as are exact ties. When such a
    coefficient is the median or the next one, the reference's bits are its
    rounding: only the reference (or a replay of it) gives them.
    """
    flat = coefficients.ravel()
    tiny = 1e-9 * max(1.0, float(np.abs(flat).max()))
    around = np.partition(flat, (127, 128))[127:129]
    return bool(abs(around[1] - around[0]) > tiny and np.abs(around).min() > tiny)


def _reference(pixels: NDArray[np.uint8], dihedral: bool) -> tuple[list[NDArray[np.uint8]], int]:
    """The reference C++ (``pdqhash``) for the rare image whose bits its rounding decides."""
    import pdqhash

    rgb = np.ascontiguousarray(
        np.stack([pixels] * 3, axis=-1) if pixels.ndim == 2 else pixels[:, :, :3]
    )
    if dihedral:
        hashes, quality = pdqhash.compute_dihedral(rgb)
    else:
        bits, quality = pdqhash.compute(rgb)
        hashes = [bits]
    return [np.asarray(h, dtype=np.uint8) for h in hashes], int(quality)


def _bits(coefficients: NDArray[np.floating]) -> NDArray[np.uint8]:
    """256 bits in ``pdqhash``'s order (bit 255 first): coefficient above the median."""
    flat = coefficients.ravel()
    median = np.partition(flat, 127)[127]
    out: NDArray[np.uint8] = (flat > median).astype(np.uint8)[::-1]
    return out


def _dihedral(c: NDArray[np.floating]) -> list[NDArray[np.floating]]:
    """The coefficients of the 8 orientations, in the reference's order: original,
    rotate 90, 180, 270, flip x, flip y, flip about the main, the other diagonal."""
    odd_col, odd_row = c * _ODD[None, :], c * _ODD[:, None]
    checker = c * _CHECKER
    return [c, odd_col.T, checker, odd_row.T, odd_row, odd_col, c.T, checker.T]


def compute(pixels: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], int]:
    """PDQ bits and quality, as ``pdqhash.compute``: 256 values 0/1 (bit 255 first).

    ``pixels`` is H x W x 3 (or x 4; alpha is ignored) or H x W grey ``uint8``.
    An image with a side below :data:`MIN_SIDE` hashes to zeros, quality 0.
    """
    arr = _as_pixels(pixels)
    if min(arr.shape[:2]) < MIN_SIDE:
        return np.zeros(256, dtype=np.uint8), 0
    coefficients, quality, replayed = _coefficients(arr)
    if not (replayed or _decided(coefficients)):
        hashes, quality = _reference(arr, dihedral=False)
        return hashes[0], quality
    return _bits(coefficients), quality


def compute_dihedral(pixels: NDArray[np.uint8]) -> tuple[list[NDArray[np.uint8]], int]:
    """The 8 dihedral PDQ hashes and the quality, as ``pdqhash.compute_dihedral``."""
    arr = _as_pixels(pixels)
    if min(arr.shape[:2]) < MIN_SIDE:
        return [np.zeros(256, dtype=np.uint8) for _ in range(8)], 0
    coefficients, quality, replayed = _coefficients(arr)
    oriented = _dihedral(coefficients)
    if not (replayed or all(_decided(c) for c in oriented)):
        return _reference(arr, dihedral=True)
    return [_bits(c) for c in oriented], quality


def _hex(bits: NDArray[np.uint8]) -> str:
    return np.packbits(bits).tobytes().hex()


def hash_hex(pixels: NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ as 64 lowercase hex digits (the form exchanged) and the quality."""
    bits, quality = compute(pixels)
    return _hex(bits), quality


# Each orientation, in the reference's dihedral order, as (rows reversed, columns
# reversed, transposed) of the image: original, turned 90, 180 and 270 degrees (numpy's
# rot90, counter-clockwise), rows reversed, columns reversed, transposed, and turned
# 180 degrees then transposed.
_TURNS: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False),
    (False, True, True),
    (True, True, False),
    (True, False, True),
    (True, False, False),
    (False, True, False),
    (False, False, True),
    (True, True, True),
)


def turned(pixels: NDArray[np.uint8], orientation: int) -> NDArray[np.uint8]:
    """The image in orientation ``orientation`` (0-7, the reference's dihedral order)."""
    rows_reversed, columns_reversed, transposed = _TURNS[orientation]
    out = pixels[::-1] if rows_reversed else pixels
    out = out[:, ::-1] if columns_reversed else out
    return out.swapaxes(0, 1) if transposed else out


def oriented_hex(pixels: NDArray[np.uint8]) -> tuple[list[str], int]:
    """The PDQ hashes of the image turned into each of the 8 orientations (the
    reference's dihedral order: see :func:`turned`), as hex, and the plain hash's quality.

    The first is exactly :func:`hash_hex`'s. Each other is the hash the image would have
    if it were turned first, up to double rounding (that is, what its mirrored or turned
    copy's plain PDQ is, so a mirrored copy of a banked image is looked up by the banked
    hash itself): :func:`compute_dihedral`'s sign flips of one set of coefficients are not
    that, because the reference samples rows ``int((i + 0.5) n / 64)``, which a mirror
    moves by up to a pixel. Two row passes (rows as they are, and reversed) and four
    column passes give the four mirrored 64x64 images; transposing them gives the other
    four. Where the plain hash's median is decided by rounding, the reference gives all 8
    (:func:`compute_dihedral`'s); below 64 pixels a side each turned image is hashed."""
    arr = _as_pixels(pixels)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_SIDE:
        return ["0" * 64] * 8, 0
    if min(h, w) < _EXACT_SIDE:  # the replay: each turned image hashed as itself
        plain_hex, quality = hash_hex(arr)
        return [plain_hex] + [hash_hex(turned(arr, o))[0] for o in range(1, 8)], quality
    oriented: Sequence[NDArray[np.floating]]
    if (h, w) == (_OUT, _OUT):
        # a 64x64 input is taken unfiltered: turning it turns its coefficients exactly
        coefficients, quality, _ = _coefficients(arr)
        oriented = _dihedral(coefficients)
    else:
        rows, cols = _plan(h), _plan(w)
        by_rows = {
            False: _row_pass(arr, rows.source, rows.weight),
            True: _row_pass(arr, (h - 1) - rows.source, rows.weight),
        }
        images = {
            (r, c): _column_pass(
                by_rows[r], (w - 1) - cols.source if c else cols.source, cols.weight
            )
            for r in (False, True)
            for c in (False, True)
        }
        plain = images[False, False]
        coefficients = _dct(plain)
        quality = _quality(plain.astype(np.float32))
        oriented = [coefficients] + [
            _dct(images[r, c].T if transposed else images[r, c]) for r, c, transposed in _TURNS[1:]
        ]
    if not _decided(coefficients):
        hashes, quality = _reference(arr, dihedral=True)
        return [_hex(b) for b in hashes], quality
    return [_hex(_bits(c)) for c in oriented], quality


def hashes_hex_dihedral(pixels: NDArray[np.uint8]) -> tuple[list[str], int]:
    """The 8 dihedral PDQ hashes as hex (order of :func:`compute_dihedral`) and the quality."""
    hashes, quality = compute_dihedral(pixels)
    return [_hex(b) for b in hashes], quality

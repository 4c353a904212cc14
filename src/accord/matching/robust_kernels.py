"""Compiled loops behind :mod:`accord.matching.robust`'s region searches.

Why: :func:`accord.matching.robust.robust_views` runs on every photo upload, and its
searches for a border, a frame and a rotation's fill read only a 128-px (or 256-px)
reduced copy. Done with numpy they are some sixty small array calls per upload (medians,
differences, channel maxima, counts, runs), each costing more in bookkeeping than in
arithmetic: about 0.8 ms for a plain photograph. These kernels walk the same pixels with
plain loops and return the same numbers: the same median colours (per channel, the middle
value or the floor of the mean of the two middle ones, as :func:`numpy.median` truncated
to an integer), the same counts, the same float comparisons (a count divided by a line's
length, times the same ratio), so the boxes, angles and flags are identical (the tests
hold them to a copy of the numpy code). They also stop early where nothing later can
change the result: a border search stops at the first line that is not border.

Data flow::

    H x W x 3 uint8 pixels (any strides) ──► one kernel per search:
        trim        ──► found, left, top, right, bottom   (border lines removed)
        salient     ──► found, x0, y0, x1, y1             (dense non-background rectangle)
        refine      ──► lines to move each side inward    (exact edges at full size)
        outer runs  ──► fill colour and 8 run lengths     (a rotation's fill triangles)
        framed      ──► whether three outer lines are of one colour

A line is given by its first pixel (row, column), its step (0/1 down, 0/1 across) and
its length: row ``j`` of a box, or column ``j``, read from either edge. Kernels are
compiled by :func:`accord.compiled.compile_kernel` (cached on disk when a cache folder
is writable, ``nogil``). Everything here is pure computation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accord.compiled import compile_kernel

__all__ = ["band_edge", "framed", "outer_runs", "refine_edges", "salient", "side_runs", "trim"]


def _kth_py(hist: Any, k: Any) -> Any:
    """The value at position ``k`` (from 0) of the sorted values a histogram counts."""
    seen = 0
    for v in range(hist.shape[0]):
        seen += hist[v]
        if seen > k:
            return v
    return hist.shape[0] - 1


_kth = compile_kernel(_kth_py)[0]


def _hist_median_py(hist: Any, n: Any, out: Any) -> None:
    """Per channel, the median of ``n`` values counted in ``hist`` (3 x 256): the middle
    one, or the floor of the mean of the two middle ones (what robust's
    ``_median_colour`` and ``int(np.median(...))`` give for non-negative values)."""
    mid = n // 2
    for ch in range(3):
        lo = _kth(hist[ch], mid - 1 if n % 2 == 0 else mid)
        hi = _kth(hist[ch], mid)
        out[ch] = (lo + hi) // 2


_hist_median = compile_kernel(_hist_median_py)[0]


def _count_line_py(hist: Any, arr: Any, r0: Any, c0: Any, dr: Any, dc: Any, n: Any) -> None:
    """Adds the ``n`` pixels of a line to a 3 x 256 histogram."""
    for i in range(n):
        r = r0 + i * dr
        c = c0 + i * dc
        for ch in range(3):
            hist[ch, arr[r, c, ch]] += 1


_count_line = compile_kernel(_count_line_py)[0]


def _line_median_py(arr: Any, r0: Any, c0: Any, dr: Any, dc: Any, n: Any, out: Any) -> None:
    """The median colour of one line of pixels into ``out`` (3 int64)."""
    hist = np.zeros((3, 256), dtype=np.int64)
    _count_line(hist, arr, r0, c0, dr, dc, n)
    _hist_median(hist, n, out)


_line_median = compile_kernel(_line_median_py)[0]


def _close_py(arr: Any, r: Any, c: Any, colour: Any, tol: Any) -> Any:
    """Whether every channel of pixel (r, c) is within ``tol`` of ``colour``."""
    d0 = abs(np.int64(arr[r, c, 0]) - colour[0])
    d1 = abs(np.int64(arr[r, c, 1]) - colour[1])
    d2 = abs(np.int64(arr[r, c, 2]) - colour[2])
    return max(max(d0, d1), d2) <= tol


_close = compile_kernel(_close_py)[0]


def _count_close_py(
    arr: Any, r0: Any, c0: Any, dr: Any, dc: Any, n: Any, colour: Any, tol: Any
) -> Any:
    """How many pixels of a line are within ``tol`` of ``colour`` on every channel."""
    count = 0
    for i in range(n):
        if _close(arr, r0 + i * dr, c0 + i * dc, colour, tol):
            count += 1
    return count


_count_close = compile_kernel(_count_close_py)[0]


def _line_py(top: Any, bottom: Any, left: Any, right: Any, axis: Any, from_end: Any, j: Any) -> Any:
    """First row, first column, row step, column step and length of line ``j`` of the box
    counted from one edge: rows (``axis`` 0) from the top or the bottom, columns (1)
    from the left or the right."""
    if axis == 0:
        return (bottom - 1 - j if from_end else top + j), left, 0, 1, right - left
    return top, (right - 1 - j if from_end else left + j), 1, 0, bottom - top


_line = compile_kernel(_line_py)[0]


def _lines_py(top: Any, bottom: Any, left: Any, right: Any, axis: Any, limit: Any) -> Any:
    """How many lines a side search reads: half the box's lines, at most ``limit`` (none
    when 0), at least one."""
    n = bottom - top if axis == 0 else right - left
    return max(1, min(n // 2, limit if limit > 0 else n))


_lines = compile_kernel(_lines_py)[0]


def _side_runs_py(
    arr: Any,
    top: Any,
    bottom: Any,
    left: Any,
    right: Any,
    ratio: Any,
    tol: Any,
    axis: Any,
    from_end: Any,
    limit: Any,
    colour: Any,
) -> Any:
    """robust's ``_side_runs`` on the box of ``arr``: how many lines from one edge have
    at least ``ratio`` of their pixels within ``tol`` of the median colour of the
    outermost line (left in ``colour``), stopping at the first that has not."""
    k = _lines(top, bottom, left, right, axis, limit)
    r0, c0, dr, dc, n = _line(top, bottom, left, right, axis, from_end, 0)
    _line_median(arr, r0, c0, dr, dc, n, colour)
    for j in range(k):
        r0, c0, dr, dc, n = _line(top, bottom, left, right, axis, from_end, j)
        if _count_close(arr, r0, c0, dr, dc, n, colour, tol) < ratio * n:
            return j
    return k


side_runs = compile_kernel(_side_runs_py)[0]


def _band_edge_py(
    arr: Any,
    top: Any,
    bottom: Any,
    left: Any,
    right: Any,
    ratio: Any,
    tol: Any,
    axis: Any,
    from_end: Any,
    limit: Any,
    colour: Any,
) -> Any:
    """robust's ``_band_edge`` on the box of ``arr``, with the outermost line's median
    colour already in ``colour``: one past the last line with ``ratio`` of its pixels
    of that colour that two lines with under half of them follow; 0 when none does."""
    k = _lines(top, bottom, left, right, axis, limit)
    if k < 3:
        return 0
    shares = np.empty(k, dtype=np.int64)
    length = 0
    for j in range(k):
        r0, c0, dr, dc, n = _line(top, bottom, left, right, axis, from_end, j)
        shares[j] = _count_close(arr, r0, c0, dr, dc, n, colour, tol)
        length = n
    for i in range(k - 3, -1, -1):
        if (
            shares[i] >= ratio * length
            and shares[i + 1] < 0.5 * length
            and shares[i + 2] < 0.5 * length
        ):
            return i + 1
    return 0


band_edge = compile_kernel(_band_edge_py)[0]


def _refine_edges_py(
    arr: Any,
    top: Any,
    bottom: Any,
    left: Any,
    right: Any,
    ly: Any,
    lx: Any,
    band_top: Any,
    band_bottom: Any,
    band_left: Any,
    band_right: Any,
    ratio: Any,
    tol: Any,
) -> Any:
    """robust's ``_refine`` searches on the box ``top:bottom, left:right`` of the full
    image: per side, the border run (``side_runs``), else, where that side has a margin
    (``band_*``), the band edge; as (top, bottom, left, right) line counts."""
    colour = np.empty(3, dtype=np.int64)
    out = np.zeros(4, dtype=np.int64)
    sides = ((0, False, ly, band_top), (0, True, ly, band_bottom),
             (1, False, lx, band_left), (1, True, lx, band_right))  # fmt: skip
    for s in range(4):
        axis, from_end, limit, band = sides[s]
        found = side_runs(arr, top, bottom, left, right, ratio, tol, axis, from_end, limit, colour)
        if found == 0 and band:
            found = band_edge(
                arr, top, bottom, left, right, ratio, tol, axis, from_end, limit, colour
            )
        out[s] = found
    return out[0], out[1], out[2], out[3]


refine_edges = compile_kernel(_refine_edges_py)[0]


def _trim_py(arr: Any, ratio: Any, tol: Any, passes: Any, min_trim: Any) -> Any:
    """robust's ``_trim_box``: (1, left, top, right, bottom) of the box left after
    removing border lines, ``passes`` times; (0, 0, 0, 0, 0) for none."""
    h, w = arr.shape[0], arr.shape[1]
    top, left, bottom, right = 0, 0, h, w
    colour = np.empty(3, dtype=np.int64)
    for _ in range(passes):
        sh, sw = bottom - top, right - left
        if sh < 16 or sw < 16:
            return 0, 0, 0, 0, 0
        t = side_runs(arr, top, bottom, left, right, ratio, tol, 0, False, 0, colour)
        b = side_runs(arr, top, bottom, left, right, ratio, tol, 0, True, 0, colour)
        lf = side_runs(arr, top, bottom, left, right, ratio, tol, 1, False, 0, colour)
        r = side_runs(arr, top, bottom, left, right, ratio, tol, 1, True, 0, colour)
        if t + b == 0 and lf + r == 0:
            break
        if t + b >= sh - 8 or lf + r >= sw - 8:
            return 0, 0, 0, 0, 0
        top, bottom, left, right = top + t, bottom - b, left + lf, right - r
    if (top + h - bottom) < min_trim * h and (left + w - right) < min_trim * w:
        return 0, 0, 0, 0, 0
    if (bottom - top) < 0.15 * h and (right - left) < 0.15 * w:
        return 0, 0, 0, 0, 0
    return 1, left, top, right, bottom


trim = compile_kernel(_trim_py)[0]


def _longest_run_py(flags: Any, n: Any) -> Any:
    """Start and end (exclusive) of the first longest run of True in ``flags[:n]``."""
    best_start, best_end = 0, 0
    start = -1
    for i in range(n + 1):
        on = i < n and flags[i]
        if on and start < 0:
            start = i
        elif not on and start >= 0:
            if i - start > best_end - best_start:
                best_start, best_end = start, i
            start = -1
    return best_start, best_end


_longest_run = compile_kernel(_longest_run_py)[0]


def _dense_py(counts: Any, n: Any, size: Any, flags: Any) -> Any:
    """``flags[i]``: whether ``counts[i] / size`` is at least 0.6 of the largest (the
    share of non-background pixels of line ``i`` against the densest); and that largest
    share."""
    top = 0.0
    for i in range(n):
        top = max(top, counts[i] / size)
    for i in range(n):
        flags[i] = counts[i] / size >= 0.6 * top
    return top


_dense = compile_kernel(_dense_py)[0]


def _salient_py(arr: Any, tol: Any) -> Any:
    """robust's ``_salient_box`` on C-contiguous pixels: (1, x0, y0, x1, y1) of the
    largest dense rectangle of pixels not within ``tol`` of the median colour of the
    outermost pixels (on every channel); (0, 0, 0, 0, 0) for none."""
    h, w = arr.shape[0], arr.shape[1]
    hist = np.zeros((3, 256), dtype=np.int64)
    _count_line(hist, arr, 0, 0, 0, 1, w)
    _count_line(hist, arr, h - 1, 0, 0, 1, w)
    _count_line(hist, arr, 0, 0, 1, 0, h)
    _count_line(hist, arr, 0, w - 1, 1, 0, h)
    bg = np.empty(3, dtype=np.int64)
    _hist_median(hist, 2 * (w + h), bg)
    # mask: 1 where some channel is more than tol from bg; each row read as one line of
    # 3 w bytes against per-byte bounds, then three bytes to a pixel (this vectorises)
    flat = arr.reshape(h, w * 3)
    low = np.empty(w * 3, dtype=np.int16)
    high = np.empty(w * 3, dtype=np.int16)
    for i in range(w * 3):  # clamped to -1 .. 256: the same test on values 0 .. 255
        low[i] = max(bg[i % 3] - tol, -1)
        high[i] = min(bg[i % 3] + tol, 256)
    far = np.empty(w * 3, dtype=np.uint8)
    mask = np.empty((h, w), dtype=np.uint8)
    # and the running count of the mask down each column (row r: rows 0 .. r-1), so that
    # a column's count over any run of rows is one difference
    down = np.zeros((h + 1, w), dtype=np.int32)
    for r in range(h):
        row = flat[r]
        for i in range(w * 3):
            v = np.int16(row[i])
            far[i] = (v < low[i]) | (v > high[i])
        for c in range(w):
            mask[r, c] = far[3 * c] | far[3 * c + 1] | far[3 * c + 2]
            down[r + 1, c] = down[r, c] + mask[r, c]
    counts = np.zeros(max(h, w), dtype=np.int64)
    flags = np.zeros(max(h, w), dtype=np.bool_)
    x0, x1, y0, y1 = 0, w, 0, h
    for _ in range(2):
        for c in range(w):
            counts[c] = down[y1, c] - down[y0, c]
        if _dense(counts, w, y1 - y0, flags) > 0:
            x0, x1 = _longest_run(flags, w)
        else:
            x0, x1 = 0, 0
        if x1 - x0 < 8:
            return 0, 0, 0, 0, 0
        for r in range(h):
            part = mask[r, x0:x1]
            count = 0
            for c in range(x1 - x0):
                count += part[c]
            counts[r] = count
        _dense(counts, h, x1 - x0, flags)
        y0, y1 = _longest_run(flags, h)
        if y1 - y0 < 8:
            return 0, 0, 0, 0, 0
    if (x1 - x0) * (y1 - y0) < 0.1 * w * h or (x1 - x0) * (y1 - y0) > 0.95 * w * h:
        return 0, 0, 0, 0, 0
    return 1, x0, y0, x1, y1


salient = compile_kernel(_salient_py)[0]


def _run_py(arr: Any, r0: Any, c0: Any, dr: Any, dc: Any, n: Any, colour: Any, tol: Any) -> Any:
    """How many pixels from the start of a line are within ``tol`` of ``colour`` before
    the first that is not; 0 when all are (robust's ``argmin`` of the flags)."""
    for i in range(n):
        if not _close(arr, r0 + i * dr, c0 + i * dc, colour, tol):
            return i
    return 0


_run = compile_kernel(_run_py)[0]


def _outer_runs_py(arr: Any, tol: Any) -> Any:
    """For :func:`robust.rotation_angle`: the fill colour (the median of the four corner
    pixels, per channel) and, for each outermost line, the run of fill from each end:
    top from the left, top from the right, bottom from the left, bottom from the right,
    left from the top, left from the bottom, right from the top, right from the bottom
    (0 for a line all of fill)."""
    h, w = arr.shape[0], arr.shape[1]
    fill = np.empty(3, dtype=np.int64)
    corners = np.empty(4, dtype=np.int64)
    for ch in range(3):
        corners[0] = arr[0, 0, ch]
        corners[1] = arr[0, w - 1, ch]
        corners[2] = arr[h - 1, 0, ch]
        corners[3] = arr[h - 1, w - 1, ch]
        corners.sort()
        fill[ch] = (corners[1] + corners[2]) // 2
    runs = np.empty(8, dtype=np.int64)
    runs[0] = _run(arr, 0, 0, 0, 1, w, fill, tol)
    runs[1] = _run(arr, 0, w - 1, 0, -1, w, fill, tol)
    runs[2] = _run(arr, h - 1, 0, 0, 1, w, fill, tol)
    runs[3] = _run(arr, h - 1, w - 1, 0, -1, w, fill, tol)
    runs[4] = _run(arr, 0, 0, 1, 0, h, fill, tol)
    runs[5] = _run(arr, h - 1, 0, -1, 0, h, fill, tol)
    runs[6] = _run(arr, 0, w - 1, 1, 0, h, fill, tol)
    runs[7] = _run(arr, h - 1, w - 1, -1, 0, h, fill, tol)
    return fill, runs


outer_runs = compile_kernel(_outer_runs_py)[0]


def _framed_py(arr: Any, tol: Any, share: Any) -> Any:
    """robust's ``framed``: whether at least three of the four outermost lines have
    ``share`` of their pixels within ``tol`` of their median colour, those colours
    within ``tol`` of one another's."""
    h, w = arr.shape[0], arr.shape[1]
    colours = np.empty((4, 3), dtype=np.int64)
    plain = np.zeros(4, dtype=np.bool_)
    lines = ((0, 0, 0, 1, w), (h - 1, 0, 0, 1, w), (0, 0, 1, 0, h), (0, w - 1, 1, 0, h))
    for i in range(4):
        r0, c0, dr, dc, n = lines[i]
        _line_median(arr, r0, c0, dr, dc, n, colours[i])
        plain[i] = _count_close(arr, r0, c0, dr, dc, n, colours[i], tol) >= share * n
    for i in range(4):
        if not plain[i]:
            continue
        agree = 0
        for j in range(4):
            if not plain[j]:
                continue
            same = True
            for ch in range(3):
                if abs(colours[j, ch] - colours[i, ch]) > tol:
                    same = False
            if same:
                agree += 1
        if agree >= 3:
            return True
    return False


framed = compile_kernel(_framed_py)[0]

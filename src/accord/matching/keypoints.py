"""Local features of an image and their geometric verification (pure: numpy and OpenCV).

PDQ hashes the whole picture, so a crop of 10% or a caption over a quarter of it
moves the hash far away. Local features survive both: ORB finds corners at
several scales and describes the patch around each by 256 binary tests (32
bytes); a crop keeps most corners, an overlay hides only those under it. Two
images are the same picture when enough of their corners agree on one
similarity transform (rotation, scale, shift), found by RANSAC.

Data flow::

    banked RGB pixels --extract(mirror=True)--> Features (x, y; 32-byte descriptors),
        and the same for the image mirrored left to right (ORB is not mirror-invariant)
        --pack()--> bytes (stored beside the banked item, never exchanged); with the
        item's bank-side rotate-crop hashes (accord.matching.robust.bank_rotations)
        appended, format ORB3 (--unpack_rotations()--> (angle, PDQ hex) pairs)
    query RGB pixels --extract_query()--> Features (500 spread keypoints, plus up to
        250 "fill" keypoints from the grid cells that text beside a smooth picture
        left empty; image lookups enlarge a small query bicubically, and describe a
        framed query's picture alone first: accord.matching.lookup)
    query Features + one banked side --verify()--> inliers (int)

Everything is in the coordinates of the image scaled so that its longer side is
:data:`WORK_SIDE` pixels, so that thresholds mean the same for every size.
Nothing here touches storage; :mod:`accord.matching.keypoint_index` indexes
banked features, and the lookup service asks it only when PDQ's views found
nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from accord.errors import InvalidSignal

__all__ = [
    "BANK_FEATURES",
    "MIN_INLIERS",
    "QUERY_FEATURES",
    "QUERY_FILL",
    "SHARP_UPSCALE",
    "WORK_SIDE",
    "Features",
    "extract",
    "extract_query",
    "pack",
    "unpack",
    "unpack_rotations",
    "verify",
]

WORK_SIDE = 512
"""Images are scaled (up or down) so that the longer side has this many pixels."""
BANK_FEATURES = 256
"""Keypoints kept per banked image: 256 x 36 bytes = 9 KiB, stored beside the item."""
QUERY_FEATURES = 500
"""Keypoints per query image (not stored; more of them find more of a cropped image)."""
QUERY_FILL = 250
"""Extra query keypoints from the grid cells the first ones left nearly empty (text beside
a smooth photograph: see :func:`_weak_cells`)."""
RATIO = 0.8
"""Lowe's ratio test: a correspondence counts only when clearly better than the next."""
MIN_INLIERS = 12
"""Keypoints that must agree for a match: no unrelated query reached more than 7 on the
benchmark, and their counts fall about threefold per inlier (docs/robustness.md)."""
SHARP_UPSCALE = 2.0
"""A query enlarged this many times or more to the working scale is enlarged bicubically."""
REPROJECTION = 6.0
"""RANSAC's inlier tolerance, in pixels of the working scale."""

_MAGIC = b"ORB1"
_MAGIC_MIRRORED = b"ORB2"  # ORB1's layout, then the mirror side's count and block
# ORB2's layout (a mirror count of 0 when there is no mirror side), then the bank-side
# rotate-crop hashes: a count, and per hash its angle (int16, 1/100 degree) and 32 bytes
_MAGIC_ROTATIONS = b"ORB3"
_ROTATION = struct.Struct("<h32s")
_HEADER = struct.Struct("<4sHHH")  # magic, count, width, height (working scale)
_COUNT = struct.Struct("<H")
_XY_SCALE = 8.0  # coordinates stored as uint16 in 1/8 pixel
_FAST_THRESHOLDS = (12, 5, 2)
_GRID = 8
_SPOT = 4.0  # inliers closer than this (working pixels) count once


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints of one image: ``xy`` (n, 2) float32 and ``descriptors`` (n, 32) uint8.

    ``mirror``, when present, holds the keypoints of the left-right mirrored image
    (in its own coordinates): ORB is not mirror-invariant, so a banked image keeps
    both and a mirrored query (a mirror, a vertical flip, or either chained with a
    crop or an overlay) meets the side it was cut from.
    """

    xy: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8]
    width: int
    height: int
    mirror: Features | None = None

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def _gray(pixels: npt.NDArray[np.uint8], *, sharp: bool = False) -> npt.NDArray[np.uint8]:
    """Grey pixels at the working scale: reductions by area average, enlargements
    bilinear; with ``sharp`` (queries), enlargements of :data:`SHARP_UPSCALE` times or
    more bicubic (see :func:`extract_query`)."""
    import cv2

    arr: Any = np.ascontiguousarray(pixels, dtype=np.uint8)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    h, w = arr.shape[:2]
    scale = WORK_SIDE / max(h, w)
    if abs(scale - 1.0) > 1e-3:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        if sharp and scale >= SHARP_UPSCALE:
            interp = cv2.INTER_CUBIC
        arr = cv2.resize(arr, size, interpolation=interp)
    return np.asarray(arr, dtype=np.uint8)


def extract(
    pixels: npt.NDArray[np.uint8],
    max_features: int = BANK_FEATURES,
    *,
    mirror: bool = False,
    fill: int = 0,
) -> Features:
    """ORB keypoints of an RGB (or grey) uint8 image: at most ``max_features``, spread
    over a grid, plus at most ``fill`` from its weak cells (see :func:`_weak_cells`).

    ``mirror`` also extracts the left-right mirrored image (``Features.mirror``);
    banked images keep both. Queries ask ``fill=QUERY_FILL``.
    """
    gray = _gray(pixels)
    features = _extract_gray(gray, max_features, fill)
    if not mirror:
        return features
    flipped = _extract_gray(np.ascontiguousarray(gray[:, ::-1]), max_features, fill)
    return Features(features.xy, features.descriptors, features.width, features.height, flipped)


def extract_query(
    pixels: npt.NDArray[np.uint8], *, fill: bool = True, sharp: bool = False
) -> Features:
    """A query image's keypoints: :data:`QUERY_FEATURES`, plus :data:`QUERY_FILL` from its weak
    cells (``fill=False``: none; a framed query's whole image, whose picture has a look
    of its own). (No mirror side: banked images keep theirs.)

    With ``sharp`` (the image lookup; video frames keep the bilinear enlargement they
    were measured with), a small query (a copy resized to a quarter, a picture cut out
    of a frame) is enlarged to the working scale bicubically when that is
    :data:`SHARP_UPSCALE` times or more: a bilinear enlargement that large blurs away
    corners the banked original has (a crop resized to a quarter: 10 inliers bilinear,
    19 bicubic).
    """
    gray = _gray(pixels, sharp=sharp)
    return _extract_gray(gray, QUERY_FEATURES, QUERY_FILL if fill else 0)


def _orb(max_features: int, fast: int) -> Any:
    import cv2

    return cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=max_features * 4, scaleFactor=1.2, nlevels=8, fastThreshold=fast
    )


def _extract_gray(gray: npt.NDArray[np.uint8], max_features: int, fill: int) -> Features:
    h, w = gray.shape[:2]
    found: list[Any] = []
    orb: Any = None
    # Smooth photographs (sky, fog, skin) have few strong corners: lower FAST's
    # contrast threshold until enough are found rather than describe nothing.
    used = _FAST_THRESHOLDS[0]
    for used in _FAST_THRESHOLDS:
        orb = _orb(max_features, used)
        found = list(orb.detect(gray, None))
        if len(found) >= max_features:
            break
    chosen = _spread(found, max_features, w, h)
    lowest = min(_FAST_THRESHOLDS)
    if fill > 0 and lowest < used:
        weak = _weak_cells(chosen, max_features, w, h)
        if weak is not None:
            # One pass at the lowest threshold (its corners include the middle one's;
            # the strongest of each cell are kept): the benchmark found the same
            # matches as trying the middle threshold first, with one pass fewer.
            more = list(_orb(fill, lowest).detect(gray, weak))
            chosen = chosen + _spread(more, fill, w, h)
    keypoints, descriptors = orb.compute(gray, chosen)
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), int(w), int(h))
    xy = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return Features(xy, np.asarray(descriptors, dtype=np.uint8), int(w), int(h))


def _weak_cells(chosen: list[Any], max_features: int, w: int, h: int) -> Any:
    """A mask (uint8, 255 inside) of the grid cells holding under half their share of
    ``chosen``; None when there is none.

    A caption or a screenshot's text has hundreds of corners far stronger than a
    smooth photograph's; FAST's threshold then stays high (enough corners were
    found over the whole image) and the photograph beside the text keeps none,
    while the banked original, alone, was described at a lower threshold. The
    query's extra ``fill`` keypoints come from these cells at the lowest
    threshold: the smooth picture's own corners, as its banked copy has them.
    """
    need = max(1, max_features // (2 * _GRID * _GRID))
    counts = np.zeros((_GRID, _GRID), dtype=np.int64)
    if chosen:
        pts = np.array([k.pt for k in chosen], dtype=np.float64).reshape(-1, 2)
        cx = np.minimum(_GRID - 1, (pts[:, 0] * _GRID / w).astype(np.int64))
        cy = np.minimum(_GRID - 1, (pts[:, 1] * _GRID / h).astype(np.int64))
        np.add.at(counts, (cy, cx), 1)
    weak = counts < need
    if not weak.any():
        return None
    cell = np.ones((-(-h // _GRID), -(-w // _GRID)), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(weak.astype(np.uint8), cell)[:h, :w] * 255)


def _spread(keypoints: list[Any], limit: int, width: int, height: int) -> list[Any]:
    """At most ``limit`` keypoints, the strongest of each cell of a grid first.

    Text (captions, a screenshot's side panel) has far stronger corners than a
    photograph; ranked by strength alone, a caption would take the whole budget.
    Taking the best of every cell in turn keeps the picture's own corners.
    """
    if len(keypoints) <= limit:
        return keypoints
    response = np.array([k.response for k in keypoints], dtype=np.float64)
    pts = np.array([k.pt for k in keypoints], dtype=np.float64).reshape(-1, 2)
    cx = (pts[:, 0] * _GRID / max(width, 1)).astype(np.int64)
    cy = (pts[:, 1] * _GRID / max(height, 1)).astype(np.int64)
    order = np.argsort(-response, kind="stable")  # strongest first
    cell = (cx * (_GRID + 1) + cy)[order]
    # rank of each keypoint within its cell (0: the cell's strongest)
    by_cell = np.argsort(cell, kind="stable")
    sorted_cells = cell[by_cell]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_cells)])
    rank = np.empty(len(cell), dtype=np.int64)
    rank[by_cell] = np.arange(len(cell)) - np.repeat(starts, sizes)
    # every cell's best, then every cell's second best, ..., each layer by strength
    take = np.lexsort((-response[order], rank))[:limit]
    return [keypoints[int(order[i])] for i in take]


def _block(features: Features) -> bytes:
    xy = np.clip(np.rint(features.xy * _XY_SCALE), 0, 65535).astype("<u2")
    desc = np.ascontiguousarray(features.descriptors, dtype=np.uint8)
    return bytes(xy.tobytes()) + bytes(desc.tobytes())


def pack(features: Features, rotations: Sequence[tuple[float, str]] = ()) -> bytes:
    """Plain little-endian bytes: header, n x (uint16 x, uint16 y), n x 32 descriptor bytes.

    Without a mirror side the magic is ``ORB1`` (the format before mirrors were
    kept, still read); with one it is ``ORB2`` and the mirror's count and block
    follow the first block. With ``rotations`` (``(angle, PDQ hex)`` pairs: the
    item's bank-side views, :func:`accord.matching.robust.bank_rotations`) it is
    ``ORB3``: ORB2's layout, then their count and each as its angle in 1/100 degree
    (int16) and its 32 bytes.
    """
    magic = _MAGIC if features.mirror is None else _MAGIC_MIRRORED
    if rotations:
        magic = _MAGIC_ROTATIONS
    head = _HEADER.pack(magic, len(features), features.width, features.height)
    body = _block(features)
    if features.mirror is not None:
        body += _COUNT.pack(len(features.mirror)) + _block(features.mirror)
    elif rotations:
        body += _COUNT.pack(0)
    if rotations:
        body += _COUNT.pack(len(rotations)) + b"".join(
            _ROTATION.pack(round(angle * 100), bytes.fromhex(value)) for angle, value in rotations
        )
    return bytes(head + body)


def _unblock(data: bytes, start: int, n: int, width: int, height: int) -> Features:
    xy = np.frombuffer(data, dtype="<u2", count=2 * n, offset=start).reshape(n, 2)
    desc = np.frombuffer(data, dtype=np.uint8, count=32 * n, offset=start + 4 * n).reshape(n, 32)
    return Features(
        (xy.astype(np.float32) / _XY_SCALE), np.array(desc, dtype=np.uint8), width, height
    )


def _layout(data: bytes) -> tuple[bytes, int, int, int, int, int]:
    """Magic, keypoint count, width, height, mirror count and where the rotations start
    (the end of the mirror block) of packed features, checked against the length."""
    if len(data) < _HEADER.size:
        raise InvalidSignal("keypoint data is shorter than its header", signal_type="orb")
    magic, n, width, height = _HEADER.unpack_from(data)
    if magic not in (_MAGIC, _MAGIC_MIRRORED, _MAGIC_ROTATIONS):
        raise InvalidSignal(
            "keypoint data does not start with ORB1, ORB2 or ORB3", signal_type="orb"
        )
    first = _HEADER.size + n * 36
    m = 0
    end = first
    if magic != _MAGIC:
        if len(data) < first + _COUNT.size:
            raise InvalidSignal("keypoint data ends before its mirror count", signal_type="orb")
        (m,) = _COUNT.unpack_from(data, first)
        end = first + _COUNT.size + m * 36
    expected = end
    if magic == _MAGIC_ROTATIONS:
        if len(data) < end + _COUNT.size:
            raise InvalidSignal("keypoint data ends before its rotation count", signal_type="orb")
        (k,) = _COUNT.unpack_from(data, end)
        expected = end + _COUNT.size + k * _ROTATION.size
    if len(data) != expected:
        raise InvalidSignal(
            f"keypoint data of {len(data)} bytes does not hold {n} + {m} keypoints"
            + (" and its rotations" if magic == _MAGIC_ROTATIONS else ""),
            signal_type="orb",
        )
    return magic, n, width, height, m, end


def unpack(data: bytes) -> Features:
    """The inverse of :func:`pack` (the rotations of ``ORB3`` are left out: see
    :func:`unpack_rotations`); :class:`InvalidSignal` when ``data`` is not such bytes."""
    magic, n, width, height, m, _end = _layout(data)
    features = _unblock(data, _HEADER.size, n, width, height)
    if magic == _MAGIC or (magic == _MAGIC_ROTATIONS and m == 0):
        return features
    mirror = _unblock(data, _HEADER.size + n * 36 + _COUNT.size, m, width, height)
    return Features(features.xy, features.descriptors, width, height, mirror)


def unpack_rotations(data: bytes) -> list[tuple[float, str]]:
    """The bank-side rotate-crop hashes packed with the features, as ``(angle, PDQ hex)``
    pairs (none for ``ORB1`` and ``ORB2``, the formats before them)."""
    magic, _n, _w, _h, _m, end = _layout(data)
    if magic != _MAGIC_ROTATIONS:
        return []
    (k,) = _COUNT.unpack_from(data, end)
    return [
        (centi / 100, value.hex())
        for centi, value in _ROTATION.iter_unpack(
            data[end + _COUNT.size : end + _COUNT.size + k * _ROTATION.size]
        )
    ]


def verify(query: Features, banked: Features, min_inliers: int = 0) -> int:
    """How many correspondences agree on one similarity transform (0 when too few).

    Correspondences: each query descriptor's two nearest banked descriptors
    (Hamming), kept when the nearest is clearly closer (ratio test). RANSAC then
    fits rotation + uniform scale + shift (``estimateAffinePartial2D``: a crop,
    rescale, small rotation, padding or frame is one such transform) and counts
    the correspondences within :data:`REPROJECTION` pixels of it. Only ``banked``'s
    own side is used (its mirror is another call). With ``min_inliers``, a pair
    with fewer correspondences than that returns 0 before RANSAC: the count
    could not reach it (most unrelated candidates end here, cheaply).
    """
    import cv2

    if len(query) < 4 or len(banked) < 4:
        return 0
    import faiss

    # The two nearest banked descriptors of each query descriptor (exact Hamming,
    # the same as OpenCV's brute-force matcher, about 2.5x faster at this size).
    flat = faiss.IndexBinaryFlat(256)
    flat.add(np.ascontiguousarray(banked.descriptors, dtype=np.uint8))
    distances, labels = flat.search(np.ascontiguousarray(query.descriptors, dtype=np.uint8), 2)
    keep = (labels[:, 1] >= 0) & (distances[:, 0] < RATIO * distances[:, 1])
    src = np.ascontiguousarray(banked.xy[labels[keep, 0]], dtype=np.float32)
    dst = np.ascontiguousarray(query.xy[keep], dtype=np.float32)
    if len(src) < max(4, min_inliers):
        return 0  # too few correspondences to ever reach the count: skip RANSAC
    model, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=REPROJECTION,
        maxIters=2000,
        confidence=0.995,
    )
    if model is None or mask is None:
        return 0
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    if not 0.25 <= scale <= 4.0:  # a degenerate fit, not a rescaled picture
        return 0
    # Keypoints found at several pyramid levels sit on one spot: count spots.
    spots = src[mask.ravel().astype(bool)] // _SPOT
    return int(np.unique(spots, axis=0).shape[0])

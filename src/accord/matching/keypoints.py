"""Local features of an image and their geometric verification (pure: numpy and OpenCV).

PDQ hashes the whole picture, so a crop of 10% or a caption over a quarter of it
moves the hash far away. Local features survive both: ORB finds corners at
several scales and describes the patch around each by 256 binary tests (32
bytes); a crop keeps most corners, an overlay hides only those under it. Two
images are the same picture when enough of their corners agree on one
similarity transform (rotation, scale, shift), found by RANSAC.

Data flow::

    decoded RGB pixels --extract()--> Features (x, y; 32-byte descriptors)
        --pack()--> bytes (stored beside the banked item, never exchanged)
    query Features + banked Features --verify()--> inliers (int)

Everything is in the coordinates of the image scaled so that its longer side is
:data:`WORK_SIDE` pixels, so that thresholds mean the same for every size.
Nothing here touches storage; :mod:`accord.signals.keypoints` makes this a
signal type with an index, and the lookup service asks it only when PDQ's views
found nothing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from accord.errors import InvalidSignal

__all__ = [
    "BANK_FEATURES",
    "MIN_INLIERS",
    "QUERY_FEATURES",
    "WORK_SIDE",
    "Features",
    "extract",
    "pack",
    "unpack",
    "verify",
]

WORK_SIDE = 512
"""Images are scaled (up or down) so that the longer side has this many pixels."""
BANK_FEATURES = 256
"""Keypoints kept per banked image: 256 x 36 bytes = 9 KiB, stored beside the item."""
QUERY_FEATURES = 500
"""Keypoints per query image (not stored; more of them find more of a cropped image)."""
RATIO = 0.8
"""Lowe's ratio test: a correspondence counts only when clearly better than the next."""
MIN_INLIERS = 15
"""Keypoints that must agree for a match (chosen on the benchmark; see docs/robustness.md)."""
REPROJECTION = 6.0
"""RANSAC's inlier tolerance, in pixels of the working scale."""

_MAGIC = b"ORB1"
_HEADER = struct.Struct("<4sHHH")  # magic, count, width, height (working scale)
_XY_SCALE = 8.0  # coordinates stored as uint16 in 1/8 pixel
_FAST_THRESHOLDS = (12, 5, 2)
_GRID = 8
_SPOT = 4.0  # inliers closer than this (working pixels) count once


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints of one image: ``xy`` (n, 2) float32 and ``descriptors`` (n, 32) uint8."""

    xy: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8]
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def _gray(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    import cv2

    arr: Any = np.ascontiguousarray(pixels, dtype=np.uint8)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    h, w = arr.shape[:2]
    scale = WORK_SIDE / max(h, w)
    if abs(scale - 1.0) > 1e-3:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        arr = cv2.resize(arr, size, interpolation=interp)
    return np.asarray(arr, dtype=np.uint8)


def extract(pixels: npt.NDArray[np.uint8], max_features: int = BANK_FEATURES) -> Features:
    """The strongest ``max_features`` ORB keypoints of an RGB (or grey) uint8 image."""
    import cv2

    gray = _gray(pixels)
    h, w = gray.shape[:2]
    found: list[Any] = []
    # Smooth photographs (sky, fog, skin) have few strong corners: lower FAST's
    # contrast threshold until enough are found rather than describe nothing.
    for fast in _FAST_THRESHOLDS:
        orb = cv2.ORB_create(  # type: ignore[attr-defined]
            nfeatures=max_features * 4, scaleFactor=1.2, nlevels=8, fastThreshold=fast
        )
        found = list(orb.detect(gray, None))
        if len(found) >= max_features:
            break
    chosen = _spread(found, max_features, w, h)
    keypoints, descriptors = orb.compute(gray, chosen)
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), int(w), int(h))
    xy = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return Features(xy, np.asarray(descriptors, dtype=np.uint8), int(w), int(h))


def _spread(keypoints: list[Any], limit: int, width: int, height: int) -> list[Any]:
    """At most ``limit`` keypoints, the strongest of each cell of a grid first.

    Text (captions, a screenshot's side panel) has far stronger corners than a
    photograph; ranked by strength alone, a caption would take the whole budget.
    Taking the best of every cell in turn keeps the picture's own corners.
    """
    if len(keypoints) <= limit:
        return keypoints
    cells: dict[tuple[int, int], list[Any]] = {}
    for k in sorted(keypoints, key=lambda k: -k.response):
        x, y = k.pt
        cell = (int(x * _GRID / max(width, 1)), int(y * _GRID / max(height, 1)))
        cells.setdefault(cell, []).append(k)
    out: list[Any] = []
    rank = 0
    while len(out) < limit:
        layer = [c[rank] for c in cells.values() if len(c) > rank]
        if not layer:
            break
        layer.sort(key=lambda k: -k.response)
        out.extend(layer[: limit - len(out)])
        rank += 1
    return out


def pack(features: Features) -> bytes:
    """Plain little-endian bytes: header, n x (uint16 x, uint16 y), n x 32 descriptor bytes."""
    n = len(features)
    xy = np.clip(np.rint(features.xy * _XY_SCALE), 0, 65535).astype("<u2")
    return bytes(
        _HEADER.pack(_MAGIC, n, features.width, features.height)
        + xy.tobytes()
        + np.ascontiguousarray(features.descriptors, dtype=np.uint8).tobytes()
    )


def unpack(data: bytes) -> Features:
    """The inverse of :func:`pack`; :class:`InvalidSignal` when ``data`` is not such bytes."""
    if len(data) < _HEADER.size:
        raise InvalidSignal("keypoint data is shorter than its header", signal_type="orb")
    magic, n, width, height = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise InvalidSignal("keypoint data does not start with ORB1", signal_type="orb")
    if len(data) != _HEADER.size + n * 36:
        raise InvalidSignal(
            f"keypoint data of {len(data)} bytes does not hold {n} keypoints", signal_type="orb"
        )
    start = _HEADER.size
    xy = np.frombuffer(data, dtype="<u2", count=2 * n, offset=start).reshape(n, 2)
    desc = np.frombuffer(data, dtype=np.uint8, count=32 * n, offset=start + 4 * n).reshape(n, 32)
    return Features(
        (xy.astype(np.float32) / _XY_SCALE), np.array(desc, dtype=np.uint8), width, height
    )


def verify(query: Features, banked: Features) -> int:
    """How many correspondences agree on one similarity transform (0 when too few).

    Correspondences: each query descriptor's two nearest banked descriptors
    (Hamming), kept when the nearest is clearly closer (ratio test). RANSAC then
    fits rotation + uniform scale + shift (``estimateAffinePartial2D``: a crop,
    rescale, small rotation, padding or frame is one such transform) and counts
    the correspondences within :data:`REPROJECTION` pixels of it.
    """
    import cv2

    if len(query) < 4 or len(banked) < 4:
        return 0
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query.descriptors, banked.descriptors, k=2)
    src: list[tuple[float, float]] = []
    dst: list[tuple[float, float]] = []
    for pair in pairs:
        if len(pair) < 2:
            continue
        best, second = pair[0], pair[1]
        if best.distance < RATIO * second.distance:
            bx, by = banked.xy[best.trainIdx]
            qx, qy = query.xy[best.queryIdx]
            src.append((float(bx), float(by)))
            dst.append((float(qx), float(qy)))
    if len(src) < 4:
        return 0
    model, mask = cv2.estimateAffinePartial2D(
        np.asarray(src, np.float32),
        np.asarray(dst, np.float32),
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
    spots = np.asarray(src, np.float32)[mask.ravel().astype(bool)] // _SPOT
    return int(np.unique(spots, axis=0).shape[0])

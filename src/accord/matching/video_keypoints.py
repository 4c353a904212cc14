"""Local features for video: banked keyframes' ORB keypoints, verified against a query's frames.

Why: a crop or an overlay on every frame moves every frame's PDQ past any
threshold, and no view of the query undoes it (docs/robustness.md, "Video").
Images solve this with local features kept beside the banked item
(:mod:`accord.matching.keypoints`); this module does the same for videos,
reusing that code for every frame: extraction, packing and verification are
the image ones. What is added is the time axis: a video matches only when
*several* of its frames verify against keyframes of the *same* banked video,
in a consistent time order.

Data flow::

    banked video ──► one frame every KEY_EVERY seconds (+ a frame at each cut)
        ──► keypoints.extract per keyframe, and its mirror ──► pack_video: bytes ("VKP1"), kept
        beside the banked item (never exchanged: banks stay plain vPDQ)
    VideoKeypointIndex: every keyframe is an "image" of one KeypointIndex (its
        descriptors vote, the best candidates are verified by RANSAC), with its
        video and time kept beside it
    query frames (the ones vPDQ samples, at most MAX_QUERY_FRAMES spread over
        the video) ──► keypoints.extract_query ──► per frame: verified keyframes
        (≥ MIN_INLIERS each, the images' rule) ──► per banked video: the longest
        chain of (query time, bank time) pairs in time order (:func:`chain`)
        ──► a match when the chain has ≥ MIN_FRAMES query frames and covers
        ≥ MIN_SHARE of the query's frames or of the video's keyframes.

Everything here is pure (numpy, OpenCV through :mod:`keypoints`); storage and
the matcher's change feed are the service's and the matcher's business.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from accord.errors import InvalidSignal
from accord.matching import keypoints
from accord.matching.keypoint_index import KeypointIndex

if TYPE_CHECKING:
    from accord.signals.media import DecodedVideo

__all__ = [
    "KEY_EVERY",
    "MAX_BANK_KEYFRAMES",
    "MAX_QUERY_FRAMES",
    "MIN_FRAMES",
    "MIN_SHARE",
    "Keyframe",
    "VideoKeypointHit",
    "VideoKeypointIndex",
    "bank_keyframes",
    "chain",
    "decide",
    "pack_video",
    "query_keyframes",
    "unpack_video",
]

KEY_EVERY = 2.0
"""Seconds between banked keyframes (a cut in between adds one: see :data:`CUT_BITS`)."""
CUT_BITS = 110
"""A sampled frame whose PDQ is this far from the last keyframe's starts a new keyframe
(a cut, or a pan that has left the last keyframe's picture)."""
BANK_FRAME_FEATURES = keypoints.BANK_FEATURES
"""Keypoints kept per banked keyframe (as for a banked image)."""
MIRROR = True
"""Banked keyframes keep their mirror side too (ORB is not mirror-invariant; as for images)."""
MAX_BANK_KEYFRAMES = 64
"""A longer banked video spaces its keyframes further apart (storage and memory stay bounded:
about 1.2 MB stored and 2.9 MB in each matcher with the mirror sides, whatever its length)."""
MAX_QUERY_FRAMES = 48
"""At most this many query frames are verified (spread over the video): bounds the cost."""
MIN_FRAMES = 3
"""Query frames (distinct seconds) that must verify, in time order, against one video."""
MIN_SHARE = 0.2
"""...covering at least this share of the query's frames or of the video's keyframes."""
ORDER_SLACK = KEY_EVERY
"""Seconds a chain's bank time may step back (two keyframes of one static shot look alike)."""

_MAGIC = b"VKP1"
_HEAD = struct.Struct("<4sH")  # magic, keyframe count
_FRAME = struct.Struct("<II")  # time in ms, packed length


@dataclass(frozen=True, slots=True)
class Keyframe:
    """One frame's time (seconds) and its local features."""

    time: float
    features: keypoints.Features


@dataclass(frozen=True, slots=True)
class VideoKeypointHit:
    """A banked video (caller's id) that the query matched by keypoints.

    ``frames``: query frames in the chain; ``inliers``: the smallest count among
    them (each is at least the minimum); ``query_percent`` / ``bank_percent``: the
    chain's share of the query's frames and of the video's keyframes."""

    id: int
    frames: int
    inliers: int
    query_percent: float
    bank_percent: float


def _gray(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if pixels.ndim == 2:
        return pixels
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.asarray(np.rint(pixels[..., :3].astype(np.float32) @ weights), dtype=np.uint8)


def bank_keyframes(
    video: DecodedVideo, *, every: float = KEY_EVERY, max_side: int = keypoints.WORK_SIDE
) -> list[Keyframe]:
    """The keyframes a banked video keeps: the frame at 0 s, then one every ``every`` seconds,
    or sooner when the picture changed (PDQ :data:`CUT_BITS` away from the last keyframe),
    sampled once a second; each with :data:`BANK_FRAME_FEATURES` keypoints. A video longer
    than ``every`` x :data:`MAX_BANK_KEYFRAMES` / 2 seconds spaces them further (a cut
    counts only ``every / 2`` after the last keyframe), so that at most
    :data:`MAX_BANK_KEYFRAMES` are kept, spread over the whole video."""
    from accord.signals import pdqfast
    from accord.signals.pdq import hamming

    every = max(every, video.duration / (MAX_BANK_KEYFRAMES // 2))  # half left for cuts
    kept: list[Keyframe] = []
    last_time = -every
    last_hash: str | None = None
    for frame in video.frames(1.0, max_side=max_side):
        pdq, _quality = pdqfast.hash_hex(frame.pixels)
        due = frame.timestamp - last_time >= every - 1e-6
        cut = (
            last_hash is not None
            and frame.timestamp - last_time >= every / 2 - 1e-6
            and hamming(pdq, last_hash) >= CUT_BITS
        )
        if not (due or cut) or len(kept) >= MAX_BANK_KEYFRAMES:
            continue
        features = keypoints.extract(_gray(frame.pixels), BANK_FRAME_FEATURES, mirror=MIRROR)
        if len(features) < 4:
            continue  # a flat frame (black, a title card's plain area): nothing to verify
        kept.append(Keyframe(float(frame.timestamp), features))
        last_time, last_hash = frame.timestamp, pdq
    return kept


def pack_video(frames: Sequence[Keyframe]) -> bytes:
    """Plain bytes: ``VKP1``, the keyframe count, then per keyframe its time (ms), the length
    of its packed features and those (:func:`keypoints.pack`: ``ORB2`` with the mirror side,
    ``ORB1`` without)."""
    out = bytearray(_HEAD.pack(_MAGIC, len(frames)))
    for frame in frames:
        blob = keypoints.pack(frame.features)
        out += _FRAME.pack(max(0, round(frame.time * 1000)), len(blob)) + blob
    return bytes(out)


def unpack_video(data: bytes) -> list[Keyframe]:
    """The inverse of :func:`pack_video`; :class:`InvalidSignal` when ``data`` is not such bytes."""
    if len(data) < _HEAD.size:
        raise InvalidSignal("video keypoint data is shorter than its header", signal_type="orb")
    magic, count = _HEAD.unpack_from(data)
    if magic != _MAGIC:
        raise InvalidSignal("video keypoint data does not start with VKP1", signal_type="orb")
    offset = _HEAD.size
    out: list[Keyframe] = []
    for _ in range(count):
        if len(data) < offset + _FRAME.size:
            raise InvalidSignal("video keypoint data ends inside a keyframe", signal_type="orb")
        millis, length = _FRAME.unpack_from(data, offset)
        offset += _FRAME.size
        if len(data) < offset + length:
            raise InvalidSignal("video keypoint data ends inside a keyframe", signal_type="orb")
        out.append(Keyframe(millis / 1000, keypoints.unpack(data[offset : offset + length])))
        offset += length
    if offset != len(data):
        raise InvalidSignal("video keypoint data has bytes after its keyframes", signal_type="orb")
    return out


def is_video_features(data: bytes) -> bool:
    """Whether stored feature bytes are a video's (``VKP1``) rather than an image's."""
    return data[:4] == _MAGIC


def query_keyframes(
    frames: Sequence[tuple[float, npt.NDArray[np.uint8]]], limit: int = MAX_QUERY_FRAMES
) -> list[Keyframe]:
    """A query's frames (time, pixels) as keyframes with the query's keypoints
    (:func:`keypoints.extract_query`); at most ``limit``, spread evenly over the video."""
    chosen = list(frames)
    if len(chosen) > limit:
        picks = np.unique(np.linspace(0, len(chosen) - 1, limit).round().astype(int))
        chosen = [chosen[int(i)] for i in picks]
    out = []
    for time, pixels in chosen:
        features = keypoints.extract_query(_gray(pixels))
        if len(features) >= 4:
            out.append(Keyframe(float(time), features))
    return out


def chain(pairs: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The longest run of (query time, bank time) pairs in time order: query times strictly
    increasing, bank times not going back by more than :data:`ORDER_SLACK`; one pair per
    query time. (A copy is played forwards: cuts, inserted frames and embedding shift
    time but keep its order; pairs from unrelated footage rarely line up.)"""
    items = sorted(set(pairs))
    n = len(items)
    if n == 0:
        return []
    length = [1] * n
    back = [-1] * n
    for i in range(n):
        qi, bi = items[i]
        for j in range(i):
            qj, bj = items[j]
            if qj < qi and bi >= bj - ORDER_SLACK and length[j] + 1 > length[i]:
                length[i], back[i] = length[j] + 1, j
    end = int(np.argmax(length))
    out = []
    while end >= 0:
        out.append(items[end])
        end = back[end]
    return out[::-1]


def decide(
    pairs: Sequence[tuple[float, float, int]],
    query_frames: int,
    bank_frames: int,
    *,
    min_frames: int = MIN_FRAMES,
    min_share: float = MIN_SHARE,
) -> tuple[bool, list[tuple[float, float]], float, float]:
    """Whether verified (query time, bank time, inliers) pairs against one banked video make
    a match; also the chain and its query and bank shares (percent)."""
    best = chain((q, b) for q, b, _ in pairs)
    query_share = 100.0 * len(best) / max(1, query_frames)
    bank_share = 100.0 * len({b for _, b in best}) / max(1, bank_frames)
    ok = len(best) >= min_frames and max(query_share, bank_share) >= 100.0 * min_share
    return ok, best, min(100.0, query_share), min(100.0, bank_share)


class VideoKeypointIndex:
    """Banked videos' keyframes (by the caller's video id), each an image of one
    :class:`KeypointIndex`; thread-safe for one writer and many readers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points = KeypointIndex()
        self._frames: dict[int, list[int]] = {}  # video -> keyframe row ids
        self._owner: dict[int, tuple[int, float]] = {}  # keyframe row -> (video, time)
        self._next = 1

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, ids: Sequence[int], blobs: Sequence[bytes]) -> None:
        """Add (or replace) videos from their packed keyframes (:func:`pack_video`)."""
        if len(ids) != len(blobs):
            raise ValueError("ids and blobs differ in length")
        unpacked = [(int(i), unpack_video(b)) for i, b in zip(ids, blobs, strict=True)]
        rows: list[int] = []
        data: list[bytes] = []
        with self._lock:
            self._remove_locked([i for i, _ in unpacked])
            for ident, frames in unpacked:
                mine = []
                for frame in frames:
                    row = self._next
                    self._next += 1
                    self._owner[row] = (ident, frame.time)
                    mine.append(row)
                    rows.append(row)
                    data.append(keypoints.pack(frame.features))
                self._frames[ident] = mine
        if rows:
            self._points.add(rows, data)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove videos; unknown ids are ignored."""
        with self._lock:
            self._remove_locked([int(i) for i in ids])

    def _remove_locked(self, ids: list[int]) -> None:
        rows = [r for i in ids for r in self._frames.pop(i, [])]
        for r in rows:
            del self._owner[r]
        if rows:
            self._points.remove(rows)

    def pairs(
        self, query: Sequence[Keyframe], min_inliers: int
    ) -> dict[int, list[tuple[float, float, int]]]:
        """Per banked video, the (query time, bank time, inliers) of every query frame that
        verified against one of its keyframes with at least ``min_inliers``."""
        out: dict[int, list[tuple[float, float, int]]] = {}
        for frame in query:
            for hit in self._points.query(frame.features, min_inliers):
                with self._lock:
                    owner = self._owner.get(hit.id)
                if owner is not None:
                    out.setdefault(owner[0], []).append((frame.time, owner[1], hit.inliers))
        return out

    def query(
        self,
        query: Sequence[Keyframe],
        min_inliers: int = keypoints.MIN_INLIERS,
        *,
        min_frames: int = MIN_FRAMES,
        min_share: float = MIN_SHARE,
    ) -> list[VideoKeypointHit]:
        """Banked videos that ``query`` matches (see :func:`decide`), best first."""
        hits = []
        for ident, found in self.pairs(query, min_inliers).items():
            with self._lock:
                keyframes = len(self._frames.get(ident, ()))
            ok, best, q_share, b_share = decide(
                found, len(query), keyframes, min_frames=min_frames, min_share=min_share
            )
            if not ok:
                continue
            inliers = {(q, b): n for q, b, n in found}
            hits.append(
                VideoKeypointHit(ident, len(best), min(inliers[p] for p in best), q_share, b_share)
            )
        hits.sort(key=lambda h: (-max(h.query_percent, h.bank_percent), -h.frames, h.id))
        return hits

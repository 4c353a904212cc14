"""Robust vPDQ matching: a query video asked in more ways, against plain vPDQ banks.

Why: banks hold vPDQ, the PDQ of one frame a second, and must stay so (it is
what platforms exchange). Three things make a re-upload miss them: a
geometric edit of every frame (mirror, letterbox, padding, a frame around
it), which moves every frame's PDQ; a cut, inserted frames or an embedding,
which shift the query's seconds against the bank's, so that its sampled
frames fall up to half a second away from the banked ones (at a moderate
pan PDQ moves 8-12 bits a frame); and HMA's rule itself, which wants 80% of
both videos (see :class:`accord.signals.vpdq.VpdqRule` for the clip and
embedded clauses). This module handles the first two on the query side.

Data flow::

    DecodedVideo ──► frames sampled 4x the vPDQ rate (max side 512), decoded once
      the frames vPDQ samples ─► robust_views ─► FrameViews.views (views[0] = plain PDQ)
      the 3 in between        ─► plain PDQ + 7 orientations ─► FrameViews.between
      the frames vPDQ samples ─► StillBorder (what never moves: bars, a template, a
                                 rotation's corners) ─► with a border, a second decode adds
                                 its views (``bars`` ...) to every frame (video_bars)
      with ``keep``: up to 2 x keep of them, inside the border ─► FrameViews.pixels, for
                                 the keypoint stage (accord.matching.video_keypoints)
    FrameViews ──► vpdq_of: the plain vPDQ signal (identical to VpdqSignal.hash_video)
               └─► stages: groups of hashes per distinct usable frame, asked in turn
                   (plain frames; + phase samples; + views), each only while no
                   bank video already holds 80% of the query (:func:`explained`)
    VpdqIndex.query_frames(groups): a query frame counts as matched in a bank video
    when any hash of its group is within the threshold of one of the video's
    frames; then the vPDQ rule (shares of query and bank frames) decides.

Cost: one decode (two for a video with a still border); a robust view set
(~25 ms) per vPDQ frame and three plain hashes between; lookups grow with the
stage reached (1, 4, then ~40 hashes per second of video). docs/robustness.md
("Video") has the measurements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from accord.errors import InvalidInput
from accord.matching.model import Match
from accord.matching.robust import ORIENTATIONS, View, robust_views
from accord.matching.video_bars import StillBorder, border_views, crop_to
from accord.signals import pdqfast
from accord.signals.base import Hashed, IndexHit
from accord.signals.pdq import pdq_hash_pixels
from accord.signals.vpdq import FRAME_MAX_SIDE, VpdqFrame, VpdqIndex, VpdqRule, VpdqSignal

if TYPE_CHECKING:
    from accord.signals.media import DecodedVideo

__all__ = [
    "EXPLAINED_PERCENT",
    "FrameViews",
    "explained",
    "frame_views",
    "match_views",
    "stages",
    "view_groups",
    "vpdq_of",
]


@dataclass(frozen=True, slots=True)
class FrameViews:
    """One frame vPDQ samples from a query video, with its views and its phase neighbours.

    ``views[0]`` is the frame's plain PDQ (what vPDQ gives), the rest its robust
    views; ``between`` holds the frames sampled between it and the next one (a
    query sampled ``phases`` times per vPDQ interval), which catch a bank frame
    when the query's seconds do not fall on the bank's: their plain PDQ
    (``phase``) and, with views, their other orientations (``phase:rot90`` ...)."""

    number: int
    timestamp: float
    views: tuple[View, ...]
    between: tuple[View, ...] = ()
    pixels: NDArray[np.uint8] | None = None
    """The frame itself (RGB), kept by :func:`frame_views` with ``keep`` for the keypoint
    stage (:mod:`accord.matching.video_keypoints`); ``None`` when not kept."""

    @property
    def plain(self) -> VpdqFrame:
        """The frame as vPDQ hashes it."""
        first = self.views[0]
        return VpdqFrame(self.number, first.quality, first.pdq_hex, round(self.timestamp, 3))


def frame_views(
    video: DecodedVideo,
    signal: VpdqSignal,
    *,
    phases: int = 4,
    views: bool = True,
    keep: int = 0,
    bars: bool = True,
) -> list[FrameViews]:
    """The frames vPDQ samples from ``video`` with their views, in one decode.

    The video is sampled ``phases`` times per vPDQ interval; the samples that
    vPDQ itself takes (the first frame at or after each multiple of ``1/fps``)
    get robust views (with ``views``), the others their plain PDQ (and, with
    ``views``, their orientations). ``keep``: the pixels of about that many of
    the frames vPDQ samples (between ``keep`` and ``2 * keep``, evenly spaced) stay
    in ``FrameViews.pixels``, for the keypoint stage, so memory stays bounded
    however long the video. With ``views`` and ``bars``, a border that stays still
    over the whole video (bars, padding, a template, a rotation's corners:
    :mod:`accord.matching.video_bars`) adds its views to every vPDQ frame; that
    takes a second decode, only for videos that have such a border."""
    if phases < 1:
        raise InvalidInput(f"phases must be at least 1, not {phases}", phases=phases)
    out: list[FrameViews] = []
    kept: dict[int, NDArray[np.uint8]] = {}  # index in ``out`` -> pixels
    stride = 1
    step = 1.0 / signal.fps
    next_time = 0.0
    pending: list[View] = []
    still = StillBorder()
    for frame in video.frames(signal.fps * phases, max_side=FRAME_MAX_SIDE):
        if frame.timestamp + 1e-6 >= next_time:  # the frame vPDQ samples
            while next_time <= frame.timestamp + 1e-6:
                next_time += step
            if out:
                out[-1] = replace(out[-1], between=tuple(pending))
            pending = []
            found = robust_views(frame.pixels) if views else []
            if views and bars:
                still.add(frame.pixels)
            if not found:
                found = [View("pdq", *pdq_hash_pixels(frame.pixels))]
            if keep > 0 and len(out) % stride == 0:
                kept[len(out)] = frame.pixels
                if len(kept) > 2 * keep:  # thin to every other one kept: memory stays bounded
                    stride *= 2
                    kept = {i: p for i, p in kept.items() if i % stride == 0}
            out.append(FrameViews(frame.number, frame.timestamp, tuple(found)))
        elif views:
            pending.extend(_oriented(frame.pixels))
        else:
            pending.append(View("phase", *pdq_hash_pixels(frame.pixels)))
    if out:
        out[-1] = replace(out[-1], between=tuple(pending))
    border = still.estimate() if views and bars else None
    for i, pixels in kept.items():
        # the keypoint stage describes the picture only: inside still bars or a template
        # it is small, and the bars' or the template's corners would take its share
        out[i] = replace(out[i], pixels=crop_to(pixels, border))
    if border is not None:
        where = {f.number: i for i, f in enumerate(out)}
        for frame in video.frames(signal.fps, max_side=FRAME_MAX_SIDE):
            at = where.get(frame.number)
            if at is not None:
                extra = tuple(border_views(frame.pixels, border))
                out[at] = replace(out[at], views=out[at].views + extra)
    return out


def _oriented(pixels: NDArray[np.uint8]) -> list[View]:
    """A phase sample's plain PDQ and its 7 other orientations (mirror, flips, turns), in
    one pass (:func:`accord.signals.pdqfast.oriented_hex`)."""
    hashes, quality = pdqfast.oriented_hex(pixels)
    names = ("phase", *(f"phase:{name}" for name in ORIENTATIONS[1:]))
    return [View(name, value, quality) for name, value in zip(names, hashes, strict=True)]


def vpdq_of(frames: Sequence[FrameViews], signal: VpdqSignal) -> Hashed:
    """The plain vPDQ signal of the frames: the same value :meth:`VpdqSignal.hash_video` gives."""
    return signal.hashed(frame.plain for frame in frames)


def view_groups(
    frames: Sequence[FrameViews], min_quality: int, *, views: bool = True, between: bool = True
) -> list[list[str]]:
    """Per distinct usable frame, the distinct hashes to ask for it (plain first).

    A frame is usable, as in vPDQ, when its plain PDQ quality reaches
    ``min_quality``; frames with the same plain hash count once. Its group holds
    its robust views (with ``views``) and the usable phase samples after it
    (with ``between``)."""
    groups: dict[str, list[str]] = {}
    for frame in frames:
        plain = frame.views[0]
        if plain.quality < min_quality or plain.pdq_hex in groups:
            continue
        asked = [plain.pdq_hex]
        if views:
            asked += [v.pdq_hex for v in frame.views[1:]]
        if between:
            asked += [
                v.pdq_hex
                for v in frame.between
                if v.quality >= min_quality and (views or v.name == "phase")
            ]
        groups[plain.pdq_hex] = list(dict.fromkeys(asked))
    return list(groups.values())


def stages(
    frames: Sequence[FrameViews], min_quality: int, *, views: bool = True
) -> Iterator[list[list[str]]]:
    """The questions to ask, in order, until one finds a match: the plain frames (plain
    vPDQ), then with the phase samples, then (with ``views``) with the robust views too.
    A stage that would ask nothing new is left out."""
    asked: list[list[str]] | None = None
    steps = [(False, False), (False, True)] + ([(True, True)] if views else [])
    for with_views, between in steps:
        groups = view_groups(frames, min_quality, views=with_views, between=between)
        if groups != asked:
            asked = groups
            yield groups


EXPLAINED_PERCENT = 80.0
"""Later stages are skipped once one bank video holds this share of the query's frames."""


def explained(hits: Iterable[IndexHit | Match]) -> bool:
    """Whether one hit already accounts for most of the query (no further stage needed).

    A hit on a part of the query only (a banked intro inside a longer upload) does not
    stop the search: the rest of the query may be another banked video, found only
    by a later stage."""
    return any(h.detail.get("query_match_percent", 0.0) >= EXPLAINED_PERCENT for h in hits)


def match_views(
    index: VpdqIndex,
    frames: Sequence[FrameViews],
    min_quality: int,
    threshold: float | None = None,
    rule: VpdqRule | None = None,
    *,
    views: bool = True,
) -> list[IndexHit]:
    """Bank videos that the query matches, asking each of :func:`stages` in turn until
    the hits explain the query; a video's hit is its best over the stages (the reference
    of what the service does through its matcher)."""
    best: dict[int, IndexHit] = {}
    for groups in stages(frames, min_quality, views=views):
        hits = index.query_frames(groups, threshold, rule)
        for hit in hits:
            if hit.id not in best or hit.distance < best[hit.id].distance:
                best[hit.id] = hit
        if explained(hits):
            break
    return sorted(best.values(), key=lambda h: (h.distance, h.id))

"""vPDQ: a video as the PDQ hashes of frames sampled once per second.

Data flow: a :class:`~accord.signals.media.DecodedVideo` → frames sampled at
``fps`` by timestamp → PDQ and quality of each → the signal, one line per
frame in vPDQ's format ``frame_number,quality,pdq_hex,timestamp`` (timestamp
in seconds with three decimals), lines joined by ``\\n``.

Comparison (the reference, as vPDQ and pytx define it): drop frames whose
quality is below ``min_quality``, keep the distinct PDQ hashes of each side;
a query hash is *matched* if some bank hash is within ``threshold`` bits, and
likewise for bank hashes. ``query_match_percent`` is the share of distinct
query hashes matched, ``compared_match_percent`` the share of distinct bank
hashes matched (both 0..100). The videos match when both shares reach the
configured percents (80 and 80, HMA's rule), so that a video matches a bank
video when most of each is found in the other.

accord adds two relaxed clauses, both on by default and configurable
(``clip_match_percent``, ``embedded_match_percent``, ``min_matched_frames``):
a *clip* matches when at least 80% of the query's frames are found in the bank
video (a cut of 25-60% of it fails the compared share), and an *embedded* copy
matches when at least 80% of the bank video's frames are found in the query
(the known clip inside a longer unrelated video fails the query share); either
needs at least 4 distinct matched frames (seconds at 1 fps), so that a short
or static video cannot match on one or two frames. ``None`` turns a clause
off; :meth:`VpdqSignal.hma` is HMA's rule alone. The distance reported is
``100 - min(query%, compared%)`` for a match by both shares, ``100 -`` the
share that qualified for a relaxed match (so a match is within 20 by default),
and ``100 - min`` for no match. docs/robustness.md has the measurements.

:class:`VpdqIndex` puts every distinct frame hash of every bank video in one
frame-level PDQ index, searches all query frames at once and aggregates hits
per video, which gives the same two shares as the reference exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from accord.errors import InvalidSignal
from accord.signals.base import (
    Comparison,
    ContentType,
    Hashed,
    IndexHit,
    SignalIndex,
    SignalType,
    VideoHasher,
)
from accord.signals.pdq import PdqFlatIndex, hamming, pdq_hash_pixels

if TYPE_CHECKING:
    from accord.signals.media import DecodedVideo

__all__ = [
    "VpdqFrame",
    "VpdqIndex",
    "VpdqRule",
    "VpdqSignal",
    "format_frames",
    "parse_frames",
]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
FRAME_MAX_SIDE = 512
"""Frames are hashed at most this large: PDQ works on a 64x64 reduction; more only costs time."""


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One line of a vPDQ signal."""

    frame_number: int
    quality: int
    pdq: str
    timestamp: float

    def line(self) -> str:
        return f"{self.frame_number},{self.quality},{self.pdq},{self.timestamp:.3f}"


def _invalid(why: str, line: int | None = None) -> InvalidSignal:
    where = f" (line {line})" if line is not None else ""
    return InvalidSignal(f"Invalid vpdq signal{where}: {why}", signal_type="vpdq", line=line)


def _frame(number: object, quality: object, pdq: object, timestamp: object, line: int) -> VpdqFrame:
    try:
        frame_number = int(str(number).strip())
        qual = int(str(quality).strip())
        stamp = float(str(timestamp).strip())
    except ValueError:
        raise _invalid(
            "frame_number and quality must be integers and timestamp a number", line
        ) from None
    if frame_number < 0:
        raise _invalid(f"frame_number {frame_number} is negative", line)
    if not 0 <= qual <= 100:
        raise _invalid(f"quality {qual} is not within 0..100", line)
    if not (stamp >= 0 and stamp < float("inf")):
        raise _invalid(f"timestamp {timestamp} is not a non-negative number of seconds", line)
    text = str(pdq).strip()
    if not _HEX64.fullmatch(text):
        raise _invalid(f"{text[:70]!r} is not a 64-hex-digit PDQ hash", line)
    return VpdqFrame(frame_number, qual, text.lower(), round(stamp, 3))


def parse_frames(value: str) -> list[VpdqFrame]:
    """The frames of a vPDQ signal in any accepted spelling (see :meth:`VpdqSignal.validate`)."""
    if not isinstance(value, str):
        raise _invalid(f"expected a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise _invalid("it has no frames")
    frames: list[VpdqFrame] = []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _invalid(f"the JSON list cannot be parsed: {exc.msg}") from None
        if not isinstance(items, list):
            raise _invalid("the JSON form must be a list of frames")
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise _invalid("each frame must be a JSON object", number)
            pdq = item.get("pdq", item.get("hash"))
            missing = [k for k in ("frame_number", "quality", "timestamp") if k not in item]
            if pdq is None or missing:
                raise _invalid(f"the frame lacks {', '.join(missing) or 'pdq'}", number)
            frames.append(
                _frame(item["frame_number"], item["quality"], pdq, item["timestamp"], number)
            )
    else:
        lines = re.split(r"[\n;]", text)
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                continue
            fields = line.split(",")
            if len(fields) != 4:
                raise _invalid(
                    f"expected frame_number,quality,pdq_hex,timestamp, got {line[:90]!r}", number
                )
            # vPDQ's own tools also print frame_number,pdq_hex,quality,timestamp.
            if _HEX64.fullmatch(fields[1].strip()) and not _HEX64.fullmatch(fields[2].strip()):
                fields[1], fields[2] = fields[2], fields[1]
            frames.append(_frame(fields[0], fields[1], fields[2], fields[3], number))
    if not frames:
        raise _invalid("it has no frames")
    return frames


def format_frames(frames: Iterable[VpdqFrame]) -> str:
    """The canonical string form: one ``frame_number,quality,pdq_hex,timestamp`` line each."""
    return "\n".join(frame.line() for frame in frames)


def _usable(frames: Iterable[VpdqFrame], min_quality: int) -> list[str]:
    """Distinct PDQ hashes of the frames of sufficient quality, in first-seen order."""
    return list(dict.fromkeys(f.pdq for f in frames if f.quality >= min_quality))


@dataclass(frozen=True, slots=True)
class VpdqRule:
    """When two videos match, given the shares of their distinct frames matched.

    ``query_percent`` and ``compared_percent``: both shares at least these (HMA's rule).
    ``clip_percent``: or the query share alone at least this (a clip of the bank video).
    ``embedded_percent``: or the bank share alone at least this (the bank video inside
    the query). The two relaxed clauses need ``min_frames`` distinct matched frames on
    the side that qualifies; ``None`` turns a clause off."""

    query_percent: float = 80.0
    compared_percent: float = 80.0
    clip_percent: float | None = 80.0
    embedded_percent: float | None = 80.0
    min_frames: int = 4

    def verdict(
        self, query_matched: int, query_total: int, bank_matched: int, bank_total: int
    ) -> Comparison:
        q = 100.0 * query_matched / query_total if query_total else 0.0
        c = 100.0 * bank_matched / bank_total if bank_total else 0.0
        detail = {"query_match_percent": q, "compared_match_percent": c}
        if query_matched > 0 and q >= self.query_percent and c >= self.compared_percent:
            return Comparison(match=True, distance=100.0 - min(q, c), detail=detail)
        best: float | None = None
        if (
            self.clip_percent is not None
            and q >= self.clip_percent
            and query_matched >= self.min_frames
        ):
            best = q
        if (
            self.embedded_percent is not None
            and c >= self.embedded_percent
            and bank_matched >= self.min_frames
        ):
            best = c if best is None else max(best, c)
        if best is not None:
            return Comparison(match=True, distance=100.0 - best, detail=detail)
        return Comparison(match=False, distance=100.0 - min(q, c), detail=detail)


class VpdqSignal(SignalType, VideoHasher):
    """``vpdq``: per-frame PDQ of a video; matches by the shares of frames matched."""

    name: ClassVar[str] = "vpdq"
    content_types: ClassVar[tuple[ContentType, ...]] = (ContentType.VIDEO,)
    default_threshold: ClassVar[float] = 31

    def __init__(
        self,
        threshold: int = 31,
        min_quality: int = 50,
        fps: float = 1.0,
        *,
        query_match_percent: float = 80.0,
        compared_match_percent: float = 80.0,
        clip_match_percent: float | None = 80.0,
        embedded_match_percent: float | None = 80.0,
        min_matched_frames: int = 4,
    ) -> None:
        self.threshold = int(threshold)
        self.min_quality = int(min_quality)
        self.fps = float(fps)
        self.query_match_percent = float(query_match_percent)
        self.compared_match_percent = float(compared_match_percent)
        self.rule = VpdqRule(
            query_percent=self.query_match_percent,
            compared_percent=self.compared_match_percent,
            clip_percent=clip_match_percent,
            embedded_percent=embedded_match_percent,
            min_frames=int(min_matched_frames),
        )

    @classmethod
    def hma(cls, threshold: int = 31, min_quality: int = 50, fps: float = 1.0) -> VpdqSignal:
        """HMA's rule alone: both shares at least 80%, no clip or embedded clause."""
        return cls(
            threshold,
            min_quality,
            fps,
            clip_match_percent=None,
            embedded_match_percent=None,
        )

    def validate(self, value: str) -> str:
        """Normalise newline-, ``;``- or JSON-separated frames to the canonical lines."""
        return format_frames(parse_frames(value))

    def _threshold(self, threshold: float | None) -> int:
        return self.threshold if threshold is None else int(threshold)

    def compare(self, a: str, b: str, threshold: float | None = None) -> Comparison:
        """``a`` is the query, ``b`` the bank video."""
        limit = self._threshold(threshold)
        query = _usable(parse_frames(a), self.min_quality)
        bank = _usable(parse_frames(b), self.min_quality)
        query_matched = sum(1 for q in query if any(hamming(q, h) <= limit for h in bank))
        bank_matched = sum(1 for h in bank if any(hamming(q, h) <= limit for q in query))
        return self.rule.verdict(query_matched, len(query), bank_matched, len(bank))

    def new_index(self, threshold: float | None = None) -> VpdqIndex:
        return VpdqIndex(self, self._threshold(threshold))

    def hash_video(self, video: DecodedVideo) -> Hashed:
        return self.hashed(
            VpdqFrame(frame.number, quality, pdq, round(frame.timestamp, 3))
            for frame in video.frames(self.fps, max_side=FRAME_MAX_SIDE)
            for pdq, quality in [pdq_hash_pixels(frame.pixels)]
        )

    def hashed(self, frames: Iterable[VpdqFrame]) -> Hashed:
        """The signal of hashed frames (:meth:`hash_video` and robust matching share it)."""
        kept = list(frames)
        if not kept:
            raise _invalid("the video gave no frames to hash")
        usable = [f.quality for f in kept if f.quality >= self.min_quality]
        quality = round(sum(usable) / len(usable)) if usable else 0
        return Hashed(signal_type=self.name, value=format_frames(kept), quality=quality)


class FrameIndex(Protocol):
    """What a vPDQ index needs of the PDQ index that holds its frames."""

    def add(self, ids: Sequence[int], values: Sequence[str]) -> None: ...

    def remove(self, ids: Iterable[int]) -> None: ...

    def query_many(
        self, values: Sequence[str], threshold: float | None = None
    ) -> list[list[IndexHit]]: ...


class VpdqIndex(SignalIndex):
    """Distinct usable frame hashes of all videos in one PDQ index; hits summed per video.

    The frames sit in a flat (brute-force) PDQ index unless the caller passes
    another, such as the matcher's multi-index PDQ index for large banks."""

    def __init__(
        self, signal: VpdqSignal, threshold: int, frames: FrameIndex | None = None
    ) -> None:
        self._signal = signal
        self.threshold = threshold
        self._frames: FrameIndex = frames if frames is not None else PdqFlatIndex(threshold)
        self._rows: dict[int, list[int]] = {}  # video id -> frame rows
        self._video_of: dict[int, int] = {}  # frame row -> video id
        self._next_row = 0

    def add(self, ids: Sequence[int], values: Sequence[str]) -> None:
        if len(ids) != len(values):
            raise ValueError("ids and values differ in length")
        last = {int(i): v for i, v in zip(ids, values, strict=True)}
        self.remove(last)
        rows: list[int] = []
        hashes: list[str] = []
        for ident, value in last.items():
            mine: list[int] = []
            for pdq in _usable(parse_frames(value), self._signal.min_quality):
                row = self._next_row
                self._next_row += 1
                mine.append(row)
                self._video_of[row] = ident
                rows.append(row)
                hashes.append(pdq)
            self._rows[ident] = mine
        if rows:
            # The frame index keeps the last value of a row; rows are never reused.
            self._frames.add(rows, hashes)

    def remove(self, ids: Iterable[int]) -> None:
        gone: list[int] = []
        for raw_id in ids:
            rows = self._rows.pop(int(raw_id), None)
            if rows is None:
                continue
            gone.extend(rows)
            for row in rows:
                del self._video_of[row]
        self._frames.remove(gone)

    def query(self, value: str, threshold: float | None = None) -> list[IndexHit]:
        query = _usable(parse_frames(value), self._signal.min_quality)
        return self.query_frames([[pdq] for pdq in query], threshold)

    def query_frames(
        self,
        frames: Sequence[Sequence[str]],
        threshold: float | None = None,
        rule: VpdqRule | None = None,
    ) -> list[IndexHit]:
        """Bank videos matching a query given as one group of PDQ hashes per query frame.

        A query frame counts as matched in a bank video when *any* hash of its group is
        within the threshold of one of that video's frames (robust matching passes a
        frame's views as its group; :meth:`query` passes each distinct hash alone).
        The shares and the rule are then those of :meth:`VpdqSignal.compare`."""
        limit = self.threshold if threshold is None else int(threshold)
        verdict_rule = self._signal.rule if rule is None else rule
        groups = [list(group) for group in frames if group]
        if not groups or not self._rows:
            return []
        flat = [pdq for group in groups for pdq in group]
        owner = [i for i, group in enumerate(groups) for _ in group]
        query_frames: dict[int, set[int]] = {}
        bank_rows: dict[int, set[int]] = {}
        for frame, hits in zip(owner, self._frames.query_many(flat, limit), strict=True):
            for hit in hits:
                video = self._video_of[hit.id]
                query_frames.setdefault(video, set()).add(frame)
                bank_rows.setdefault(video, set()).add(hit.id)
        out: list[IndexHit] = []
        for video, matched in query_frames.items():
            verdict = verdict_rule.verdict(
                len(matched), len(groups), len(bank_rows[video]), len(self._rows[video])
            )
            if verdict.match:
                out.append(IndexHit(id=video, distance=verdict.distance, detail=verdict.detail))
        out.sort(key=lambda h: (h.distance, h.id))
        return out

    def __len__(self) -> int:
        return len(self._rows)

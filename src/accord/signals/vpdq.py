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
configured percents: 80 and 80 by default, so that a video matches a bank
video when most of each is found in the other (a short clip of a long bank
video needs ``compared_match_percent`` lowered; it is configurable). The
distance reported is ``100 - min(query%, compared%)``.

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

__all__ = ["VpdqFrame", "VpdqIndex", "VpdqSignal", "format_frames", "parse_frames"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_FRAME_MAX_SIDE = 512  # PDQ works on a 64x64 reduction; larger frames only cost time


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


def _verdict(
    query_matched: int,
    query_total: int,
    bank_matched: int,
    bank_total: int,
    query_percent: float,
    compared_percent: float,
) -> Comparison:
    q = 100.0 * query_matched / query_total if query_total else 0.0
    c = 100.0 * bank_matched / bank_total if bank_total else 0.0
    match = query_matched > 0 and q >= query_percent and c >= compared_percent
    return Comparison(
        match=match,
        distance=100.0 - min(q, c),
        detail={"query_match_percent": q, "compared_match_percent": c},
    )


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
    ) -> None:
        self.threshold = int(threshold)
        self.min_quality = int(min_quality)
        self.fps = float(fps)
        self.query_match_percent = float(query_match_percent)
        self.compared_match_percent = float(compared_match_percent)

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
        return _verdict(
            query_matched,
            len(query),
            bank_matched,
            len(bank),
            self.query_match_percent,
            self.compared_match_percent,
        )

    def new_index(self, threshold: float | None = None) -> VpdqIndex:
        return VpdqIndex(self, self._threshold(threshold))

    def hash_video(self, video: DecodedVideo) -> Hashed:
        frames = [
            VpdqFrame(frame.number, quality, pdq, round(frame.timestamp, 3))
            for frame in video.frames(self.fps, max_side=_FRAME_MAX_SIDE)
            for pdq, quality in [pdq_hash_pixels(frame.pixels)]
        ]
        if not frames:
            raise _invalid("the video gave no frames to hash")
        usable = [f.quality for f in frames if f.quality >= self.min_quality]
        quality = round(sum(usable) / len(usable)) if usable else 0
        return Hashed(signal_type=self.name, value=format_frames(frames), quality=quality)


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
        limit = self.threshold if threshold is None else int(threshold)
        query = _usable(parse_frames(value), self._signal.min_quality)
        if not query or not self._rows:
            return []
        query_hits: dict[int, int] = {}
        bank_rows: dict[int, set[int]] = {}
        for hits in self._frames.query_many(query, limit):
            videos = set()
            for hit in hits:
                video = self._video_of[hit.id]
                videos.add(video)
                bank_rows.setdefault(video, set()).add(hit.id)
            for video in videos:
                query_hits[video] = query_hits.get(video, 0) + 1
        out: list[IndexHit] = []
        for video, matched in query_hits.items():
            verdict = _verdict(
                matched,
                len(query),
                len(bank_rows[video]),
                len(self._rows[video]),
                self._signal.query_match_percent,
                self._signal.compared_match_percent,
            )
            if verdict.match:
                out.append(IndexHit(id=video, distance=verdict.distance, detail=verdict.detail))
        out.sort(key=lambda h: (h.distance, h.id))
        return out

    def __len__(self) -> int:
        return len(self._rows)

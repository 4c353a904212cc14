"""Cryptographic digests of the exact bytes: ``md5``, ``sha256`` and ``video_md5``.

Data flow: raw upload bytes → ``hashlib`` → lowercase hex. These match only
byte-identical files (one re-encode defeats them), but they are what many
shared lists still carry, cost nothing to compute and never false-positive.
Comparison is equality (distance 0 or 1); the index is a dictionary from
digest to the ids added under it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import ClassVar

from accord.errors import InvalidSignal
from accord.signals.base import (
    BytesHasher,
    Comparison,
    ContentType,
    Hashed,
    IndexHit,
    SignalIndex,
    SignalType,
)

__all__ = ["ExactIndex", "Md5Signal", "Sha256Signal", "VideoMd5Signal"]


class ExactIndex(SignalIndex):
    """Signals that match only when equal: a dictionary from value to ids."""

    def __init__(self) -> None:
        self._by_value: dict[str, set[int]] = {}
        self._by_id: dict[int, str] = {}

    def add(self, ids: Sequence[int], values: Sequence[str]) -> None:
        if len(ids) != len(values):
            raise ValueError("ids and values differ in length")
        for raw_id, value in zip(ids, values, strict=True):
            ident = int(raw_id)
            self.remove([ident])
            self._by_id[ident] = value
            self._by_value.setdefault(value, set()).add(ident)

    def remove(self, ids: Iterable[int]) -> None:
        for raw_id in ids:
            value = self._by_id.pop(int(raw_id), None)
            if value is None:
                continue
            holders = self._by_value[value]
            holders.discard(int(raw_id))
            if not holders:
                del self._by_value[value]

    def query(self, value: str, threshold: float | None = None) -> list[IndexHit]:
        return [IndexHit(id=i, distance=0) for i in sorted(self._by_value.get(value, ()))]

    def __len__(self) -> int:
        return len(self._by_id)


class _DigestSignal(SignalType, BytesHasher):
    """A hex digest of the content's bytes; subclasses name the algorithm."""

    default_threshold: ClassVar[float] = 0
    _algorithm: ClassVar[str]
    _hex_length: ClassVar[int]

    def validate(self, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidSignal(
                f"Invalid {self.name} signal: expected a string, got {type(value).__name__}"
            )
        normal = value.strip().lower()
        if not re.fullmatch(rf"[0-9a-f]{{{self._hex_length}}}", normal):
            shown = value if len(value) <= 80 else value[:77] + "..."
            raise InvalidSignal(
                f"Invalid {self.name} signal: {shown!r} is not {self._hex_length} "
                "hexadecimal digits",
                signal_type=self.name,
            )
        return normal

    def compare(self, a: str, b: str, threshold: float | None = None) -> Comparison:
        same = a == b
        return Comparison(match=same, distance=0 if same else 1)

    def new_index(self, threshold: float | None = None) -> ExactIndex:
        return ExactIndex()

    def hash_bytes(self, data: bytes) -> Hashed:
        return Hashed(
            signal_type=self.name,
            value=hashlib.new(self._algorithm, data, usedforsecurity=False).hexdigest(),
        )


class Md5Signal(_DigestSignal):
    """``md5`` of a photo's bytes (the digest most legacy hash lists carry)."""

    name: ClassVar[str] = "md5"
    content_types: ClassVar[tuple[ContentType, ...]] = (ContentType.PHOTO,)
    _algorithm = "md5"
    _hex_length = 32


class Sha256Signal(_DigestSignal):
    """``sha256`` of a photo's or video's bytes."""

    name: ClassVar[str] = "sha256"
    content_types: ClassVar[tuple[ContentType, ...]] = (ContentType.PHOTO, ContentType.VIDEO)
    _algorithm = "sha256"
    _hex_length = 64


class VideoMd5Signal(_DigestSignal):
    """``video_md5``: the MD5 of a video file's bytes (ThreatExchange's VIDEO_MD5)."""

    name: ClassVar[str] = "video_md5"
    content_types: ClassVar[tuple[ContentType, ...]] = (ContentType.VIDEO,)
    _algorithm = "md5"
    _hex_length = 32

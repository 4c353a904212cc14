"""PDQ, the perceptual image hash shared by GIFCT members and ThreatExchange.

Data flow: a :class:`~accord.signals.media.DecodedImage` → :mod:`accord.signals.pdqfast`
(the reference algorithm in numpy; the same bits as the reference C++
``pdqhash`` on nearly every image, see its docstring) → 256 bits and a quality score 0..100 →
64 lowercase hex characters, the first bit being the most significant bit of
the first character (the form pytx and HMA exchange). Two hashes match when
their Hamming distance is at most the threshold (31 by default, out of 256).
:class:`PdqFlatIndex` answers the same question over many hashes with faiss'
exhaustive binary index; a scalable index can replace it behind the same
:class:`~accord.signals.base.SignalIndex` interface.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from accord.errors import InvalidSignal
from accord.signals import pdqfast
from accord.signals.base import (
    Comparison,
    ContentType,
    Hashed,
    ImageHasher,
    IndexHit,
    SignalIndex,
    SignalType,
)

if TYPE_CHECKING:
    from accord.signals.media import DecodedImage

__all__ = [
    "PdqFlatIndex",
    "PdqSignal",
    "hamming",
    "pdq_from_bytes",
    "pdq_hash_pixels",
    "pdq_to_bytes",
]

PDQ_BITS = 256
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX_DIGITS = b"0123456789abcdef"


def validate_pdq(value: str) -> str:
    """The lowercase form of a 64-hex-digit PDQ hash, or :class:`InvalidSignal`."""
    if not isinstance(value, str):
        raise InvalidSignal(f"Invalid pdq signal: expected a string, got {type(value).__name__}")
    normal = value.strip().lower()
    if not _HEX64.fullmatch(normal):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidSignal(
            f"Invalid pdq signal: {shown!r} is not 64 hexadecimal digits",
            signal_type="pdq",
        )
    return normal


def pdq_to_bytes(value: str) -> npt.NDArray[np.uint8]:
    """The 32 bytes of a valid PDQ hex string, as faiss' binary indexes want them."""
    return np.frombuffer(bytes.fromhex(value), dtype=np.uint8)


def pdq_from_bytes(data: npt.NDArray[np.uint8] | bytes) -> str:
    """The hex string of 32 PDQ bytes."""
    raw = bytes(data) if not isinstance(data, np.ndarray) else data.astype(np.uint8).tobytes()
    if len(raw) != PDQ_BITS // 8:
        raise InvalidSignal(f"Invalid pdq signal: {len(raw)} bytes, expected 32")
    return raw.hex()


def hamming(a: str, b: str) -> int:
    """Bits that differ between two valid PDQ hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def pdq_hash_pixels(pixels: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ hex and quality of an RGB ``uint8`` array of shape (H, W, 3)."""
    return pdqfast.hash_hex(np.asarray(pixels, dtype=np.uint8))


class PdqSignal(SignalType, ImageHasher):
    """``pdq``: 256-bit perceptual hash of photos; matches within ``threshold`` bits."""

    name: ClassVar[str] = "pdq"
    content_types: ClassVar[tuple[ContentType, ...]] = (ContentType.PHOTO,)
    default_threshold: ClassVar[float] = 31

    def __init__(self, threshold: int = 31, min_quality: int = 50) -> None:
        if not 0 <= threshold <= PDQ_BITS:
            raise ValueError(f"pdq threshold must be within 0..256, not {threshold}")
        self.threshold = int(threshold)
        self.min_quality = int(min_quality)

    def validate(self, value: str) -> str:
        return validate_pdq(value)

    def validate_many(self, values: Sequence[str]) -> list[str]:
        # Hashes of an import are nearly always in normal form already: every length
        # is 64 and deleting the lowercase hex digits from all of them, joined, leaves
        # nothing. Both checks run in C (3-5x faster than a call a value); other
        # input goes value by value, for its message.
        try:
            normal = set(map(len, values)) <= {64} and not (
                "".join(values).encode("ascii").translate(None, _HEX_DIGITS)
            )
        except (TypeError, UnicodeEncodeError):
            normal = False
        if normal:
            return list(values)
        return [validate_pdq(v) for v in values]

    def _threshold(self, threshold: float | None) -> int:
        return self.threshold if threshold is None else int(threshold)

    def compare(self, a: str, b: str, threshold: float | None = None) -> Comparison:
        distance = hamming(a, b)
        return Comparison(match=distance <= self._threshold(threshold), distance=distance)

    def new_index(self, threshold: float | None = None) -> PdqFlatIndex:
        return PdqFlatIndex(self._threshold(threshold))

    def hash_image(self, image: DecodedImage) -> Hashed:
        value, quality = pdq_hash_pixels(image.pixels)
        return Hashed(signal_type=self.name, value=value, quality=quality)


class PdqFlatIndex(SignalIndex):
    """Exhaustive Hamming search in faiss (``IndexBinaryFlat`` behind an id map)."""

    def __init__(self, threshold: int = 31) -> None:
        import faiss

        self.threshold = int(threshold)
        self._index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(PDQ_BITS))
        self._ids: set[int] = set()

    def add(self, ids: Sequence[int], values: Sequence[str]) -> None:
        if len(ids) != len(values):
            raise ValueError("ids and values differ in length")
        if not ids:
            return
        self.remove([i for i in ids if i in self._ids])
        # A repeated id within one call keeps its last value, like a dict update.
        last = {int(i): v for i, v in zip(ids, values, strict=True)}
        keys = np.fromiter(last, dtype=np.int64, count=len(last))
        matrix = np.stack([pdq_to_bytes(v) for v in last.values()])
        self._index.add_with_ids(matrix, keys)
        self._ids.update(last)

    def remove(self, ids: Iterable[int]) -> None:
        gone = [int(i) for i in ids if int(i) in self._ids]
        if not gone:
            return
        # faiss' Python layer accepts an id array; its stubs only know IDSelector.
        self._index.remove_ids(np.asarray(gone, dtype=np.int64))  # type: ignore[arg-type]
        self._ids.difference_update(gone)

    def query(self, value: str, threshold: float | None = None) -> list[IndexHit]:
        return self.query_many([value], threshold)[0]

    def query_many(
        self, values: Sequence[str], threshold: float | None = None
    ) -> list[list[IndexHit]]:
        """Hits for each of several hashes, in one faiss call."""
        limit = self.threshold if threshold is None else int(threshold)
        if not values:
            return []
        if not self._ids or limit < 0:
            return [[] for _ in values]
        queries = np.stack([pdq_to_bytes(v) for v in values])
        # faiss' range search returns distances strictly below the radius.
        lims, distances, labels = self._index.range_search(queries, limit + 1)
        out: list[list[IndexHit]] = []
        for row in range(len(values)):
            start, end = int(lims[row]), int(lims[row + 1])
            hits = [
                IndexHit(id=int(labels[k]), distance=int(distances[k])) for k in range(start, end)
            ]
            hits.sort(key=lambda h: (h.distance, h.id))
            out.append(hits)
        return out

    def __len__(self) -> int:
        return len(self._ids)

"""The signal type interface: how a kind of hash is validated, compared and indexed.

A *signal* is the string form of a hash (a PDQ hex string, a canonical URL, a
vPDQ frame list). A :class:`SignalType` has one job: to say what a valid signal
looks like (``validate`` normalises it at the boundary), how far apart two
signals are (``compare``, the slow reference), and to build a fast
:class:`SignalIndex` that must agree with that reference. Hashing content is a
capability added by mixins, one per content type:

    class PdqSignal(SignalType, ImageHasher): ...
    class Md5Signal(SignalType, BytesHasher): ...

``name`` is persisted in banks and exchanged between platforms, so it is an
explicit constant, never derived from the class name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from accord.signals.media import DecodedImage, DecodedVideo

__all__ = [
    "BytesHasher",
    "Comparison",
    "ContentType",
    "Hashed",
    "ImageHasher",
    "IndexHit",
    "SignalIndex",
    "SignalType",
    "TextHasher",
    "UrlHasher",
    "VideoHasher",
]


class ContentType(StrEnum):
    """Kinds of content a platform submits (HMA's names)."""

    PHOTO = "photo"
    VIDEO = "video"
    TEXT = "text"
    URL = "url"


@dataclass(frozen=True, slots=True)
class Comparison:
    """The reference comparison of two signals: a distance and whether it is a match.

    ``distance`` is an integer for Hamming-type signals (bits) and a float for
    the others; 0 means identical. ``detail`` carries type-specific extras
    (vPDQ: the shares of query and bank frames matched).
    """

    match: bool
    distance: float
    detail: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IndexHit:
    """One index entry that matches a query: the id it was added under and its distance."""

    id: int
    distance: float
    detail: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hashed:
    """A signal computed from content, with the hasher's quality score where it has one."""

    signal_type: str
    value: str
    quality: int | None = None


class SignalIndex(ABC):
    """A fast, mutable index over signals of one type.

    Ids are the caller's (bank signal row ids). ``query`` must return exactly
    the ids whose reference ``compare`` is a match at ``threshold`` (tests
    check this against the reference for every registered type).
    """

    @abstractmethod
    def add(self, ids: Sequence[int], values: Sequence[str]) -> None:
        """Add (or replace) entries; ``values`` are already validated."""

    @abstractmethod
    def remove(self, ids: Iterable[int]) -> None:
        """Remove entries; unknown ids are ignored."""

    @abstractmethod
    def query(self, value: str, threshold: float | None = None) -> list[IndexHit]:
        """Entries matching ``value`` at ``threshold`` (default: the type's)."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of entries."""


class SignalType(ABC):
    """A kind of signal: validation, reference comparison and an index factory."""

    name: ClassVar[str]
    content_types: ClassVar[tuple[ContentType, ...]]
    default_threshold: ClassVar[float]

    @abstractmethod
    def validate(self, value: str) -> str:
        """The normal form of ``value``; raises :class:`accord.errors.InvalidSignal`."""

    def validate_many(self, values: Sequence[str]) -> list[str]:
        """The normal forms of many values (bulk banking); types may check them at once."""
        return [self.validate(v) for v in values]

    @abstractmethod
    def compare(self, a: str, b: str, threshold: float | None = None) -> Comparison:
        """The slow, obviously-correct comparison of two valid signals."""

    @abstractmethod
    def new_index(self, threshold: float | None = None) -> SignalIndex:
        """An empty fast index whose default threshold is ``threshold``."""


class BytesHasher(ABC):
    """Hashes raw bytes of any content (cryptographic digests)."""

    @abstractmethod
    def hash_bytes(self, data: bytes) -> Hashed:
        """The signal of ``data``."""


class ImageHasher(ABC):
    """Hashes a decoded image."""

    @abstractmethod
    def hash_image(self, image: DecodedImage) -> Hashed:
        """The signal of a decoded image."""


class VideoHasher(ABC):
    """Hashes a decoded video."""

    @abstractmethod
    def hash_video(self, video: DecodedVideo) -> Hashed:
        """The signal of a decoded video."""


class TextHasher(ABC):
    """Hashes text."""

    @abstractmethod
    def hash_text(self, text: str) -> Hashed:
        """The signal of ``text``."""


class UrlHasher(ABC):
    """Hashes (canonicalises) a URL."""

    @abstractmethod
    def hash_url(self, url: str) -> Hashed:
        """The signal of ``url``."""

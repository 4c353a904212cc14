"""The registry of signal types, and hashing of content into every applicable signal.

Data flow: bytes (an upload, a fetched URL, a file) + a content type →
:func:`accord.signals.media` decodes them safely once → every registered type
that hashes that content type computes its signal → a list of :class:`Hashed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from accord.errors import InvalidInput, UnknownSignalType
from accord.signals.base import (
    BytesHasher,
    ContentType,
    Hashed,
    ImageHasher,
    SignalType,
    TextHasher,
    UrlHasher,
    VideoHasher,
)

if TYPE_CHECKING:
    from accord.config import Settings
    from accord.signals.media import DecodedImage, DecodedVideo, MediaLimits

__all__ = ["SignalRegistry", "default_registry"]


class SignalRegistry:
    """Signal types by their stable name."""

    def __init__(self, types: Iterable[SignalType]) -> None:
        self._types: dict[str, SignalType] = {}
        for signal_type in types:
            if signal_type.name in self._types:
                raise ValueError(f"two signal types are named {signal_type.name!r}")
            self._types[signal_type.name] = signal_type

    def __iter__(self) -> Iterator[SignalType]:
        return iter(self._types.values())

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return list(self._types)

    def get(self, name: str) -> SignalType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownSignalType(
                f"No such SignalType {name!r}; known: {', '.join(self._types)}", name=name
            ) from None

    def validate(self, name: str, value: str) -> str:
        """The normal form of a signal of type ``name``."""
        return self.get(name).validate(value)

    def for_content(self, content_type: ContentType) -> list[SignalType]:
        return [t for t in self._types.values() if content_type in t.content_types]

    def hash(
        self,
        content_type: ContentType | str,
        data: bytes,
        limits: MediaLimits,
        *,
        only: Iterable[str] | None = None,
        on_image: Callable[[DecodedImage], None] | None = None,
        on_video: Callable[[DecodedVideo], None] | None = None,
    ) -> list[Hashed]:
        """Every signal of ``data`` as ``content_type`` (optionally only the named types).

        ``on_image`` receives a photo's decoded image, so that a caller that needs
        more from it (robust matching's extra views) does not decode it twice;
        ``on_video`` likewise receives an opened video, before the hashers run."""
        from accord.signals import media

        try:
            ctype = ContentType(content_type)
        except ValueError:
            raise InvalidInput(
                f"no such content_type {content_type!r}; use photo, video, text or url",
                content_type=content_type,
            ) from None
        wanted = set(only) if only is not None else None
        if wanted is not None:
            for name in wanted:
                self.get(name)
        types = [t for t in self.for_content(ctype) if wanted is None or t.name in wanted]
        media.check_size(data, limits)
        out: list[Hashed] = []
        if ctype is ContentType.PHOTO:
            image = media.decode_image(data, limits)
            if on_image is not None:
                on_image(image)
            for t in types:
                if isinstance(t, ImageHasher):
                    out.append(t.hash_image(image))
                elif isinstance(t, BytesHasher):
                    out.append(t.hash_bytes(data))
        elif ctype is ContentType.VIDEO:
            with media.open_video(data, limits) as video:
                if on_video is not None:
                    on_video(video)
                for t in types:
                    if isinstance(t, VideoHasher):
                        out.append(t.hash_video(video))
                    elif isinstance(t, BytesHasher):
                        out.append(t.hash_bytes(data))
        elif ctype is ContentType.TEXT:
            text = media.decode_text(data)
            for t in types:
                if isinstance(t, TextHasher):
                    out.append(t.hash_text(text))
                elif isinstance(t, BytesHasher):
                    out.append(t.hash_bytes(data))
        else:
            url = media.decode_text(data).strip()
            for t in types:
                if isinstance(t, UrlHasher):
                    out.append(t.hash_url(url))
        return out


def default_registry(settings: Settings | None = None) -> SignalRegistry:
    """The built-in signal types: pdq, vpdq, video_md5, md5, sha256, text, url."""
    from accord.signals.exact import Md5Signal, Sha256Signal, VideoMd5Signal
    from accord.signals.pdq import PdqSignal
    from accord.signals.text import TextSignal
    from accord.signals.url import UrlSignal
    from accord.signals.vpdq import VpdqSignal

    pdq_threshold = settings.pdq_threshold if settings else 31
    min_quality = settings.pdq_min_quality if settings else 50
    fps = settings.vpdq_fps if settings else 1.0
    partial = settings.vpdq_partial_matches if settings else True
    return SignalRegistry(
        [
            PdqSignal(threshold=pdq_threshold, min_quality=min_quality),
            VpdqSignal(threshold=pdq_threshold, min_quality=min_quality, fps=fps)
            if partial
            else VpdqSignal.hma(threshold=pdq_threshold, min_quality=min_quality, fps=fps),
            VideoMd5Signal(),
            Md5Signal(),
            Sha256Signal(),
            TextSignal(),
            UrlSignal(),
        ]
    )

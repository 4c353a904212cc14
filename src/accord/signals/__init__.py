"""Signal types: how content becomes hashes, and how hashes are compared and indexed.

Data flow: bytes + a content type → :mod:`accord.signals.media` decodes them
safely → each registered :class:`SignalType` that hashes that content computes
its signal (:meth:`SignalRegistry.hash`) → banks store the strings, matchers
load them into each type's :class:`SignalIndex`.
"""

from accord.signals.base import (
    BytesHasher,
    Comparison,
    ContentType,
    Hashed,
    ImageHasher,
    IndexHit,
    SignalIndex,
    SignalType,
    TextHasher,
    UrlHasher,
    VideoHasher,
)
from accord.signals.exact import ExactIndex, Md5Signal, Sha256Signal, VideoMd5Signal
from accord.signals.media import (
    DecodedImage,
    DecodedVideo,
    MediaLimits,
    VideoFrame,
    check_size,
    decode_image,
    decode_text,
    open_video,
)
from accord.signals.pdq import PdqFlatIndex, PdqSignal, pdq_from_bytes, pdq_to_bytes
from accord.signals.registry import SignalRegistry, default_registry
from accord.signals.text import TextIndex, TextSignal
from accord.signals.url import UrlSignal, canonicalize_url
from accord.signals.vpdq import VpdqFrame, VpdqIndex, VpdqRule, VpdqSignal

__all__ = [
    "BytesHasher",
    "Comparison",
    "ContentType",
    "DecodedImage",
    "DecodedVideo",
    "ExactIndex",
    "Hashed",
    "ImageHasher",
    "IndexHit",
    "Md5Signal",
    "MediaLimits",
    "PdqFlatIndex",
    "PdqSignal",
    "Sha256Signal",
    "SignalIndex",
    "SignalRegistry",
    "SignalType",
    "TextHasher",
    "TextIndex",
    "TextSignal",
    "UrlHasher",
    "UrlSignal",
    "VideoFrame",
    "VideoHasher",
    "VideoMd5Signal",
    "VpdqFrame",
    "VpdqIndex",
    "VpdqRule",
    "VpdqSignal",
    "canonicalize_url",
    "check_size",
    "decode_image",
    "decode_text",
    "default_registry",
    "open_video",
    "pdq_from_bytes",
    "pdq_to_bytes",
]

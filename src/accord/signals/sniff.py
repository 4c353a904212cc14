"""Telling what a file holds from its first bytes, for the CLI's ``hash`` and ``match``.

Magic numbers of the common image and video containers; anything else that
decodes as UTF-8 is text. Uploads over HTTP name their content type instead.
"""

from __future__ import annotations

from accord.signals.base import ContentType

__all__ = ["sniff_content_type"]

_IMAGE = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_VIDEO_BRANDS_OFFSET = 4


def sniff_content_type(head: bytes) -> ContentType | None:
    """The content type that ``head`` (the first bytes of a file) starts, if known."""
    if head.startswith(_IMAGE):
        return ContentType.PHOTO
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ContentType.PHOTO
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ContentType.VIDEO
    if head[_VIDEO_BRANDS_OFFSET : _VIDEO_BRANDS_OFFSET + 4] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
            return ContentType.PHOTO
        return ContentType.VIDEO
    if head.startswith((b"\x1a\x45\xdf\xa3", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"FLV")):
        return ContentType.VIDEO
    if head[:1] == b"G" and len(head) > 188 and head[188:189] == b"G":  # MPEG-TS sync bytes
        return ContentType.VIDEO
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the head
            return None
    return ContentType.TEXT if head else None

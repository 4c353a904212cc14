"""Reading media from a request: one multipart field named by its content type, or ``?url=``.

HMA's clients send ``photo`` or ``video`` (accord also takes ``text`` and
``url``); any other field is HMA's ``400 no such content_type``. The body size is
checked against the limit before it is read, from ``Content-Length``, and
again after.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from accord.errors import InvalidInput, MediaTooLarge
from accord.runtime import Accord
from accord.signals.base import ContentType

__all__ = ["guess_content_type", "read_upload"]

_VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".flv")


async def read_upload(request: Request, accord: Accord) -> tuple[ContentType, bytes]:
    limit = accord.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise MediaTooLarge(f"the upload is {declared} bytes; the limit is {limit}", limit=limit)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInput(
            "send the content as multipart/form-data with one field named photo, video, "
            "text or url (or pass ?url=)"
        )
    form = await request.form(max_files=1, max_fields=8)
    try:
        for name, value in form.multi_items():
            if name in ("metadata", "labels", "note", "banks"):
                continue
            try:
                ctype = ContentType(name)
            except ValueError:
                raise InvalidInput(
                    f"no such content_type {name!r}; use photo, video, text or url",
                    content_type=name,
                ) from None
            if isinstance(value, UploadFile):
                data = await value.read(limit + 1)
            else:
                data = value.encode()
            if len(data) > limit:
                raise MediaTooLarge(f"the upload exceeds the limit of {limit} bytes", limit=limit)
            return ctype, data
    finally:
        await form.close()
    raise InvalidInput("no content: send one field named photo, video, text or url")


def guess_content_type(url: str, given: str | None) -> ContentType:
    """The content type of a URL: as given, else by its path's suffix (videos), else photo."""
    if given:
        try:
            return ContentType(given)
        except ValueError:
            raise InvalidInput(f"no such content_type {given!r}", content_type=given) from None
    path = url.split("?", 1)[0].lower()
    return ContentType.VIDEO if path.endswith(_VIDEO_SUFFIXES) else ContentType.PHOTO

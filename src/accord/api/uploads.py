"""Reading media from a request: one multipart field named by its content type, or ``?url=``.

HMA's clients send ``photo`` or ``video`` (accord also takes ``text`` and
``url``); any other field is HMA's ``400 no such content_type``. The body size is
checked against the limit before it is read, from ``Content-Length``, and
again after.

:func:`answer_upload` answers ``POST /m/lookup`` in its common form before the
request reaches Starlette (called by :class:`accord.api.fast.ServiceApp`): one file
part named ``photo`` or ``video`` in a plainly written ``multipart/form-data``
body, a key with the ``match`` permission, and only the route's own query
parameters. Over HTTP, FastAPI's route (dependencies, the form parser and its
spooled file, the response model) cost the event loop 1.1-1.6 ms of CPU an
upload, against 0.4 here (docs/service.md, "Seventh session"). Every other form,
and any request whose answer would be an error before matching (no key, a missing
permission, an odd or oversized body), goes to FastAPI with the body it sent, so
its answer is FastAPI's. Errors of matching itself (an image that does not decode)
are answered by the application's own handler for accord's errors, as the route
would be: the upload is not matched twice.

Data flow: ASGI scope → query string, ``Authorization`` and ``Content-Type`` →
:meth:`KeyService.authenticate` → the body's one part → (thread pool)
:meth:`LookupService.match_content` → the route's JSON → ``http.response.*``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive, Scope, Send

from accord.api.plain import BOOLS, PlainQuery, bearer_key, header, send_json
from accord.errors import AccordError, InvalidInput, MediaTooLarge
from accord.runtime import Accord
from accord.signals.base import ContentType

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["answer_upload", "guess_content_type", "read_upload"]

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


# -- POST /m/lookup before Starlette ------------------------------------------------------

_QUERY = PlainQuery(flags=("bypass_coinflip", "robust"), optional=("banks",))
"""The route's own parameters, booleans written plainly; anything else goes to FastAPI."""
_BOUNDARY = re.compile(rb"multipart/form-data; ?boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})")
"""The ``Content-Type`` of the common form: an unquoted boundary (RFC 2046's characters,
no space), nothing else; anything else is read by Starlette's parser."""
_DISPOSITION = re.compile(rb'form-data; name="(photo|video)"; filename="[^"\\\r\n%]*"')
"""The part's ``Content-Disposition`` in the common form: a file named ``photo`` or
``video``, no escapes, no percent-encoding, no ``filename*``."""

Fallback = Callable[[Scope, Receive, Send], Awaitable[None]]


def one_file_part(body: bytes, boundary: bytes) -> tuple[ContentType, bytes] | None:
    """The field name and bytes of a body that is exactly one plainly written file part.

    ``--B CRLF headers CRLF CRLF data CRLF --B-- [CRLF]``, whose headers are a
    ``Content-Disposition`` of :data:`_DISPOSITION`'s form and at most a ``Content-Type``,
    and whose data holds no further delimiter. None for anything else (a preamble,
    more parts, another header such as ``Content-Transfer-Encoding``), which
    Starlette's parser then reads.
    """
    delimiter = b"--" + boundary
    start = len(delimiter) + 2
    if not body.startswith(delimiter + b"\r\n") or body.startswith(b"\r\n", start):
        return None  # no delimiter first, or a part without headers
    headers_end = body.find(b"\r\n\r\n", start)
    if headers_end < 0:
        return None
    closing = b"\r\n" + delimiter + b"--"
    if body.endswith(closing):
        end = len(body) - len(closing)
    elif body.endswith(closing + b"\r\n"):
        end = len(body) - len(closing) - 2
    else:
        return None
    if end < headers_end + 4 or body.find(b"\r\n" + delimiter, headers_end + 4, end) >= 0:
        return None
    name = None
    for line in body[start:headers_end].split(b"\r\n"):
        field, sep, value = line.partition(b":")
        field, value = field.lower(), value.strip()
        if not sep:
            return None
        if field == b"content-disposition" and name is None:
            match = _DISPOSITION.fullmatch(value)
            if match is None:
                return None
            name = match.group(1).decode()
        elif field != b"content-type" or b"\r" in value or b"\n" in value:
            return None
    if name is None:
        return None
    return ContentType(name), body[headers_end + 4 : end]


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` first (already read here), then what follows."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def answer_upload(
    app: FastAPI, scope: Scope, receive: Receive, send: Send, fallback: Fallback
) -> None:
    """Answer ``POST /m/lookup`` in its common form, else hand it to ``fallback`` (FastAPI)."""
    accord: Accord = app.state.accord
    limit = accord.settings.max_upload_bytes
    params = _QUERY.params(scope["query_string"])
    declared = header(scope, b"content-length")
    boundary = _BOUNDARY.fullmatch(header(scope, b"content-type") or b"")
    if (
        params is None
        or boundary is None
        or declared is None
        or not declared.isdigit()
        or int(declared) > limit + 64 * 1024
    ):
        await fallback(scope, receive, send)
        return
    try:
        accord.keys.authenticate(bearer_key(scope)).require("match")
    except Exception:  # noqa: BLE001 - FastAPI answers it, with its error handlers
        await fallback(scope, receive, send)
        return
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away: nobody to answer
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    # an upload may be tens of MB (Starlette spools a file over 1 MB to disk): hold one
    # copy of it at a time, and only the file's bytes while matching
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    del chunks
    part = one_file_part(body, boundary.group(1))
    if part is None or len(part[1]) > limit:
        await fallback(scope, _replay(body, receive), send)
        return
    from accord.api.routers.hma import _banks, content_answer

    content_type, data = part
    del body, part
    banks = _banks(params.get("banks"))
    bypass_coinflip = BOOLS[params.get("bypass_coinflip", "false")]
    robust = BOOLS[params["robust"]] if "robust" in params else None
    try:
        outcome = await run_in_threadpool(
            lambda: accord.lookups.match_content(
                content_type, data, banks=banks, bypass_coinflip=bypass_coinflip, robust=robust
            )
        )
    except AccordError as exc:
        # the route's error, by the application's own handler (nothing is matched twice)
        response = app.exception_handlers[AccordError](Request(scope), exc)
        await (await response if inspect.isawaitable(response) else response)(scope, receive, send)
        return
    await send_json(send, content_answer(outcome))

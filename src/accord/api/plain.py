"""What the routes answered before Starlette share (:mod:`accord.api.fast` for plain GET
lookups, :mod:`accord.api.uploads` for plain uploads): a route's plain query form
(:class:`PlainQuery`), the key read by :class:`HTTPBearer`'s rule, the booleans
FastAPI reads the same way, and a 200 JSON answer written as
:class:`starlette.responses.JSONResponse` writes it.

Data flow: ASGI scope → :meth:`PlainQuery.params`, :func:`header` /
:func:`bearer_key`; an answer's content → :func:`send_json` →
``http.response.start`` and ``http.response.body``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope, Send

__all__ = ["BOOLS", "PlainQuery", "bearer_key", "header", "send_json"]

BOOLS = {"true": True, "false": False, "1": True, "0": False}
"""The spellings of a boolean query parameter the plain forms take (FastAPI takes more:
the others go to it)."""


@dataclass(frozen=True)
class PlainQuery:
    """A route's query in its plain form: parameters it must have (not empty), boolean
    flags written as one of :data:`BOOLS`, and other parameters it may have."""

    required: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @cached_property
    def known(self) -> frozenset[str]:
        """Every parameter the plain form may carry (worked out once, not per request)."""
        return frozenset((*self.required, *self.flags, *self.optional))

    def params(self, query_string: bytes) -> dict[str, str] | None:
        """The request's parameters when it is in the plain form, else None."""
        params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        plain = (
            params.keys() <= self.known
            and all(params.get(name) for name in self.required)
            and all(params.get(name, "false") in BOOLS for name in self.flags)
        )
        return params if plain else None


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first header ``name`` (lower case) of the request, or None."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def bearer_key(scope: Scope) -> str | None:
    """The API key of ``Authorization: Bearer KEY``, by :class:`HTTPBearer`'s rule."""
    value = header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, key = value.decode("latin-1").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


async def send_json(send: Send, content: Any) -> None:
    """Answer 200 with ``content`` as the bytes ``JSONResponse`` would write."""
    body = json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

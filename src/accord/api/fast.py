"""The hot lookup routes, answered before the ASGI request reaches Starlette.

A hash lookup itself takes tens of microseconds at 100k banked hashes. Through
FastAPI's dependency solving (the key, the permission, seven query parameters,
each inspected again on every request) a ``GET /m/lookup`` took about 1.5 ms of
one core; as a Starlette route placed ahead of the FastAPI one it still took
about 0.13 ms more than the lookup (the middleware stack, the router's matching,
a ``Request`` and a ``JSONResponse`` a request), about as much as uvicorn itself.
So :class:`ServiceApp` (the FastAPI application accord serves) looks at each
HTTP request first: ``GET /m/lookup?signal=...&signal_type=...`` and ``GET
/m/raw_lookup`` in their usual forms are answered right there, reading the key
from the ``Authorization: Bearer`` header by :class:`HTTPBearer`'s rule,
checking the permission, looking up and writing the same JSON bytes.

Anything else goes to FastAPI unchanged: another form of the request (``?url=``,
an unknown parameter, a boolean written other than true/false/1/0, a missing
parameter), and any request whose answer here would be an error (no key, a
revoked key, a missing permission, an invalid signal, a failing store). A
lookup changes nothing, so asking it again costs only time, and the answer, error
messages and headers included, is then exactly FastAPI's.

Data flow: ASGI scope → query string and ``Authorization`` header →
:meth:`KeyService.authenticate` (cached) → :meth:`LookupService.match_signal`
→ the HMA JSON shape → ``http.response.start`` / ``http.response.body``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from accord.api.plain import BOOLS, PlainQuery, bearer_key, send_json
from accord.api.uploads import answer_upload
from accord.runtime import Accord

__all__ = ["FAST_LOOKUPS", "ServiceApp", "bearer_key"]

Answer = Callable[[Accord, dict[str, str]], Any]


@dataclass(frozen=True)
class _PlainLookup:
    """A lookup route's plain form: its query, the permission it needs, and its answer."""

    query: PlainQuery
    permission: str
    answer: Answer


def _lookup(accord: Accord, params: dict[str, str]) -> Any:
    from accord.api.routers.hma import lookup_answer

    return lookup_answer(
        accord,
        params["signal_type"],
        params["signal"],
        params.get("banks"),
        BOOLS[params.get("bypass_coinflip", "false")],
    )


def _raw_lookup(accord: Accord, params: dict[str, str]) -> Any:
    from accord.api.routers.hma import raw_lookup_answer

    return raw_lookup_answer(
        accord,
        params["signal_type"],
        params["signal"],
        BOOLS[params.get("include_distance", "false")],
    )


FAST_LOOKUPS: dict[str, _PlainLookup] = {
    "/m/lookup": _PlainLookup(
        PlainQuery(
            required=("signal", "signal_type"), flags=("bypass_coinflip",), optional=("banks",)
        ),
        permission="match",
        answer=_lookup,
    ),
    "/m/raw_lookup": _PlainLookup(
        PlainQuery(required=("signal", "signal_type"), flags=("include_distance",)),
        permission="match",
        answer=_raw_lookup,
    ),
}
"""The routes answered ahead of FastAPI, by path (FastAPI's routes of the same paths
stay, documented in OpenAPI, for every other form of the request)."""


class ServiceApp(FastAPI):
    """The FastAPI application, with the plain lookups answered before Starlette's stack.

    ``fast_lookups=False`` serves every request through FastAPI (the tests compare the
    two)."""

    fast_lookups: bool = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_lookups and scope["type"] == "http" and scope["method"] == "GET":
            route = FAST_LOOKUPS.get(scope["path"])
            if route is not None and await self._answer(route, scope, send):
                return
        upload = scope["type"] == "http" and scope["method"] == "POST"
        if self.fast_lookups and upload and scope["path"] == "/m/lookup":
            # uploads: accord.api.uploads.answer_upload (FastAPI answers the unusual ones)
            await answer_upload(self, scope, receive, send, super().__call__)
            return
        await super().__call__(scope, receive, send)

    async def _answer(self, route: _PlainLookup, scope: Scope, send: Send) -> bool:
        """Answer a plain-form lookup; False (nothing sent) for FastAPI to answer it."""
        params = route.query.params(scope["query_string"])
        if params is None:
            return False
        accord: Accord = self.state.accord
        try:
            accord.keys.authenticate(bearer_key(scope)).require(route.permission)
            content = route.answer(accord, params)
        except Exception:  # noqa: BLE001 - FastAPI answers it again, with its error handlers
            return False
        await send_json(send, content)
        return True

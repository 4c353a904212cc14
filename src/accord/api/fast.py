"""The hot lookup routes, served ahead of FastAPI's per-request machinery.

A hash lookup itself takes about 0.2 ms; through FastAPI's dependency solving
(the key, the permission, seven query parameters, each inspected again on every
request) a ``GET /m/lookup`` took about 1.5 ms of one core, most of it not the
lookup. So ``GET /m/lookup?signal=...&signal_type=...`` and ``GET
/m/raw_lookup`` in their usual forms are answered here, by small ASGI apps
placed in front of the documented FastAPI routes: read the key from the
``Authorization: Bearer`` header by the same rule as :class:`HTTPBearer`, check
the permission, look up, write the same JSON. Any other form of the request
(``?url=``, an unknown parameter, a boolean written other than true/false/1/0,
a missing parameter) is handed to the FastAPI route unchanged, so its answers
and error messages stay exactly FastAPI's. Errors raised here go through the
app's error handlers like any route's.

Data flow: ASGI scope → query string and ``Authorization`` header →
:meth:`KeyService.authenticate` (cached) → :meth:`LookupService.match_signal`
→ the HMA JSON shape → :class:`JSONResponse`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from accord.runtime import Accord

__all__ = ["bearer_key", "install_fast_lookups"]

_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def bearer_key(scope: Scope) -> str | None:
    """The API key of ``Authorization: Bearer KEY``, by :class:`HTTPBearer`'s rule."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            key = key.strip()
            return key if scheme.lower() == "bearer" and key else None
    return None


Answer = Callable[[Accord, dict[str, str]], Any]


class _PlainLookupRoute(Route):
    """``GET path`` whose query is in the plain form; any other request does not match
    it, so the router goes on to the FastAPI route of the same path."""

    def __init__(
        self,
        path: str,
        *,
        required: tuple[str, ...],
        flags: tuple[str, ...],
        optional: tuple[str, ...],
        permission: str,
        answer: Answer,
    ) -> None:
        super().__init__(path, self._serve, methods=["GET"], include_in_schema=False)
        self.required = required
        self.flags = flags
        self.known = {*required, *flags, *optional}
        self.permission = permission
        self.answer = answer

    def _plain(self, params: dict[str, str]) -> bool:
        return (
            params.keys() <= self.known
            and all(params.get(name) for name in self.required)
            and all(params.get(name, "false") in _BOOLS for name in self.flags)
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.FULL or scope["method"] != "GET":  # FastAPI's has no HEAD
            return Match.NONE, {}
        params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        if not self._plain(params):
            return Match.NONE, {}
        return match, {**child, _PARAMS: params}

    async def _serve(self, request: Request) -> Response:
        scope = request.scope
        accord: Accord = request.app.state.accord
        accord.keys.authenticate(bearer_key(scope)).require(self.permission)
        return JSONResponse(self.answer(accord, scope[_PARAMS]))


_PARAMS = "accord.query"


def _lookup(accord: Accord, params: dict[str, str]) -> Any:
    from accord.api.routers.hma import lookup_answer

    return lookup_answer(
        accord,
        params["signal_type"],
        params["signal"],
        params.get("banks"),
        _BOOLS[params.get("bypass_coinflip", "false")],
    )


def _raw_lookup(accord: Accord, params: dict[str, str]) -> Any:
    from accord.api.routers.hma import raw_lookup_answer

    return raw_lookup_answer(
        accord,
        params["signal_type"],
        params["signal"],
        _BOOLS[params.get("include_distance", "false")],
    )


def install_fast_lookups(app: FastAPI) -> None:
    """Put the plain forms of ``GET /m/lookup`` and ``GET /m/raw_lookup`` first."""
    app.router.routes[0:0] = [
        _PlainLookupRoute(
            "/m/lookup",
            required=("signal", "signal_type"),
            flags=("bypass_coinflip",),
            optional=("banks",),
            permission="match",
            answer=_lookup,
        ),
        _PlainLookupRoute(
            "/m/raw_lookup",
            required=("signal", "signal_type"),
            flags=("include_distance",),
            optional=(),
            permission="match",
            answer=_raw_lookup,
        ),
    ]

"""Translation of accord's errors into HTTP answers: the only place statuses are chosen.

The body is ``{"message": "...", "error": "ClassName", ...context}``; ``message``
is HMA's field name, so HMA clients show the reason as they always did.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from accord import errors as e

__all__ = ["install_error_handlers", "status_for"]

_STATUS: list[tuple[type[e.AccordError], int]] = [
    (e.MediaTooLarge, 413),
    (e.InvalidInput, 400),
    (e.Unauthenticated, 401),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.Gone, 410),
    (e.RateLimited, 429),
    (e.UpstreamError, 502),
]


def status_for(exc: e.AccordError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.AccordError)
    async def _accord_error(_request: Request, exc: e.AccordError) -> JSONResponse:
        status = status_for(exc)
        body: dict[str, Any] = {"message": exc.message, "error": type(exc).__name__}
        body.update({k: _jsonable(v) for k, v in exc.context.items() if k not in body})
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse(
            {"message": "invalid request: " + "; ".join(problems), "error": "InvalidInput"},
            status_code=422,
        )

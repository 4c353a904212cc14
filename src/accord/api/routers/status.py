"""``/status``: the one route that answers without a key (HMA's liveness check)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from accord.api.deps import AccordDep

router = APIRouter(tags=["status"])


@router.get("/status", response_class=PlainTextResponse)
def status(accord: AccordDep) -> PlainTextResponse:
    """``I-AM-ALIVE`` once the match indexes are loaded, ``503 INDEX-NOT-LOADED`` before."""
    if "matcher" in accord.__dict__ and not accord.matcher.loaded:
        return PlainTextResponse("INDEX-NOT-LOADED", status_code=503)
    return PlainTextResponse("I-AM-ALIVE")

"""Serving a bank's changes to peers that follow it (``accord exchange pull``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from accord.api.deps import AccordDep, requires
from accord.keys.service import Principal

router = APIRouter(tags=["exchange"])

Exporter = Annotated[Principal, Depends(requires("banks.export"))]


@router.get("/exchange/banks/{bank}/changes", summary="A bank's changes after a checkpoint")
def changes(
    bank: str, accord: AccordDep, _: Exporter, since: int = 0, limit: int = 5_000
) -> dict[str, Any]:
    """Each changed item once: ``add`` with signals, labels and provenance, or ``remove``.
    Follow ``next`` while ``more`` is true."""
    return accord.exchange.feed(bank, since, limit=limit)

"""``/v1/reporting``: transparency reports computed from the ledger, for auditors.

``GET /v1/reporting/transparency?from=DATE&to=DATE`` returns the report document
(the same JSON that ``accord report transparency`` writes), computed over the
latest signed checkpoint; ``format=csv`` or ``format=html`` return the other
renderings. A few lines over :class:`accord.reporting.service.ReportService`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from accord.api.deps import AccordDep, requires
from accord.keys.service import Principal
from accord.reporting import render

router = APIRouter(tags=["reports"])


@router.get("/reporting/transparency", response_model=None)
def transparency(
    accord: AccordDep,
    _principal: Annotated[Principal, Depends(requires("reports.read"))],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    format: Literal["json", "csv", "html"] = "json",
) -> dict[str, Any] | Response:
    """The transparency report of ``from..to`` (inclusive) over the latest checkpoint."""
    report, checkpoint = accord.reports.transparency(start, end)
    if format == "csv":
        return PlainTextResponse(render.to_csv(report), media_type="text/csv; charset=utf-8")
    if format == "html":
        return HTMLResponse(render.to_html(report, checkpoint))
    return render.document(report, checkpoint)

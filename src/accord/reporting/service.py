"""Issuing a transparency report from the ledger: checkpoint, events, figures, files.

:class:`ReportService` is the only part of :mod:`accord.reporting` that touches
storage, and it reads nothing but the ledger's leaves. Data flows

    LedgerService.latest_checkpoint() (or issue_checkpoint())  -> tree size n, root, note
    Ledger.entries(0..n) in pages -> leaf bytes -> transparency.compute_lines -> Report
    Report + checkpoint -> render -> report.json, report.csv, report.html in the output folder

so the report is exactly what an auditor recomputes from ``accord ledger
export`` of the same checkpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from accord.errors import InvalidInput
from accord.ledger.log import Ledger
from accord.ledger.service import LedgerService, StoredCheckpoint
from accord.reporting import render
from accord.reporting.transparency import Report, compute_lines

__all__ = ["PAGE", "IssuedReport", "ReportService"]

PAGE = 10_000
"""Leaves read from the database per query while computing a report."""


@dataclass(frozen=True, slots=True)
class IssuedReport:
    report: Report
    checkpoint: dict[str, Any]
    files: dict[str, Path]

    def document(self) -> dict[str, Any]:
        return render.document(self.report, self.checkpoint)


def checkpoint_info(cp: StoredCheckpoint, origin: str) -> dict[str, Any]:
    """How a report names its checkpoint: origin, size, base64 root, the signed note."""
    return {
        "origin": origin,
        "size": cp.size,
        "root": base64.b64encode(cp.root).decode(),
        "note": cp.note,
    }


class ReportService:
    """Transparency reports computed from the ledger's leaves up to a signed checkpoint."""

    def __init__(self, ledger: Ledger, ledger_service: LedgerService) -> None:
        self.ledger = ledger
        self.ledger_service = ledger_service

    def _leaves(self, size: int) -> Iterator[bytes]:
        start = 0
        while start < size:
            page = self.ledger.entries(start, min(size, start + PAGE))
            if not page:
                raise InvalidInput(f"the ledger holds fewer than {size} leaves")
            for event in page:
                yield event.body
            start = page[-1].seq + 1

    def transparency(
        self, start: date, end: date, *, issue_checkpoint: bool = False
    ) -> tuple[Report, dict[str, Any]]:
        """The report of ``start..end`` over the latest checkpoint (a new one if asked)."""
        svc = self.ledger_service
        cp = svc.issue_checkpoint() if issue_checkpoint else svc.latest_checkpoint()
        report = compute_lines(self._leaves(cp.size), start, end)
        return report, checkpoint_info(cp, svc.origin)

    def write_transparency(
        self, start: date, end: date, out: Path, *, issue_checkpoint: bool = False
    ) -> IssuedReport:
        """Compute the report and write ``transparency-FROM-TO.{json,csv,html}`` into ``out``."""
        report, cp = self.transparency(start, end, issue_checkpoint=issue_checkpoint)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"transparency-{start.isoformat()}-{end.isoformat()}"
        files = {
            "json": out / f"{stem}.json",
            "csv": out / f"{stem}.csv",
            "html": out / f"{stem}.html",
        }
        files["json"].write_text(render.to_json(report, cp), encoding="utf-8")
        files["csv"].write_text(render.to_csv(report), encoding="utf-8")
        files["html"].write_text(render.to_html(report, cp), encoding="utf-8")
        return IssuedReport(report, cp, files)

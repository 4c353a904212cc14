"""The auditor's check of a transparency report, with no access to the platform's database.

Inputs are what the platform publishes: the report (JSON), the exported log
(JSON Lines, leaves 0..n-1, from ``accord ledger export``), the signed
checkpoint and the log's verifier key. Data flows

    export --> accord.ledger.verify.check_segment --> the leaves hash to the checkpoint's root
    export --> accord.reporting.parallel.compute_file (every core) --> figures
    figures == the report's figures, one by one --> ReportCheck (every figure, match or not)

The checkpoint is the ``--checkpoint`` note if one is given, otherwise the note
the report names; either way it must be the report's (same size and root).
Only :mod:`accord.ledger.verify`, the pure :mod:`accord.reporting.transparency`
and the standard library are used.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from accord.errors import InvalidInput, VerificationFailed
from accord.ledger import verify as ledger_verify
from accord.reporting.parallel import compute_file
from accord.reporting.render import figures_of
from accord.reporting.transparency import Value, figure_key

__all__ = ["FigureCheck", "ReportCheck", "load_report", "verify_report"]


@dataclass(frozen=True, slots=True)
class FigureCheck:
    key: tuple[str, str, str]
    reported: Value
    recomputed: Value
    present: bool = True

    @property
    def matches(self) -> bool:
        return self.present and self.reported == self.recomputed

    @property
    def label(self) -> str:
        return figure_key(*self.key)


@dataclass(frozen=True, slots=True)
class ReportCheck:
    """Every figure's check, and what was established about the export."""

    figures: tuple[FigureCheck, ...]
    leaves: int | None  # leaves hashed against the checkpoint (None: root not checked)
    tree_size: int

    @property
    def ok(self) -> bool:
        return all(f.matches for f in self.figures)

    @property
    def mismatches(self) -> list[FigureCheck]:
        return [f for f in self.figures if not f.matches]


def load_report(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read the report {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path} is not a transparency report")
    return doc


def verify_report(
    doc: Mapping[str, Any],
    export: Path,
    *,
    key: str | None,
    note_text: str | None = None,
    check_root: bool = True,
) -> ReportCheck:
    """Check the export against the checkpoint (unless ``check_root`` is false), then
    recompute every figure of ``doc`` from it. Raises :class:`VerificationFailed`
    if the export is not the checkpoint's log; figure mismatches are returned."""
    reported = figures_of(doc)
    try:
        start = date.fromisoformat(doc["period"]["from"])
        end = date.fromisoformat(doc["period"]["to"])
        named = doc["checkpoint"]
        size = int(named["size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the report does not name its period and checkpoint: {exc}") from exc
    leaves: int | None = None
    if check_root:
        if key is None:
            raise InvalidInput("checking the log's root needs the log's verifier key")
        text = note_text if note_text is not None else str(named.get("note", ""))
        with export.open("rb") as handle:
            checkpoint, leaves = ledger_verify.check_segment(handle, text, key)
        root = base64.b64encode(checkpoint.root).decode()
        if checkpoint.size != size or root != named.get("root"):
            raise VerificationFailed(
                f"the report names checkpoint size {size} root {named.get('root')}, "
                f"not the given checkpoint (size {checkpoint.size}, root {root})"
            )
    # the checkpoint's leaves only, as the report was (all of the export once the root matched)
    recomputed = compute_file(export, start, end, leaves=None if check_root else size).by_key()
    checks = [
        FigureCheck(k, value, recomputed.get(k), k in recomputed) for k, value in reported.items()
    ]
    checks.extend(
        FigureCheck(k, None, v, False) for k, v in recomputed.items() if k not in reported
    )
    return ReportCheck(tuple(checks), leaves, size)

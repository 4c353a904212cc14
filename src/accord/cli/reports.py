"""``accord report`` (issue transparency reports) and ``accord verify report`` (check one).

``accord report transparency`` is a few lines over
:class:`accord.reporting.service.ReportService`: it computes the figures from
the ledger up to the latest checkpoint (or a new one with ``--issue``) and
writes JSON, CSV and HTML. ``accord verify report`` needs no accord home: it
reads the report, the exported log and the checkpoint, and calls
:func:`accord.reporting.verify.verify_report`; it prints each figure with
``ok`` or ``MISMATCH`` and exits 1 on any mismatch (2 if the export is not the
checkpoint's log).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from accord.cli.app import app, get_accord, out
from accord.cli.verify import KEY_HELP, key_argument, read_text, verify_app
from accord.errors import InvalidInput
from accord.reporting.verify import load_report, verify_report

report_app = typer.Typer(
    help="Transparency reports computed from the ledger.", no_args_is_help=True
)
app.add_typer(report_app, name="report")


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} must be a date (YYYY-MM-DD), not {value!r}") from None


@report_app.command("transparency")
def transparency(
    start: str = typer.Option(..., "--from", help="First day of the period (YYYY-MM-DD, UTC)."),
    end: str = typer.Option(..., "--to", help="Last day of the period, inclusive."),
    out_dir: Path = typer.Option(Path("."), "--out", help="Folder for the JSON, CSV and HTML."),
    issue: bool = typer.Option(False, "--issue", help="Sign a new checkpoint and report over it."),
) -> None:
    """Compute the transparency report of a period and write it as JSON, CSV and HTML."""
    issued = get_accord().reports.write_transparency(
        _date(start, "--from"), _date(end, "--to"), out_dir, issue_checkpoint=issue
    )
    out.print(
        f"report {start}..{end} over checkpoint size {issued.checkpoint['size']}: "
        f"{len(issued.report.figures)} figures",
        markup=False,
    )
    for path in issued.files.values():
        out.print(str(path), markup=False)


@verify_app.command("report")
def verify_report_command(
    report: Path = typer.Argument(..., help="The report (JSON from `accord report transparency`)."),
    events: Path = typer.Option(..., "--events", help="JSON Lines from `accord ledger export`."),
    checkpoint: Path = typer.Option(
        None, "--checkpoint", help="The checkpoint note (default: the one the report names)."
    ),
    key: str = typer.Option(None, "--key", help=KEY_HELP),
    skip_root: bool = typer.Option(
        False, "--skip-root", help="Do not check the export against the checkpoint's root."
    ),
) -> None:
    """Recompute every figure of a report from the exported log and compare."""
    result = verify_report(
        load_report(report),
        events,
        key=key_argument(key) if key else None,
        note_text=read_text(checkpoint) if checkpoint is not None else None,
        check_root=not skip_root,
    )
    if result.leaves is not None:
        out.print(f"OK {result.leaves} leaves hash to the checkpoint's root", markup=False)
    else:
        out.print("root NOT checked (--skip-root)", markup=False)
    for f in result.figures:
        if f.matches:
            out.print(f"ok       {f.label} = {f.reported}", markup=False)
        else:
            out.print(
                f"MISMATCH {f.label}: reported {f.reported}, recomputed {f.recomputed}",
                markup=False,
            )
    bad = len(result.mismatches)
    if bad:
        out.print(f"FAILED: {bad} of {len(result.figures)} figures do not match", markup=False)
        raise typer.Exit(1)
    out.print(f"OK all {len(result.figures)} figures match", markup=False)

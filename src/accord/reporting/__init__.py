"""Transparency reports computed from ledger events alone, and their independent check.

:mod:`~accord.reporting.transparency` is the arithmetic (pure),
:mod:`~accord.reporting.render` writes JSON, CSV and HTML,
:mod:`~accord.reporting.service` reads the ledger up to a checkpoint, and
:mod:`~accord.reporting.verify` recomputes a report from an exported log.
"""

from accord.reporting.transparency import Figure, Report, Tally, compute, compute_lines

__all__ = ["Figure", "Report", "Tally", "compute", "compute_lines"]

"""The command line: one Typer group per concern, each command a few lines over a service.

Errors become a message on standard error and an exit code chosen here, from the
class of the error; library code never exits.
"""

from __future__ import annotations

import sys

from accord.cli.app import app, run

__all__ = ["app", "main"]


def main() -> None:
    sys.exit(run())

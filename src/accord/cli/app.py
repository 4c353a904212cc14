"""The root Typer app, its shared state, and error-to-exit-code translation."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from typer.exceptions import TyperException

from accord import errors as e
from accord.runtime import Accord

__all__ = ["EXIT_CODES", "app", "err", "fail", "get_accord", "out", "run"]

app = typer.Typer(
    name="accord",
    help="accord: hash matching, moderation, data rights and a verifiable ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

# Exit codes by error class (first match wins); 1 is any other failure.
EXIT_CODES: list[tuple[type[e.AccordError], int]] = [
    (e.InvalidInput, 2),
    (e.Unauthenticated, 3),
    (e.PermissionDenied, 3),
    (e.NotFound, 4),
    (e.Conflict, 5),
    (e.Gone, 5),
    (e.RateLimited, 6),
    (e.UpstreamError, 7),
]

_state: dict[str, Accord] = {}


def get_accord() -> Accord:
    """The :class:`Accord` of the home in ``ACCORD_HOME`` (migrated on first use)."""
    if "accord" not in _state:
        accord = Accord()
        accord.init()
        _state["accord"] = accord
    return _state["accord"]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; return its exit code."""
    from accord.cli import commands  # noqa: F401 - registers the command groups

    try:
        result = app(args=argv, standalone_mode=False)
        if isinstance(result, int):  # a command's typer.Exit(code), returned by click
            return result
    except e.AccordError as exc:
        err.print(f"error: {exc.message}", markup=False, highlight=False)
        for cls, code in EXIT_CODES:
            if isinstance(exc, cls):
                return code
        return 1
    except OSError as exc:  # a file named on the command line that cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        name = exc.filename if isinstance(exc.filename, str) else ""
        if len(name) > 120:
            where = f": {name[:60]}... (a file path was expected)"
        err.print(f"error: {exc.strerror or exc}{where}", markup=False, highlight=False)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        return 130
    except TyperException as exc:  # usage errors: bad options, missing arguments
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}", markup=False)
        return int(getattr(exc, "exit_code", 2))
    finally:
        accord = _state.pop("accord", None)
        if accord is not None:
            accord.close()
    return 0

"""``accord rights``: object, consent, withdraw, show, gate, affected.

Each command is a few lines over :class:`accord.rights.service.RightsService`;
results are printed as JSON so that scripts can read them. The CLI acts as the
platform (actor ``cli``): it may name any subject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from accord.cli.app import app, get_accord

rights_app = typer.Typer(
    help="Data rights: objections, consent, the training-data gate.", no_args_is_help=True
)
app.add_typer(rights_app, name="rights")


def _emit(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


PURPOSE = typer.Option(..., "--purpose", help="A purpose of the vocabulary (train_ai_system...).")
CATEGORY = typer.Option(None, "--category", help="One data category (default: every category).")


@rights_app.command("object")
def object_(
    subject: str = typer.Argument(..., help="The person's account id."),
    purpose: str = PURPOSE,
    category: str = CATEGORY,
) -> None:
    """Record an Art. 21 objection (opt-out); prints the receipt."""
    _choice("object", subject, purpose, category)


@rights_app.command("consent")
def consent(
    subject: str = typer.Argument(..., help="The person's account id."),
    purpose: str = PURPOSE,
    category: str = CATEGORY,
) -> None:
    """Record an opt-in; prints the receipt."""
    _choice("consent", subject, purpose, category)


@rights_app.command("withdraw")
def withdraw(
    subject: str = typer.Argument(..., help="The person's account id."),
    purpose: str = PURPOSE,
    category: str = CATEGORY,
) -> None:
    """Record the withdrawal of consent; prints the receipt."""
    _choice("withdraw", subject, purpose, category)


def _choice(action: str, subject: str, purpose: str, category: str | None) -> None:
    """Record the person's choice through the service (object, consent or withdraw)."""
    record = getattr(get_accord().rights, action)
    _emit(record(subject, purpose, category, actor="cli", channel="cli").as_dict())


@rights_app.command("show")
def show(
    subject: str = typer.Argument(..., help="The person's account id."),
    as_of: str = typer.Option(None, "--as-of", help="RFC 3339 time (default: now)."),
) -> None:
    """Show every (purpose, category) decision, with reason and provenance."""
    _emit(get_accord().rights.state(subject, as_of).as_dict())


@rights_app.command("gate")
def gate(
    corpus: Path = typer.Argument(..., help="Parquet or JSON Lines file (or a folder of them)."),
    purpose: str = typer.Option("train_ai_system", "--purpose", help="The purpose of the export."),
    as_of: str = typer.Option(None, "--as-of", help="Registry state as of (default: now)."),
    out: Path = typer.Option(..., "--out", help="New output folder (written atomically)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default) or spark."),
) -> None:
    """Write only the items whose subjects allow PURPOSE, plus a manifest; prints the manifest."""
    _emit(
        get_accord().rights.gate(
            corpus, out, purpose=purpose, as_of=as_of, engine=engine, actor="cli"
        )
    )


@rights_app.command("affected")
def affected(
    since: str = typer.Option(..., "--since", help="Objections recorded at or after this time."),
) -> None:
    """List gate runs holding items of people who objected after the run was made."""
    _emit([m.as_dict() for m in get_accord().rights.affected(since)])


@rights_app.command("prove-absence")
def prove_absence(
    out: Path = typer.Argument(..., help="The output folder of a gate run."),
    item_id: str = typer.Argument(..., help="The item that must not be in it."),
) -> None:
    """Print a Merkle proof, against the run's manifest, that ITEM_ID is not in its output."""
    _emit(get_accord().rights.prove_absence(out, item_id))

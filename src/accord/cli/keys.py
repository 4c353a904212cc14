"""``accord keys``: create, list and revoke API keys."""

from __future__ import annotations

import typer
from rich.table import Table

from accord.cli.app import app, get_accord, out
from accord.keys.model import Role

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    role: Role = typer.Option(..., help="The key's role."),
    subject: str = typer.Option(
        None, help="The account a user or reporter key speaks for (its own id on the platform)."
    ),
    note: str = typer.Option(None, help="What the key is for."),
) -> None:
    """Create a key; prints only the key, so that scripts can capture it."""
    key = get_accord().keys.create(role, subject=subject, note=note, actor="cli")
    typer.echo(key)


@keys_app.command("list")
def list_keys() -> None:
    """List keys by their public id (the secret part is never stored)."""
    table = Table("key id", "role", "subject", "created", "revoked", "note")
    for k in get_accord().keys.list():
        table.add_row(
            k.key_id, k.role.value, k.subject or "", k.created_at, str(k.revoked), k.note or ""
        )
    out.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key's public id (first 12 characters)."),
) -> None:
    """Revoke a key: it stops working at once."""
    get_accord().keys.revoke(key_id, actor="cli")
    typer.echo(f"revoked {key_id}")

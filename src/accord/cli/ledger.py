"""``accord ledger``: checkpoints, entries, proofs, receipts, export and cosigning.

Each command is a few lines over :class:`accord.ledger.service.LedgerService`
of the home in ``ACCORD_HOME``. Notes are printed as they are served (C2SP
text), proofs and receipts as JSON with base64 hashes, entries and exports as
JSON Lines of the leaves' exact bytes, so that ``accord verify`` can read
every output as it stands.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import typer

from accord.cli.app import app, err, get_accord
from accord.ledger.note import Cosigner
from accord.ledger.service import MAX_PAGE
from accord.secrets import load_or_create_secret

ledger_app = typer.Typer(
    help="The verifiable ledger: checkpoints, entries, proofs, export, cosign.",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")
prove_app = typer.Typer(help="Inclusion and consistency proofs (JSON).", no_args_is_help=True)
ledger_app.add_typer(prove_app, name="prove")


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@ledger_app.command("checkpoint")
def checkpoint(
    issue: bool = typer.Option(False, "--issue", help="Sign a checkpoint of the tree now."),
) -> None:
    """Print the latest signed checkpoint (with witnesses' cosignature lines)."""
    svc = get_accord().ledger_service
    cp = svc.issue_checkpoint() if issue else svc.latest_checkpoint()
    sys.stdout.write(cp.text())


@ledger_app.command("key")
def key() -> None:
    """Print the log's verifier key (give it to auditors: `accord verify --key`)."""
    typer.echo(str(get_accord().ledger_service.verifier))


@ledger_app.command("entries")
def entries(
    start: int = typer.Option(0, min=0, help="First leaf index."),
    end: int = typer.Option(None, min=0, help="Stop before this index (at most 1000 leaves)."),
) -> None:
    """Print leaves as JSON Lines (each line a leaf's exact canonical JSON)."""
    for event in get_accord().ledger_service.entries(start, end):
        sys.stdout.buffer.write(event.body + b"\n")
    sys.stdout.flush()


@prove_app.command("inclusion")
def prove_inclusion(
    index: int = typer.Argument(..., min=0, help="Leaf index (event seq)."),
    size: int = typer.Option(None, min=1, help="Tree size (default: the latest checkpoint)."),
) -> None:
    """Print the inclusion proof of leaf INDEX."""
    svc = get_accord().ledger_service
    tree_size = size if size is not None else svc.latest_checkpoint().size
    proof = svc.inclusion_proof(index, tree_size)
    typer.echo(json.dumps({"index": index, "size": tree_size, "inclusion_proof": _b64(proof)}))


@prove_app.command("consistency")
def prove_consistency(
    old: int = typer.Argument(..., min=0, help="The older tree size."),
    new: int = typer.Argument(None, min=0, help="The newer size (default: latest checkpoint)."),
) -> None:
    """Print the consistency proof from tree size OLD to NEW."""
    svc = get_accord().ledger_service
    to = new if new is not None else svc.latest_checkpoint().size
    proof = svc.consistency_proof(old, to)
    typer.echo(json.dumps({"from": old, "to": to, "consistency_proof": _b64(proof)}))


@ledger_app.command("receipt")
def receipt(seq: int = typer.Argument(..., min=0, help="The event's index.")) -> None:
    """Print the receipt of one event: its bytes, inclusion proof and checkpoint (JSON)."""
    typer.echo(json.dumps(get_accord().ledger_service.receipt(seq).to_json(), indent=2))


@ledger_app.command("export")
def export(
    out: Path = typer.Option(None, "--out", "-o", help="File to write (default: stdout)."),
    size: int = typer.Option(None, min=0, help="Leaves 0..SIZE-1 (default: latest checkpoint)."),
) -> None:
    """Export leaves 0..size-1 as JSON Lines, for `accord verify segment`."""
    svc = get_accord().ledger_service
    stop = size if size is not None else svc.latest_checkpoint().size
    handle = out.open("wb") if out is not None else sys.stdout.buffer
    try:
        start = 0
        while start < stop:
            page = svc.entries(start, min(stop, start + MAX_PAGE))
            if not page:
                break
            handle.writelines(e.body + b"\n" for e in page)
            start = page[-1].seq + 1
    finally:
        if out is not None:
            handle.close()
        else:
            handle.flush()
    err.print(f"exported {start} leaves")


@ledger_app.command("cosign")
def cosign(
    name: str = typer.Option(..., help="The witness's key name, e.g. audit.example/w1."),
    key_file: Path = typer.Option(
        ..., help="The witness's Ed25519 seed (hex); created, mode 0600, if missing."
    ),
    note: Path = typer.Option(
        None, help="Instead: store a checkpoint an outside witness cosigned (needs --witness-key)."
    ),
    witness_key: str = typer.Option(None, help="The outside witness's verifier key."),
) -> None:
    """Witness the latest checkpoint (log signature and consistency checked) and store the line.

    With --note and --witness-key, store a cosignature made elsewhere instead.
    """
    svc = get_accord().ledger_service
    if note is not None:
        if not witness_key:
            raise typer.BadParameter("--note needs --witness-key")
        stored = svc.add_cosignature(note.read_text(), witness_key)
    else:
        witness = Cosigner(name, load_or_create_secret(key_file))
        err.print(f"witness key: {witness.verifier}", soft_wrap=True, markup=False)
        stored = svc.cosign(witness)
    sys.stdout.write(stored.text())

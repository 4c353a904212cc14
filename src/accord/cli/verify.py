"""``accord verify``: an auditor's checks, run without an accord home or database.

Each command reads files the ledger served (notes, proofs, receipts, exports)
and calls :mod:`accord.ledger.verify`; it prints ``OK`` and what was verified,
or fails with the reason (exit code 2). ``--key`` is the log's verifier key
(``accord ledger key``), given as the key itself or a file holding it.
``accord verify cosign`` is an outside witness's step: check, then cosign.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from accord.cli.app import app, err, out
from accord.errors import InvalidInput
from accord.ledger import verify as v
from accord.ledger.note import Cosigner, parse_note
from accord.secrets import load_or_create_secret

verify_app = typer.Typer(
    help="Check checkpoints, proofs, receipts and exports (no database needed).",
    no_args_is_help=True,
)
app.add_typer(verify_app, name="verify")

KEY_HELP = "The log's verifier key (name+id+key), or a file holding it."


def key_argument(value: str) -> str:
    """A verifier key given inline, or the path of a file that holds one."""
    path = Path(value)
    if "+" not in value and path.is_file():
        return path.read_text().strip()
    return value


def read_text(path: Path) -> str:
    """A file named on the command line, as UTF-8 text (a clear error otherwise)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc


def _proof(path: Path, field: str) -> list[bytes]:
    try:
        data: Any = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}") from exc
    hashes = data[field] if isinstance(data, dict) else data
    return v.decode_proof(list(hashes))


@verify_app.command("checkpoint")
def checkpoint(
    note: Path = typer.Argument(..., help="The checkpoint note (as served)."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
    witness: list[str] = typer.Option([], "--witness", help="A witness key that must cosign."),
) -> None:
    """Check a checkpoint's signature and, with --witness, its cosignatures."""
    cp = v.check_checkpoint(read_text(note), key_argument(key), [key_argument(w) for w in witness])
    out.print(f"OK checkpoint {cp.origin} size {cp.size}, {len(witness)} witness(es)")


@verify_app.command("consistency")
def consistency(
    old: Path = typer.Argument(..., help="The older checkpoint note."),
    new: Path = typer.Argument(..., help="The newer checkpoint note."),
    proof: Path = typer.Option(..., help="JSON from `accord ledger prove consistency`."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
) -> None:
    """Check that the newer checkpoint's tree extends the older one's."""
    a, b = v.check_consistency(
        read_text(old), read_text(new), _proof(proof, "consistency_proof"), key_argument(key)
    )
    out.print(f"OK size {a.size} is a prefix of size {b.size}")


@verify_app.command("inclusion")
def inclusion(
    event: Path = typer.Argument(..., help="The event's exact leaf bytes (one JSON line)."),
    index: int = typer.Option(..., min=0, help="The event's leaf index."),
    proof: Path = typer.Option(..., help="JSON from `accord ledger prove inclusion`."),
    checkpoint: Path = typer.Option(..., help="The checkpoint note the proof is for."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
) -> None:
    """Check that an event is in the log at a checkpoint."""
    raw = event.read_bytes()
    leaf = raw[:-1] if raw.endswith(b"\n") else raw
    cp = v.check_inclusion(
        leaf, index, _proof(proof, "inclusion_proof"), read_text(checkpoint), key_argument(key)
    )
    out.print(f"OK event {index} is in the log of size {cp.size}")


@verify_app.command("receipt")
def receipt(
    path: Path = typer.Argument(..., help="A receipt (JSON from `accord ledger receipt`)."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
) -> None:
    """Check a receipt: its event, inclusion proof and checkpoint."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}") from exc
    cp = v.verify_receipt(data, key_argument(key))
    out.print(f"OK receipt of event {data['index']} against size {cp.size}")


@verify_app.command("segment")
def segment(
    export: Path = typer.Argument(..., help="JSON Lines from `accord ledger export`."),
    checkpoint: Path = typer.Option(..., help="The checkpoint the export should match."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
) -> None:
    """Recompute the root over an exported log and compare with the checkpoint."""
    with export.open("rb") as handle:
        cp, count = v.check_segment(handle, read_text(checkpoint), key_argument(key))
    out.print(f"OK {count} leaves hash to the root of checkpoint size {cp.size}")


@verify_app.command("cosign")
def cosign(
    note: Path = typer.Argument(..., help="The checkpoint to witness (as served)."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
    name: str = typer.Option(..., help="The witness's key name, e.g. audit.example/w1."),
    key_file: Path = typer.Option(
        ..., help="The witness's Ed25519 seed (hex); created, mode 0600, if missing."
    ),
    previous: Path = typer.Option(None, help="The last checkpoint this witness cosigned."),
    proof: Path = typer.Option(None, help="Consistency proof JSON from --previous to NOTE."),
) -> None:
    """Witness a checkpoint: check it (and its consistency with --previous), then cosign.

    Prints the note with the witness's tlog-cosignature line added, ready for
    `POST /v1/ledger/cosignatures`; the witness's verifier key goes to stderr.
    """
    text = read_text(note)
    checkpoint_ = v.check_checkpoint(text, key_argument(key))
    if previous is not None:
        if proof is None:
            raise InvalidInput("--previous needs --proof (accord ledger prove consistency)")
        v.check_consistency(
            read_text(previous), text, _proof(proof, "consistency_proof"), key_argument(key)
        )
    witness = Cosigner(name, load_or_create_secret(key_file))
    parsed = parse_note(text)
    line = witness.cosign(parsed.text, int(time.time()))
    err.print(f"witness key: {witness.verifier}", soft_wrap=True, markup=False)
    err.print(f"cosigned {checkpoint_.origin} size {checkpoint_.size}", markup=False)
    sys.stdout.write(parsed.with_signature(line).format())

"""The auditor's verifier: checks what the ledger publishes, with no access to its database.

Everything here uses only :mod:`accord.ledger.merkle` (RFC 9162 hashes and
proof checks), :mod:`accord.ledger.note` (C2SP signed notes and checkpoints),
:mod:`accord.errors` (the exception class) and the standard library, so that
it can be read, and trusted, in one sitting. Inputs are what the log serves:

- a checkpoint: a signed note ``origin / size / base64 root`` (plus any
  witness cosignature lines), checked against the log's verifier key and,
  if given, the witnesses' keys;
- a consistency proof between two checkpoints (old tree is a prefix of new);
- an event's exact bytes, its index and inclusion proof, against a checkpoint;
- a receipt: the same three things bundled as one JSON object;
- an exported log segment: JSON Lines, one canonical leaf per line from leaf
  0, whose recomputed root must be the checkpoint's.

Every function returns the verified :class:`Checkpoint` and raises
:class:`VerificationFailed` (with the reason) when anything does not check out.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from accord.errors import InvalidInput, VerificationFailed
from accord.ledger.merkle import CompactRange, hash_leaf, verify_consistency, verify_inclusion
from accord.ledger.note import Checkpoint, Verifier, parse_checkpoint, parse_note, verify_note

__all__ = [
    "check_checkpoint",
    "check_consistency",
    "check_inclusion",
    "check_segment",
    "decode_proof",
    "verify_receipt",
]


def _key(key: Verifier | str) -> Verifier:
    return key if isinstance(key, Verifier) else Verifier.parse(key)


def decode_proof(hashes: Sequence[str]) -> list[bytes]:
    """Proof hashes as served (base64 strings) to bytes."""
    try:
        return [base64.b64decode(h, validate=True) for h in hashes]
    except (binascii.Error, ValueError) as exc:
        raise VerificationFailed(f"a proof hash is not base64: {exc}") from exc


def check_checkpoint(
    note_text: str, log_key: Verifier | str, witness_keys: Iterable[Verifier | str] = ()
) -> Checkpoint:
    """The checkpoint, once the log's signature and every given witness's cosignature verify."""
    log = _key(log_key)
    witnesses = [_key(k) for k in witness_keys]
    try:
        note = parse_note(note_text)
        checkpoint = parse_checkpoint(note.text)
    except InvalidInput as exc:
        raise VerificationFailed(f"not a signed checkpoint: {exc.message}") from exc
    signed = verify_note(note, [log, *witnesses])
    if log not in signed:
        raise VerificationFailed(f"the checkpoint is not signed by the log key {log.name}")
    for witness in witnesses:
        if witness not in signed:
            raise VerificationFailed(f"the checkpoint carries no cosignature of {witness.name}")
    if checkpoint.origin != log.name:
        raise VerificationFailed(
            f"the checkpoint's origin {checkpoint.origin!r} is not the log key's name {log.name!r}"
        )
    return checkpoint


def check_consistency(
    old_note: str, new_note: str, proof: Sequence[bytes], log_key: Verifier | str
) -> tuple[Checkpoint, Checkpoint]:
    """Both checkpoints verify and the newer tree extends the older one."""
    old = check_checkpoint(old_note, log_key)
    new = check_checkpoint(new_note, log_key)
    if old.size == 0 and not proof:  # every tree extends the empty tree
        return old, new
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    return old, new


def check_inclusion(
    event: bytes, index: int, proof: Sequence[bytes], note_text: str, log_key: Verifier | str
) -> Checkpoint:
    """The checkpoint verifies and ``event`` (exact leaf bytes) is its leaf ``index``."""
    checkpoint = check_checkpoint(note_text, log_key)
    verify_inclusion(hash_leaf(event), index, checkpoint.size, proof, checkpoint.root)
    _check_seq(event, index)
    return checkpoint


def verify_receipt(receipt: Mapping[str, Any], log_key: Verifier | str) -> Checkpoint:
    """Check a receipt: ``{event, index, inclusion_proof, checkpoint}`` as the ledger serves it."""
    try:
        event = str(receipt["event"]).encode()
        index = int(receipt["index"])
        proof = decode_proof(list(receipt["inclusion_proof"]))
        note_text = str(receipt["checkpoint"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed(f"not a ledger receipt: {exc}") from exc
    return check_inclusion(event, index, proof, note_text, log_key)


def check_segment(
    lines: Iterable[bytes], note_text: str, log_key: Verifier | str
) -> tuple[Checkpoint, int]:
    """Recompute the root over exported leaves 0..n-1 (one per line) and compare.

    Returns the checkpoint and the number of leaves read. The export must hold
    exactly the checkpoint's leaves, each line the leaf's exact bytes.
    """
    checkpoint = check_checkpoint(note_text, log_key)
    tree = CompactRange()
    for number, raw in enumerate(lines):
        leaf = raw[:-1] if raw.endswith(b"\n") else raw
        if number >= checkpoint.size:
            raise VerificationFailed(
                f"the export holds more than the checkpoint's {checkpoint.size} leaves"
            )
        _check_seq(leaf, number)
        tree.append(hash_leaf(leaf))
    if tree.size != checkpoint.size:
        raise VerificationFailed(
            f"the export holds {tree.size} leaves, the checkpoint {checkpoint.size}"
        )
    if tree.root() != checkpoint.root:
        raise VerificationFailed("the exported leaves do not hash to the checkpoint's root")
    return checkpoint, tree.size


def _check_seq(leaf: bytes, index: int) -> None:
    """A ledger leaf is a JSON object that states its own index as ``seq``."""
    try:
        value = json.loads(leaf)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationFailed(f"leaf {index} is not JSON: {exc}") from exc
    if not isinstance(value, dict) or value.get("seq") != index:
        raise VerificationFailed(f"leaf {index} does not say seq {index}")

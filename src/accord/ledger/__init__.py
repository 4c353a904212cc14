"""The ledger: one append-only log of every decision, as canonical-JSON events.

``Ledger.append(conn, kind, data, actor=...)`` is the whole interface callers
use; the Merkle tree (:mod:`accord.ledger.tree`, kept by an append hook),
checkpoints and proofs (:class:`LedgerService`) are built over the same rows,
and :mod:`accord.ledger.verify` checks what they publish without the database.
"""

from accord.ledger.canonical import canonical_json, parse_canonical
from accord.ledger.kinds import KINDS
from accord.ledger.log import Event, Ledger, leaf_hash
from accord.ledger.note import Checkpoint, Cosigner, Signer, Verifier
from accord.ledger.pseudonym import Pseudonymizer
from accord.ledger.service import CheckpointIssuer, LedgerService, Receipt, StoredCheckpoint
from accord.ledger.tree import StoredTree

__all__ = [
    "KINDS",
    "Checkpoint",
    "CheckpointIssuer",
    "Cosigner",
    "Event",
    "Ledger",
    "LedgerService",
    "Pseudonymizer",
    "Receipt",
    "Signer",
    "StoredCheckpoint",
    "StoredTree",
    "Verifier",
    "canonical_json",
    "leaf_hash",
    "parse_canonical",
]

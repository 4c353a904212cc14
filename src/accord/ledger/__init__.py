"""The ledger: one append-only log of every decision, as canonical-JSON events.

``Ledger.append(conn, kind, data, actor=...)`` is the whole interface callers
use; the Merkle tree, checkpoints and proofs are built over the same rows.
"""

from accord.ledger.canonical import canonical_json, parse_canonical
from accord.ledger.kinds import KINDS
from accord.ledger.log import Event, Ledger, leaf_hash
from accord.ledger.pseudonym import Pseudonymizer

__all__ = [
    "KINDS",
    "Event",
    "Ledger",
    "Pseudonymizer",
    "canonical_json",
    "leaf_hash",
    "parse_canonical",
]

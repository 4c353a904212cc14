"""The ledger's published face: signed checkpoints, proofs, entries, receipts, cosignatures.

:class:`LedgerService` sits over the :class:`~accord.ledger.log.Ledger` (which
appends events and keeps the stored tree) and adds what an auditor reads:

- a checkpoint is the C2SP note ``origin / size / root`` signed with the log's
  Ed25519 key; one is stored per tree size (``ledger_checkpoints``), issued on
  demand or by :class:`CheckpointIssuer` on a schedule;
- proofs and roots come from the stored tree (O(log n) node reads);
- a witness that verified a checkpoint sends its cosignature line; it is
  checked and stored (``ledger_cosignatures``) and served appended to the note;
- a receipt bundles one event's exact bytes, its inclusion proof and the
  checkpoint it is proved against, so that the person it concerns can check it
  with :func:`accord.ledger.verify.verify_receipt` alone.

The signing key is a 32-byte Ed25519 seed: ``ACCORD_LEDGER_SIGNING_KEY`` (hex)
or the file ``ledger-signing.key`` in ``ACCORD_HOME`` (created, mode 0600).
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from accord.clock import Clock, format_time
from accord.config import Settings
from accord.errors import AccordError, InvalidInput, NotFound, VerificationFailed
from accord.ledger import merkle
from accord.ledger.log import Event, Ledger
from accord.ledger.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    Cosigner,
    Note,
    Signer,
    Verifier,
    parse_checkpoint,
    parse_note,
)
from accord.ledger.tables import ledger_checkpoints, ledger_cosignatures
from accord.secrets import load_or_create_secret
from accord.store.engine import Database

__all__ = [
    "MAX_PAGE",
    "CheckpointIssuer",
    "LedgerService",
    "Receipt",
    "StoredCheckpoint",
    "load_signer",
]

log = logging.getLogger(__name__)

MAX_PAGE = 1000
"""Most entries returned by one :meth:`LedgerService.entries` call."""


def load_signer(settings: Settings) -> Signer:
    """The log's checkpoint signer: the configured seed, or the home's key file."""
    configured = settings.ledger_signing_key
    if configured is not None:
        try:
            seed = bytes.fromhex(configured.get_secret_value().strip())
        except ValueError as exc:
            raise InvalidInput("ACCORD_LEDGER_SIGNING_KEY must be 64 hex digits") from exc
    else:
        seed = load_or_create_secret(settings.home / "ledger-signing.key")
    return Signer(settings.ledger_origin, seed)


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint and the witness lines received for it."""

    size: int
    root: bytes
    note: str
    issued_at: str
    cosignatures: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        return parse_note(self.note).text

    def text(self) -> str:
        """The note with every cosignature line appended (what is served)."""
        return self.note + "".join(self.cosignatures)


@dataclass(frozen=True, slots=True)
class Receipt:
    """One event, its inclusion proof and the checkpoint that proof leads to."""

    event: bytes
    index: int
    proof: list[bytes]
    checkpoint: str
    tree_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event.decode(),
            "index": self.index,
            "tree_size": self.tree_size,
            "inclusion_proof": [base64.b64encode(p).decode() for p in self.proof],
            "checkpoint": self.checkpoint,
        }


class LedgerService:
    """Checkpoints, proofs, entries, receipts and cosignatures of one ledger."""

    def __init__(
        self, db: Database, ledger: Ledger, clock: Clock, signer: Signer, *, origin: str
    ) -> None:
        if signer.name != origin:
            raise InvalidInput("the checkpoint key is named after the log's origin")
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.signer = signer
        self.origin = origin

    @property
    def verifier(self) -> Verifier:
        """The log's public key, to give to auditors: ``str(service.verifier)``."""
        return self.signer.verifier

    # --- checkpoints -------------------------------------------------------------------

    def issue_checkpoint(self) -> StoredCheckpoint:
        """Sign the current tree head (the stored one if that size is signed already)."""
        try:
            with self.db.write() as conn:
                size = self.ledger.tree.size(conn)
                existing = self._checkpoint(conn, size)
                if existing is not None:
                    return existing
                root = self.ledger.tree.root(conn, size)
                body = Checkpoint(self.origin, size, root).format()
                note = Note(body, (self.signer.sign(body),)).format()
                issued = format_time(self.clock.now())
                conn.execute(
                    insert(ledger_checkpoints).values(
                        size=size, root=root, note=note, issued_at=issued
                    )
                )
                return StoredCheckpoint(size, root, note, issued)
        except IntegrityError:  # another process signed this size at the same moment
            return self.checkpoint(size)

    def latest_checkpoint(self) -> StoredCheckpoint:
        """The newest checkpoint (the first one is issued if there is none yet)."""
        with self.db.read() as conn:
            size = conn.execute(
                select(ledger_checkpoints.c.size).order_by(ledger_checkpoints.c.size.desc())
            ).scalar()
            found = None if size is None else self._checkpoint(conn, int(size))
        return found if found is not None else self.issue_checkpoint()

    def checkpoint(self, size: int) -> StoredCheckpoint:
        with self.db.read() as conn:
            found = self._checkpoint(conn, size)
        if found is None:
            raise NotFound(f"no checkpoint was issued at tree size {size}", size=size)
        return found

    def _checkpoint(self, conn: Connection, size: int) -> StoredCheckpoint | None:
        row = conn.execute(
            select(ledger_checkpoints).where(ledger_checkpoints.c.size == size)
        ).one_or_none()
        if row is None:
            return None
        lines = conn.execute(
            select(ledger_cosignatures.c.line)
            .where(ledger_cosignatures.c.size == size)
            .order_by(ledger_cosignatures.c.id)
        ).scalars()
        return StoredCheckpoint(
            int(row.size), bytes(row.root), row.note, row.issued_at, tuple(lines)
        )

    # --- reading the log ---------------------------------------------------------------

    def size(self) -> int:
        with self.db.read() as conn:
            return self.ledger.tree.size(conn)

    def entries(self, start: int, end: int | None = None) -> list[Event]:
        """Events ``start <= seq < end``, at most :data:`MAX_PAGE` of them."""
        if start < 0 or (end is not None and end < start):
            raise InvalidInput("entries need 0 <= start <= end", start=start, end=end)
        stop = start + MAX_PAGE if end is None else min(end, start + MAX_PAGE)
        return self.ledger.entries(start, stop)

    def root(self, size: int) -> bytes:
        with self.db.read() as conn:
            return self.ledger.tree.root(conn, size, cache=True)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with self.db.read() as conn:
            return self.ledger.tree.inclusion_proof(conn, index, size, cache=True)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self.db.read() as conn:
            return self.ledger.tree.consistency_proof(conn, old_size, new_size, cache=True)

    def receipt(self, seq: int) -> Receipt:
        """The receipt of event ``seq`` against the latest checkpoint that holds it."""
        events = self.ledger.entries(seq, seq + 1) if seq >= 0 else []
        if not events:
            raise NotFound(f"no ledger event has index {seq}", seq=seq)
        cp = self.latest_checkpoint()
        if cp.size <= seq:
            cp = self.issue_checkpoint()
        proof = self.inclusion_proof(seq, cp.size)
        return Receipt(events[0].body, seq, proof, cp.text(), cp.size)

    # --- witnesses ---------------------------------------------------------------------

    def add_cosignature(self, note_text: str, witness_key: str) -> StoredCheckpoint:
        """Store the cosignature line of ``witness_key`` found on one of our checkpoints."""
        witness = Verifier.parse(witness_key)
        note = parse_note(note_text)
        size = parse_checkpoint(note.text).size
        stored = self.checkpoint(size)
        if stored.body != note.text:
            raise VerificationFailed(
                f"the cosigned note is not the log's checkpoint at size {size}", size=size
            )
        lines = [s for s in note.signatures if witness.matches(s)]
        if not lines:
            raise InvalidInput(f"the note carries no line of the witness {witness.name}")
        if witness.alg != ALG_COSIGNATURE_V1:
            raise InvalidInput("a witness cosigns with a tlog-cosignature (type 0x04) key")
        for line in lines:
            witness.check(note.text, line)
        when = format_time(self.clock.now())
        try:
            with self.db.write() as conn:
                conn.execute(
                    insert(ledger_cosignatures),
                    [
                        {
                            "size": size,
                            "name": witness.name,
                            "key_id": witness.key_id.hex(),
                            "line": line.line(),
                            "received_at": when,
                        }
                        for line in lines[-1:]
                    ],
                )
        except IntegrityError:
            pass  # this witness cosigned this size already: keep the first line
        return self.checkpoint(size)

    def cosign(self, witness: Cosigner) -> StoredCheckpoint:
        """Act as an in-house witness: check the latest checkpoint, then cosign it.

        The witness checks the log's signature and, against the last checkpoint it
        cosigned (if any), a consistency proof, exactly as an outside witness would.
        """
        cp = self.latest_checkpoint()
        note = parse_note(cp.note)
        self.verifier.check(note.text, note.signatures[0])
        with self.db.read() as conn:
            previous = conn.execute(
                select(ledger_cosignatures.c.size)
                .where(
                    ledger_cosignatures.c.name == witness.name,
                    ledger_cosignatures.c.key_id == witness.verifier.key_id.hex(),
                )
                .order_by(ledger_cosignatures.c.size.desc())
            ).scalar()
        if previous is not None and 0 < int(previous) < cp.size:
            old = self.checkpoint(int(previous))
            proof = self.consistency_proof(old.size, cp.size)
            merkle.verify_consistency(old.size, cp.size, old.root, cp.root, proof)
        elif previous is not None and int(previous) > cp.size:
            raise VerificationFailed("the witness cosigned a larger tree than the latest one")
        timestamp = int(self.clock.now().timestamp())
        line = witness.cosign(note.text, timestamp)
        return self.add_cosignature(note.with_signature(line).format(), str(witness.verifier))


class CheckpointIssuer:
    """A thread that signs a checkpoint every ``interval`` seconds if the log grew."""

    def __init__(self, service: LedgerService, interval: float) -> None:
        if interval <= 0:
            raise InvalidInput("the checkpoint interval is a positive number of seconds")
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> StoredCheckpoint | None:
        """Issue a checkpoint if the log grew since the latest one; returns it."""
        latest = self.service.latest_checkpoint()
        if self.service.size() > latest.size:
            return self.service.issue_checkpoint()
        return None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="accord-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except (AccordError, SQLAlchemyError):  # keep the schedule; the next tick retries
                log.exception("issuing a scheduled checkpoint failed")

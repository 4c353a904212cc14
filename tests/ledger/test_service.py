"""Checkpoints, proofs, receipts and cosignatures through the service, on both databases."""

from __future__ import annotations

import base64
import os
import stat
from datetime import timedelta

import pytest

from accord.config import Settings
from accord.errors import InvalidInput, NotFound, VerificationFailed
from accord.ledger import merkle
from accord.ledger.note import Cosigner, Verifier, parse_checkpoint, parse_note, verify_note
from accord.ledger.service import MAX_PAGE, CheckpointIssuer, load_signer
from accord.ledger.verify import verify_receipt


def _append(accord, n: int) -> None:
    with accord.db.write() as conn:
        accord.ledger.append_many(
            conn, [("bank.created", {"bank": f"B{i}"}, None) for i in range(n)]
        )


def test_checkpoints_are_signed_stored_and_reissued_only_when_the_log_grows(store):
    svc = store.ledger_service
    first = svc.latest_checkpoint()
    assert first.size == 0
    assert parse_checkpoint(first.note).root == merkle.EMPTY_ROOT
    _append(store, 5)
    second = svc.issue_checkpoint()
    assert (second.size, svc.issue_checkpoint()) == (5, second)
    cp = parse_checkpoint(second.note)
    assert cp.origin == store.settings.ledger_origin
    assert cp.root == merkle.root_of(e.leaf_hash for e in store.ledger.entries(0, 5))
    verify_note(parse_note(second.note), [Verifier.parse(str(svc.verifier))])
    assert svc.latest_checkpoint() == second
    assert svc.checkpoint(0) == first
    with pytest.raises(NotFound):
        svc.checkpoint(3)


def test_signing_key_is_created_private_or_taken_from_the_environment(tmp_path):
    settings = Settings(home=tmp_path / "h")
    signer = load_signer(settings)
    key_file = tmp_path / "h" / "ledger-signing.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert load_signer(settings).verifier == signer.verifier
    seed = "11" * 32
    configured = load_signer(Settings(home=tmp_path / "h", ledger_signing_key=seed))
    assert configured.verifier != signer.verifier
    with pytest.raises(InvalidInput):
        load_signer(Settings(home=tmp_path / "h", ledger_signing_key="xyz"))


def test_receipts_check_and_fail_when_tampered(store):
    _append(store, 11)
    svc = store.ledger_service
    svc.issue_checkpoint()
    _append(store, 2)  # event 12 is past the latest checkpoint: a new one is signed for it
    for seq, size in ((0, 11), (12, 13), (7, 13)):
        receipt = svc.receipt(seq).to_json()
        assert verify_receipt(receipt, Verifier.parse(str(svc.verifier))).size == size
    receipt = svc.receipt(3).to_json()
    tampered = dict(receipt, event=receipt["event"].replace('"B3"', '"B4"'))
    with pytest.raises(VerificationFailed):
        verify_receipt(tampered, svc.verifier)
    with pytest.raises(NotFound):
        svc.receipt(99)


def test_entries_are_capped_and_proofs_verify(accord):
    _append(accord, 40)
    svc = accord.ledger_service
    assert [e.seq for e in svc.entries(35, 100)] == list(range(35, 40))
    assert len(svc.entries(0)) == 40
    assert MAX_PAGE >= 100
    root = svc.root(40)
    leaf = accord.ledger.entries(17, 18)[0].leaf_hash
    merkle.verify_inclusion(leaf, 17, 40, svc.inclusion_proof(17, 40), root)
    merkle.verify_consistency(13, 40, svc.root(13), root, svc.consistency_proof(13, 40))


def test_witness_cosignatures_are_checked_stored_and_served(store, clock):
    svc = store.ledger_service
    witness = Cosigner("witness.example/w1", bytes(range(32)))
    _append(store, 3)
    cp = svc.issue_checkpoint()
    cosigned = svc.cosign(witness)
    assert cosigned.size == 3
    assert len(cosigned.cosignatures) == 1
    served = parse_note(svc.latest_checkpoint().text())
    assert verify_note(served, [svc.verifier, witness.verifier]) == [svc.verifier, witness.verifier]
    # a second witness line for the same size is not duplicated
    assert svc.cosign(witness).cosignatures == cosigned.cosignatures
    # an outside witness posts its line; a forged line or a foreign note is refused
    other = Cosigner("witness.example/w2", bytes(range(1, 33)))
    note = parse_note(cp.note)
    line = other.cosign(note.text, 1_700_000_000)
    svc.add_cosignature(note.with_signature(line).format(), str(other.verifier))
    assert len(svc.checkpoint(3).cosignatures) == 2
    forged = note.with_signature(other.cosign("x\n", 1))
    with pytest.raises(VerificationFailed):
        svc.add_cosignature(forged.format(), str(other.verifier))
    foreign = note.text.replace("\n3\n", "\n2\n")
    with pytest.raises((VerificationFailed, NotFound)):
        svc.add_cosignature(foreign + "\n" + line.line(), str(other.verifier))
    # the in-house witness checks consistency with what it cosigned before
    _append(store, 4)
    clock.advance(timedelta(minutes=1))
    svc.issue_checkpoint()
    assert svc.cosign(witness).size == 7


def test_the_issuer_signs_only_when_the_log_grew(accord):
    issuer = CheckpointIssuer(accord.ledger_service, interval=0.01)
    assert issuer.tick() is None  # the first checkpoint (size 0) exists and nothing grew
    _append(accord, 2)
    assert issuer.tick().size == 2
    assert issuer.tick() is None
    issuer.start()
    _append(accord, 1)
    import time

    deadline = time.monotonic() + 5
    while accord.ledger_service.latest_checkpoint().size < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    issuer.stop()
    assert accord.ledger_service.latest_checkpoint().size == 3
    assert base64.b64decode(
        parse_note(accord.ledger_service.latest_checkpoint().note).text.split("\n")[2]
    )

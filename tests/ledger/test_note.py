"""C2SP signed notes, checkpoints and cosignatures."""

from __future__ import annotations

import base64

import pytest

from accord.errors import InvalidInput, VerificationFailed
from accord.ledger.note import (
    Checkpoint,
    Cosigner,
    Signer,
    Verifier,
    cosignature_lines,
    parse_checkpoint,
    parse_note,
    verify_note,
)

# The example key and note of golang.org/x/mod/sumdb/note (the signed-note reference code).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_matches_the_reference_implementation_byte_for_byte():
    signer = Signer("PeterNeumann", GO_SEED)
    assert str(signer.verifier) == GO_VKEY
    assert Verifier.parse(GO_VKEY) == signer.verifier
    assert signer.sign(GO_TEXT).line() == GO_LINE
    note = parse_note(GO_TEXT + "\n" + GO_LINE)
    assert note.format() == GO_TEXT + "\n" + GO_LINE
    assert verify_note(note, [Verifier.parse(GO_VKEY)]) == [signer.verifier]


def test_checkpoint_round_trip_and_signature():
    signer = Signer("example.com/log", bytes(range(32)))
    cp = Checkpoint("example.com/log", 12, bytes(32))
    body = cp.format()
    assert body == "example.com/log\n12\n" + "A" * 43 + "=\n"
    note = parse_note(body + "\n" + signer.sign(body).line())
    assert parse_checkpoint(note.format()) == cp
    verify_note(note, [signer.verifier])


def test_a_changed_byte_or_another_key_fails():
    signer = Signer("example.com/log", bytes(range(32)))
    body = Checkpoint("example.com/log", 12, bytes(32)).format()
    text = body + "\n" + signer.sign(body).line()
    tampered = text.replace("\n12\n", "\n13\n")
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_note(parse_note(tampered), [signer.verifier])
    other = Signer("example.com/log", bytes(32))
    with pytest.raises(VerificationFailed, match="no signature from the given keys"):
        verify_note(parse_note(text), [other.verifier])


def test_cosignatures_are_timestamped_and_bound_to_the_body():
    log = Signer("example.com/log", bytes(range(32)))
    witness = Cosigner("witness.example/w1", bytes(range(1, 33)))
    body = Checkpoint("example.com/log", 7, bytes(range(32))).format()
    note = parse_note(body + "\n" + log.sign(body).line())
    cosigned = note.with_signature(witness.cosign(note.text, 1_700_000_000))
    parsed = parse_note(cosigned.format())
    assert verify_note(parsed, [log.verifier, witness.verifier]) == [
        log.verifier,
        witness.verifier,
    ]
    assert Verifier.parse(str(witness.verifier)).alg == 0x04
    (line,) = cosignature_lines(parsed, log.verifier)
    assert witness.verifier.cosignature_time(line) == 1_700_000_000
    # the witness's line over another body fails
    other_body = Checkpoint("example.com/log", 8, bytes(32)).format()
    moved = parse_note(other_body + "\n" + log.sign(other_body).line()).with_signature(line)
    with pytest.raises(VerificationFailed):
        verify_note(moved, [witness.verifier])


@pytest.mark.parametrize(
    "text",
    [
        "no blank line\n— a AAAAAAA=\n",
        "text\n\n",
        "text\n\n- a AAAAAAAA\n",
        "text\n\n— a+b AAAAAAAA\n",
        "text\n\n— a not-base64!\n",
        "text\x07\n\n— a AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_note(text)


@pytest.mark.parametrize(
    "body",
    ["o\n012\n" + "A" * 43 + "=\n", "o\n1\nAAAA\n", "\n1\n" + "A" * 43 + "=\n", "o\n1\n"],
)
def test_malformed_checkpoints_are_refused(body):
    with pytest.raises(InvalidInput):
        parse_checkpoint(body)


def test_verifier_key_with_a_wrong_id_is_refused():
    with pytest.raises(InvalidInput, match="does not match"):
        Verifier.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))

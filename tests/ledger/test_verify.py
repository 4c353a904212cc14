"""The auditor's verifier: small dependencies, and each check on its own."""

from __future__ import annotations

import ast
import base64
import json
import sys
from pathlib import Path

import pytest

import accord.ledger.verify as verify_module
from accord.errors import VerificationFailed
from accord.ledger import merkle
from accord.ledger.note import Checkpoint, Cosigner, Note, Signer, parse_note
from accord.ledger.verify import (
    check_checkpoint,
    check_consistency,
    check_inclusion,
    check_segment,
    verify_receipt,
)

ALLOWED = {"accord.ledger.merkle", "accord.ledger.note", "accord.errors"}


def test_verify_depends_only_on_merkle_note_and_the_standard_library():
    for path in (verify_module.__file__, merkle.__file__, sys.modules[Note.__module__].__file__):
        tree = ast.parse(Path(path).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert (
                    name in ALLOWED
                    or top in sys.stdlib_module_names
                    or top == "cryptography"
                    or name == "__future__"
                ), f"{path} imports {name}"


def _log(n: int):
    signer = Signer("example.com/log", bytes(range(32)))
    leaves = [json.dumps({"seq": i, "x": "y"}, separators=(",", ":")).encode() for i in range(n)]
    tree = merkle.MemoryTree(merkle.hash_leaf(leaf) for leaf in leaves)

    def note(size: int) -> str:
        body = Checkpoint("example.com/log", size, tree.root(size)).format()
        return Note(body, (signer.sign(body),)).format()

    return signer, leaves, tree, note


def test_each_check_accepts_the_truth_and_refuses_a_lie():
    signer, leaves, tree, note = _log(21)
    key = str(signer.verifier)
    assert check_checkpoint(note(21), key).size == 21
    proof = merkle.consistency_proof(tree.node, 8, 21)
    check_consistency(note(8), note(21), proof, key)
    check_consistency(note(0), note(21), [], key)  # every tree extends the empty one
    with pytest.raises(VerificationFailed):
        check_consistency(note(9), note(21), proof, key)
    inc = merkle.inclusion_proof(tree.node, 5, 21)
    check_inclusion(leaves[5], 5, inc, note(21), key)
    with pytest.raises(VerificationFailed):
        check_inclusion(leaves[6], 5, inc, note(21), key)
    receipt = {
        "event": leaves[5].decode(),
        "index": 5,
        "inclusion_proof": [base64.b64encode(p).decode() for p in inc],
        "checkpoint": note(21),
    }
    assert verify_receipt(receipt, key).size == 21
    with pytest.raises(VerificationFailed, match="not a ledger receipt"):
        verify_receipt({"event": "x"}, key)
    assert check_segment(iter(leaf + b"\n" for leaf in leaves), note(21), key)[1] == 21
    for broken in (leaves[:-1], [*leaves, leaves[0]], [leaves[1], leaves[0], *leaves[2:]]):
        with pytest.raises(VerificationFailed):
            check_segment(broken, note(21), key)


def test_checkpoint_needs_the_log_key_the_origin_and_every_named_witness():
    signer, _, _, note = _log(3)
    witness = Cosigner("w.example/1", bytes(range(1, 33)))
    text = note(3)
    with pytest.raises(VerificationFailed, match=r"no cosignature of w\.example/1"):
        check_checkpoint(text, signer.verifier, [witness.verifier])
    parsed = parse_note(text)
    cosigned = parsed.with_signature(witness.cosign(parsed.text, 5)).format()
    check_checkpoint(cosigned, signer.verifier, [witness.verifier])
    impostor = Signer("other.example/log", bytes(range(32)))
    with pytest.raises(VerificationFailed):
        check_checkpoint(text, impostor.verifier)
    with pytest.raises(VerificationFailed, match="not a signed checkpoint"):
        check_checkpoint("garbage", signer.verifier)

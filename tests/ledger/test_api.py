"""``/v1/ledger`` routes: auth, formats, and that what they serve verifies."""

from __future__ import annotations

import base64

import pytest

from accord.ledger import merkle
from accord.ledger.note import Cosigner, parse_checkpoint, parse_note
from accord.ledger.verify import check_checkpoint, verify_receipt


def _append(accord, n: int, data=None) -> None:
    with accord.db.write() as conn:
        accord.ledger.append_many(
            conn, [("bank.created", data or {"bank": f"B{i}"}, None) for i in range(n)]
        )


def test_checkpoint_entries_and_proofs_for_an_auditor(accord, client, headers):
    _append(accord, 9)
    auditor = headers["auditor"]
    r = client.post("/v1/ledger/checkpoints", headers=headers["admin"])
    assert r.status_code == 200
    r = client.get("/v1/ledger/checkpoint", headers=auditor)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    vkey = str(accord.ledger_service.verifier)
    cp = check_checkpoint(r.text, vkey)
    assert cp.size == accord.ledger.size()  # 9 events and the fixture keys' key.created
    r = client.get("/v1/ledger/entries", params={"start": 2, "end": 5}, headers=auditor)
    lines = r.content.splitlines()
    assert [parse_line["seq"] for parse_line in map(__import__("json").loads, lines)] == [2, 3, 4]
    assert lines[0] == accord.ledger.entries(2, 3)[0].body
    r = client.get(
        "/v1/ledger/proofs/inclusion", params={"index": 4, "size": cp.size}, headers=auditor
    )
    proof = [base64.b64decode(h) for h in r.json()["inclusion_proof"]]
    merkle.verify_inclusion(merkle.hash_leaf(lines[2]), 4, cp.size, proof, cp.root)
    r = client.get(
        "/v1/ledger/proofs/consistency", params={"from": 3, "to": cp.size}, headers=auditor
    )
    body = r.json()
    assert (body["from"], body["to"]) == (3, cp.size)
    proof = [base64.b64decode(h) for h in body["consistency_proof"]]
    merkle.verify_consistency(3, cp.size, accord.ledger_service.root(3), cp.root, proof)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/ledger/checkpoint",
        "/v1/ledger/entries",
        "/v1/ledger/proofs/inclusion?index=0&size=1",
        "/v1/ledger/proofs/consistency?from=0&to=1",
    ],
)
def test_reading_needs_an_auditor_key(accord, client, headers, path):
    _append(accord, 1)
    assert client.get(path).status_code == 401
    assert client.get(path, headers=headers["curator"]).status_code == 403
    assert client.get(path, headers=headers["auditor"]).status_code == 200


def test_public_ledger_serves_checkpoint_and_proofs_without_a_key(accord, client, headers):
    _append(accord, 2)
    accord.settings.ledger_public = True
    assert client.get("/v1/ledger/checkpoint").status_code == 200
    assert client.get("/v1/ledger/proofs/inclusion?index=0&size=2").status_code == 200
    assert client.get("/v1/ledger/entries").status_code == 401
    assert client.post("/v1/ledger/checkpoints", headers=headers["auditor"]).status_code == 403


def test_bad_proof_requests_are_400(accord, client, headers):
    _append(accord, 2)
    auditor = headers["auditor"]
    size = accord.ledger.size()
    r = client.get(f"/v1/ledger/proofs/inclusion?index={size}&size={size}", headers=auditor)
    assert r.status_code == 400
    r = client.get(f"/v1/ledger/proofs/consistency?from=1&to={size + 5}", headers=auditor)
    assert r.status_code == 400
    assert client.get("/v1/ledger/receipts/999", headers=auditor).status_code == 404


def test_receipts_for_the_auditor_and_for_the_person_concerned(accord, client, headers):
    person = accord.pseudonymizer("user-account")
    with accord.db.write() as conn:
        mine = accord.ledger.append(conn, "bank.created", {"subject": person})
        other = accord.ledger.append(conn, "bank.created", {"subject": "p:someone-else"})
    vkey = str(accord.ledger_service.verifier)
    r = client.get(f"/v1/ledger/receipts/{mine.seq}", headers=headers["user"])
    assert r.status_code == 200
    assert verify_receipt(r.json(), vkey).size > mine.seq
    assert (
        client.get(f"/v1/ledger/receipts/{other.seq}", headers=headers["user"]).status_code == 403
    )
    r = client.get(f"/v1/ledger/receipts/{other.seq}", headers=headers["auditor"])
    assert verify_receipt(r.json(), vkey)


def test_a_witness_posts_its_cosignature(accord, client, headers):
    _append(accord, 3)
    note = parse_note(client.post("/v1/ledger/checkpoints", headers=headers["admin"]).text)
    witness = Cosigner("witness.example/w1", bytes(range(32)))
    cosigned = note.with_signature(witness.cosign(note.text, 1_700_000_000)).format()
    body = {"note": cosigned, "witness_key": str(witness.verifier)}
    assert (
        client.post("/v1/ledger/cosignatures", json=body, headers=headers["curator"]).status_code
        == 403
    )
    r = client.post("/v1/ledger/cosignatures", json=body, headers=headers["auditor"])
    assert r.status_code == 200
    served = client.get("/v1/ledger/checkpoint", headers=headers["auditor"]).text
    cp = check_checkpoint(served, str(accord.ledger_service.verifier), [str(witness.verifier)])
    assert cp == parse_checkpoint(note.text)
    bad = {
        "note": cosigned.replace("\n" + str(cp.size) + "\n", "\n1\n"),
        "witness_key": str(witness.verifier),
    }
    assert client.post(
        "/v1/ledger/cosignatures", json=bad, headers=headers["auditor"]
    ).status_code in (400, 404)

"""``accord rights``: every command, its help, its exit codes."""

from __future__ import annotations

import json

import pytest

from accord.cli.app import run
from tests.rights.conftest import make_rows


def call(capsys, *argv):
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_object_consent_withdraw_show(capsys):
    code, out, _ = call(
        capsys, "rights", "object", "alice", "--purpose", "train_ai_system", "--category", "photos"
    )
    assert code == 0
    receipt = json.loads(out)
    assert receipt["request_id"].startswith("rr_")
    assert receipt["channel"] == "cli"
    assert call(capsys, "rights", "consent", "alice", "--purpose", "personalised_ads")[0] == 0
    assert call(capsys, "rights", "withdraw", "alice", "--purpose", "personalised_ads")[0] == 0
    code, out, _ = call(capsys, "rights", "show", "alice")
    cells = {(d["purpose"], d["category"]): d for d in json.loads(out)["decisions"]}
    assert cells[("train_ai_system", "photos")]["reason"] == "objection"
    assert cells[("personalised_ads", "posts")]["reason"] == "withdrawn"
    code, out, _ = call(capsys, "rights", "show", "alice", "--as-of", "2000-01-01")
    assert json.loads(out)["decisions"][1]["allowed"] is True


def test_errors_have_exit_codes(capsys):
    code, _, err = call(capsys, "rights", "object", "alice", "--purpose", "nope")
    assert code == 2
    assert "unknown purpose" in err


def test_gate_and_affected(capsys, tmp_path, write_corpus):
    corpus = write_corpus(make_rows(["ann", "ben"]))
    assert call(capsys, "rights", "object", "ann", "--purpose", "train_ai_system")[0] == 0
    code, out, err = call(
        capsys,
        "rights",
        "gate",
        str(corpus),
        "--purpose",
        "train_ai_system",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    assert json.loads(out)["output_count"] == 6
    assert call(capsys, "rights", "object", "ben", "--purpose", "train_ai_system")[0] == 0
    code, out, _ = call(capsys, "rights", "affected", "--since", "2000-01-01")
    affected = json.loads(out)
    assert len(affected) == 1
    assert affected[0]["subjects"] == 1


@pytest.mark.parametrize("command", ["object", "consent", "withdraw", "show", "gate", "affected"])
def test_every_command_has_help(capsys, command):
    code, out, _ = call(capsys, "rights", command, "--help")
    assert code == 0
    assert len(out) > 100


def test_every_command_is_documented():
    from pathlib import Path

    from accord.cli import commands  # noqa: F401 - registers the groups
    from accord.cli.rights import rights_app

    doc = (Path(__file__).parents[2] / "docs" / "rights.md").read_text()
    for command in rights_app.registered_commands:
        assert f"accord rights {command.name}" in doc
        assert command.callback.__doc__


def test_prove_absence(capsys, tmp_path, write_corpus):
    from accord.jobs.merkle import AbsenceProof, verify_absence

    corpus = write_corpus(make_rows(["ann", "ben"]))
    call(capsys, "rights", "object", "ann", "--purpose", "train_ai_system")
    out = tmp_path / "out"
    call(capsys, "rights", "gate", str(corpus), "--out", str(out))
    code, text, _ = call(capsys, "rights", "prove-absence", str(out), "item-00-02")
    assert code == 0
    proof = json.loads(text)
    # one block holds ben's six ids: the proof shows it whole (the block-size trade-off)
    assert [b["item_ids"] for b in proof["blocks"]] == [[f"item-01-{i:02d}" for i in range(6)]]
    rebuilt = AbsenceProof.from_dict(proof)
    assert verify_absence(rebuilt, bytes.fromhex(proof["merkle_root"]), proof["tree_size"])
    code, _, err = call(capsys, "rights", "prove-absence", str(out), "item-01-02")
    assert code == 5
    assert "is in the output" in err

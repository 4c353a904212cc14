"""``accord ledger`` and ``accord verify`` end to end: what one prints, the other checks,
and a single changed byte makes each check fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.cli.app import run


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _append(accord, n: int) -> None:
    with accord.db.write() as conn:
        accord.ledger.append_many(
            conn, [("bank.created", {"bank": f"B{i}"}, None) for i in range(n)]
        )


@pytest.fixture
def published(accord, capsys, tmp_path: Path) -> dict[str, Path]:
    """A log of 20 events, two checkpoints, an export, proofs and a receipt, as files."""
    _append(accord, 7)
    files: dict[str, Path] = {}

    def save(name: str, *argv: str) -> None:
        code, out, err = _run(capsys, *argv)
        assert code == 0, err
        files[name] = tmp_path / name
        files[name].write_text(out)

    save("key", "ledger", "key")
    save("old", "ledger", "checkpoint", "--issue")
    _append(accord, 13)
    save("new", "ledger", "checkpoint", "--issue")
    save("consistency", "ledger", "prove", "consistency", "7")
    save("inclusion", "ledger", "prove", "inclusion", "11")
    save("receipt", "ledger", "receipt", "11")
    save("entries", "ledger", "entries", "--start", "11", "--end", "12")
    code, _, _ = _run(capsys, "ledger", "export", "--out", str(tmp_path / "export.jsonl"))
    assert code == 0
    files["export"] = tmp_path / "export.jsonl"
    return files


def _verifications(f: dict[str, Path]) -> dict[str, list[str]]:
    key = str(f["key"])
    return {
        "checkpoint": ["verify", "checkpoint", str(f["new"]), "--key", key],
        "consistency": [
            "verify", "consistency", str(f["old"]), str(f["new"]),
            "--proof", str(f["consistency"]), "--key", key,
        ],
        "inclusion": [
            "verify", "inclusion", str(f["entries"]), "--index", "11",
            "--proof", str(f["inclusion"]), "--checkpoint", str(f["new"]), "--key", key,
        ],
        "receipt": ["verify", "receipt", str(f["receipt"]), "--key", key],
        "segment": [
            "verify", "segment", str(f["export"]), "--checkpoint", str(f["new"]), "--key", key,
        ],
    }  # fmt: skip


def test_verify_accepts_what_the_ledger_published(published, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "no-home"))  # verify needs no home
    for name, argv in _verifications(published).items():
        code, out, err = _run(capsys, *argv)
        assert code == 0, (name, err)
        assert out.startswith("OK"), name
    assert not (tmp_path / "no-home").exists()


def _flip_byte(path: Path, needle: bytes) -> None:
    data = path.read_bytes()
    at = data.index(needle)
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])


@pytest.mark.parametrize(
    ("target", "file", "needle"),
    [
        ("segment", "export", b'"B3"'),
        ("inclusion", "entries", b'"B'),
        ("receipt", "receipt", b"bank.created"),
        ("checkpoint", "new", b"\n20\n"[1:]),
        ("consistency", "old", b"\n7\n"[1:]),
    ],
)
def test_one_changed_byte_is_rejected(published, capsys, target, file, needle):
    _flip_byte(published[file], needle)
    code, _, err = _run(capsys, *_verifications(published)[target])
    assert code == 2, err
    assert "error" in err


def test_cli_cosign_in_house_witness(accord, capsys, tmp_path):
    _append(accord, 3)
    code, out, err = _run(
        capsys, "ledger", "cosign", "--name", "audit.example/w1", "--key-file",
        str(tmp_path / "w.key"),
    )  # fmt: skip
    assert code == 0, err
    witness_key = err.split("witness key: ")[1].split()[0]
    note = tmp_path / "cp"
    note.write_text(out)
    key = str(accord.ledger_service.verifier)
    code, out, err = _run(
        capsys, "verify", "checkpoint", str(note), "--key", key, "--witness", witness_key
    )
    assert code == 0, err


def test_an_outside_witness_checks_consistency_cosigns_and_posts(
    published, accord, capsys, tmp_path, client, headers
):
    f = published
    code, cosigned, err = _run(
        capsys, "verify", "cosign", str(f["new"]), "--key", str(f["key"]),
        "--name", "audit.example/w2", "--key-file", str(tmp_path / "w2.key"),
        "--previous", str(f["old"]), "--proof", str(f["consistency"]),
    )  # fmt: skip
    assert code == 0, err
    witness_key = err.split("witness key: ")[1].split()[0]
    r = client.post(
        "/v1/ledger/cosignatures",
        json={"note": cosigned, "witness_key": witness_key},
        headers=headers["auditor"],
    )
    assert r.status_code == 200, r.text
    served = tmp_path / "served"
    served.write_text(client.get("/v1/ledger/checkpoint", headers=headers["auditor"]).text)
    code, _, err = _run(
        capsys,
        "verify",
        "checkpoint",
        str(served),
        "--key",
        str(f["key"]),
        "--witness",
        witness_key,
    )
    assert code == 0, err
    # a witness refuses a checkpoint that does not extend what it saw before
    code, _, err = _run(
        capsys, "verify", "cosign", str(f["new"]), "--key", str(f["key"]),
        "--name", "audit.example/w2", "--key-file", str(tmp_path / "w2.key"),
        "--previous", str(f["new"]), "--proof", str(f["consistency"]),
    )  # fmt: skip
    assert code == 2

"""The issue's "Done when", end to end through the CLI: the moderation scenario, a
checkpoint, the exported log; ``accord verify`` accepts the checkpoint, an inclusion
proof and the report, and rejects each once a single byte of the export is changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.cli.app import run


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def published(accord, scenario, capsys, tmp_path: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def save(name: str, *argv: str) -> str:
        code, out, err = _run(capsys, *argv)
        assert code == 0, err
        files[name] = tmp_path / name
        files[name].write_text(out)
        return out

    save("key", "ledger", "key")
    code, _, err = _run(
        capsys, "report", "transparency", "--from", "2026-03-15", "--to", "2026-03-15",
        "--out", str(tmp_path / "out"), "--issue",
    )  # fmt: skip
    assert code == 0, err
    files["report"] = tmp_path / "out" / "transparency-2026-03-15-2026-03-15.json"
    doc = json.loads(files["report"].read_text())
    files["checkpoint"] = tmp_path / "checkpoint"
    files["checkpoint"].write_text(doc["checkpoint"]["note"])
    code, _, err = _run(capsys, "ledger", "export", "--out", str(tmp_path / "export.jsonl"))
    assert code == 0, err
    files["export"] = tmp_path / "export.jsonl"
    # the appeal's reversal is the leaf the tampering below changes
    lines = files["export"].read_bytes().splitlines()
    index = next(i for i, line in enumerate(lines) if b'"outcome":"reversed"' in line)
    files["event"] = tmp_path / "event.json"
    files["event"].write_bytes(lines[index])
    save("inclusion", "ledger", "prove", "inclusion", str(index))
    files["index"] = tmp_path / "index"
    files["index"].write_text(str(index))
    return files


def _checks(f: dict[str, Path]) -> dict[str, list[str]]:
    key = str(f["key"])
    return {
        "checkpoint": [
            "verify", "segment", str(f["export"]), "--checkpoint", str(f["checkpoint"]),
            "--key", key,
        ],
        "inclusion": [
            "verify", "inclusion", str(f["event"]), "--index", f["index"].read_text(),
            "--proof", str(f["inclusion"]), "--checkpoint", str(f["checkpoint"]), "--key", key,
        ],
        "report": [
            "verify", "report", str(f["report"]), "--events", str(f["export"]),
            "--checkpoint", str(f["checkpoint"]), "--key", key,
        ],
    }  # fmt: skip


def _tamper(f: dict[str, Path]) -> None:
    """Change one byte of the export (and of the event file cut from it)."""
    for name in ("export", "event"):
        data = f[name].read_bytes()
        assert data.count(b'"outcome":"reversed"') == 1
        f[name].write_bytes(data.replace(b'"outcome":"reversed"', b'"outcome":"reverseD"'))


def test_verify_accepts_checkpoint_inclusion_and_report(published, capsys):
    f = published
    for name, argv in _checks(f).items():
        code, out, err = _run(capsys, *argv)
        assert code == 0, (name, out, err)
        assert out.startswith("OK"), (name, out)
    code, out, _ = _run(capsys, *_checks(f)["report"])
    assert "MISMATCH" not in out
    assert "OK all" in out
    assert "ok       complaints.reversals = 1" in out


@pytest.mark.parametrize("check", ["checkpoint", "inclusion", "report"])
def test_one_changed_byte_is_rejected(published, capsys, check):
    _tamper(published)
    code, out, err = _run(capsys, *_checks(published)[check])
    assert code != 0, (out, err)
    assert "root" in err or "does not" in err or "inclusion" in err, err


def test_with_the_root_check_skipped_the_figures_still_catch_it(published, capsys):
    _tamper(published)
    argv = ["verify", "report", str(published["report"]), "--events", str(published["export"])]
    code, out, err = _run(capsys, *argv, "--skip-root")
    assert code == 1, (out, err)
    assert "root NOT checked" in out
    assert "MISMATCH complaints.reversals: reported 1, recomputed 0" in out
    assert "MISMATCH automation.automated_decisions_reversed" in out


def test_a_changed_figure_in_the_report_is_caught(published, capsys):
    doc = json.loads(published["report"].read_text())
    for fig in doc["figures"]:
        if fig["name"] == "hash_matched_removals" and not fig["dimension"]:
            fig["value"] = 0
    published["report"].write_text(json.dumps(doc))
    code, out, _ = _run(capsys, *_checks(published)["report"])
    assert code == 1
    assert "MISMATCH christchurch.hash_matched_removals: reported 0, recomputed 1" in out


def test_root_check_needs_a_key(published, capsys):
    code, _, err = _run(
        capsys, "verify", "report", str(published["report"]), "--events", str(published["export"])
    )
    assert code == 2
    assert "verifier key" in err

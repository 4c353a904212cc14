"""The CLI over the same services: keys, banks, import/export, hash and match."""

from __future__ import annotations

import json

import typer
from typer.core import TyperGroup

from accord.cli.app import app, run


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_init_prints_the_first_admin_key_once(capsys):
    code, out, _ = cli(capsys, "init")
    assert code == 0
    assert out.strip().startswith("acc_")
    code, out, err = cli(capsys, "init")
    assert code == 0
    assert out == ""
    assert "admin key exists" in err


def test_keys_create_prints_only_the_key(capsys):
    code, out, _ = cli(capsys, "keys", "create", "--role", "curator")
    assert code == 0
    assert out.count("\n") == 1
    assert out.startswith("acc_")
    code, _, err = cli(capsys, "keys", "create", "--role", "overlord")
    assert code == 2
    assert "overlord" in err


def test_bank_import_export_round_trip(capsys, tmp_path):
    hashes = tmp_path / "list.txt"
    hashes.write_text("".join(f"pdq {i:064x}\n" for i in range(1, 1001)))
    assert cli(capsys, "bank", "create", "TVEC")[0] == 0
    code, _, err = cli(capsys, "bank", "import", "TVEC", str(hashes), "--label", "entity=X")
    assert code == 0, err
    assert "imported 1000" in err
    out_file = tmp_path / "export.jsonl"
    assert (
        cli(capsys, "bank", "export", "TVEC", "--format", "jsonl", "--out", str(out_file))[0] == 0
    )
    records = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(records) == 1000
    assert records[0]["labels"] == {"entity": ["X"]}
    assert records[0]["provenance"]["source"] == "import:pytx:list.txt"


def test_bad_import_is_named_and_stores_nothing(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(f"pdq {1:064x}\npdq nothex\n")
    cli(capsys, "bank", "create", "TVEC")
    code, _, err = cli(capsys, "bank", "import", "TVEC", str(bad))
    assert code == 2
    assert "pdq" in err
    code, out, _ = cli(capsys, "bank", "show", "TVEC")
    assert json.loads(out)["items"] == 0


def test_hash_add_and_match_files(capsys, tmp_path, make_image, reencode):
    original = tmp_path / "a.jpg"
    original.write_bytes(make_image(11))
    copy = tmp_path / "b.jpg"
    copy.write_bytes(reencode(original.read_bytes()))
    unrelated = tmp_path / "c.png"
    unrelated.write_bytes(make_image(12, fmt="PNG"))
    code, out, _ = cli(capsys, "hash", str(original))
    assert code == 0
    types = {json.loads(line)["signal_type"] for line in out.splitlines()}
    assert "pdq" in types
    cli(capsys, "bank", "create", "TVEC")
    code, out, err = cli(
        capsys, "bank", "add", "TVEC", str(original), "--label", "behaviour=attack"
    )
    assert code == 0, err
    code, out, _ = cli(capsys, "match", str(copy), str(unrelated))
    assert code == 1  # something matched
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["matched"] for line in lines] == [True, False]
    assert lines[0]["matches"][0]["labels"] == {"behaviour": ["attack"]}


def test_unknown_bank_is_exit_code_4(capsys):
    code, _, err = cli(capsys, "bank", "show", "NOPE")
    assert code == 4
    assert "NOPE" in err


def _commands(group: TyperGroup, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, TyperGroup):
            found.extend(_commands(command, f"{prefix}{name} "))
    return found


def test_every_command_has_help_and_is_in_the_readme():
    from pathlib import Path

    import accord.cli.commands  # noqa: F401 - registers the groups

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = []
    for name, command in _commands(root):
        assert (command.help or "").strip(), f"`accord {name}` has no help text"
        if f"accord {name}" not in readme:
            missing.append(name)
    assert not missing, f"commands not documented in the README: {missing}"


def test_index_snapshot_and_status_show_where_the_snapshot_stands(capsys, tmp_path):
    hashes = tmp_path / "list.txt"
    hashes.write_text("".join(f"pdq {i:064x}\n" for i in range(1, 51)))
    cli(capsys, "bank", "create", "TVEC")
    cli(capsys, "bank", "import", "TVEC", str(hashes))
    code, out, _ = cli(capsys, "index", "status")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert {"signal_type": "pdq", "size": 50, "built_to": 50} in lines
    assert lines[-1]["feed_seq"] is None  # no snapshot yet
    code, _, err = cli(capsys, "index", "snapshot")
    assert code == 0
    assert "snapshot of 50 PDQ hashes at feed position 50" in err
    code, out, _ = cli(capsys, "index", "status")
    assert json.loads(out.splitlines()[-1])["feed_seq"] == 50

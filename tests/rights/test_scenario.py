"""The issue's "done when": objections by API, GPC and TDMRep; a gate none of their items pass;
a later objection shows up in ``affected``; DuckDB and Spark agree on rows and manifest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.rights.conftest import make_rows, read_output

AI = "train_ai_system"
SUBJECTS = ["user-account", "gpc-person", "tdm-person", "p1", "p2", "p3", "p4"]
OBJECTORS = {"user-account", "gpc-person", "tdm-person"}


@pytest.fixture
def scenario(accord, client, headers, clock, write_corpus):
    """Three objections through three doors, then a corpus."""
    r = client.post("/v1/rights/object", json={"purpose": AI}, headers=headers["user"])
    assert r.status_code == 201
    r = client.post(
        "/v1/rights/signals",
        json={"subject": "gpc-person"},
        headers={**headers["admin"], "Sec-GPC": "1"},
    )
    assert r.status_code == 201
    assert r.json()["recorded"][0]["action"] == "gpc"
    r = client.post(
        "/v1/rights/signals",
        json={
            "subject": "tdm-person",
            "tdmrep": {
                "document": [
                    {"location": "/u/tdm-person/*", "tdm-reservation": 1},
                    {"location": "/", "tdm-reservation": 0},
                ],
                "path": "/u/tdm-person/posts",
            },
        },
        headers=headers["admin"],
    )
    assert r.status_code == 201
    assert r.json()["recorded"][0]["action"] == "tdmrep"
    clock.advance(timedelta(minutes=5))
    rows = make_rows(SUBJECTS, per_subject=9)
    return write_corpus(rows), rows


def test_done_when_duckdb(accord, clock, scenario, tmp_path):
    corpus, rows = scenario
    manifest = accord.rights.gate(corpus, tmp_path / "gated")
    out = read_output(tmp_path / "gated")
    assert not [r for r in out if r["subject_id"] in OBJECTORS]
    expected = sorted(r["item_id"] for r in rows if r["subject_id"] not in OBJECTORS)
    assert [r["item_id"] for r in out] == expected
    assert manifest["input_count"] == len(rows)
    assert manifest["output_count"] == len(expected)
    assert manifest["excluded_by_reason"] == {"objection": 9, "signal": 18}

    assert accord.rights.affected("2026-01-01") == []
    clock.advance(timedelta(hours=1))
    later = accord.rights.object("p2", AI, "photos")
    clock.advance(timedelta(hours=1))
    accord.rights.object("nobody-in-corpus", AI)
    found = accord.rights.affected("2026-03-15T12:30:00Z")
    assert [m.manifest_id for m in found] == [manifest["manifest_id"]]
    assert found[0].request_ids == [later.request_id]
    assert accord.rights.affected("2026-03-16") == []


@pytest.mark.slow
def test_done_when_spark_gives_the_same_rows_and_manifest(accord, scenario, tmp_path, spark):
    corpus, _rows = scenario
    duck = accord.rights.gate(corpus, tmp_path / "duck")
    sp = accord.rights.gate(corpus, tmp_path / "spark", engine="spark")
    assert read_output(tmp_path / "duck") == read_output(tmp_path / "spark")
    assert (tmp_path / "duck" / "manifest.json").read_bytes() == (
        tmp_path / "spark" / "manifest.json"
    ).read_bytes()
    assert duck["merkle"] == sp["merkle"]


@pytest.mark.slow
def test_spark_on_json_lines_and_its_errors(accord, write_corpus, tmp_path, spark):
    from accord.errors import InvalidInput

    rows = make_rows(["ann", "ben"], per_subject=6)
    accord.rights.object("ann", AI, "posts")
    path = write_corpus(rows, "c.jsonl")
    duck = accord.rights.gate(path, tmp_path / "duck")
    sp = accord.rights.gate(path, tmp_path / "spark", engine="spark")
    assert {k: v for k, v in duck.items() if k not in ("manifest_id", "ledger_seq", "engine")} == {
        k: v for k, v in sp.items() if k not in ("manifest_id", "ledger_seq", "engine")
    }
    rows[0]["category"] = "dreams"
    with pytest.raises(InvalidInput, match="unknown category dreams"):
        accord.rights.gate(write_corpus(rows, "bad.jsonl"), tmp_path / "bad", engine="spark")
    (tmp_path / "corrupt.jsonl").write_text('{"item_id": "a", "subj\n')
    with pytest.raises(InvalidInput):
        accord.rights.gate(tmp_path / "corrupt.jsonl", tmp_path / "c", engine="spark")
    assert not (tmp_path / "c").exists()
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_spark_and_duckdb_agree_over_several_blocks(accord, clock, write_corpus, tmp_path, spark):
    rows = make_rows([f"s{i}" for i in range(200)], per_subject=5)  # ids of two widths
    for i in range(0, 200, 9):
        accord.rights.object(f"s{i}", AI)
    accord.rights.object("s1", AI, "posts")
    clock.advance(timedelta(minutes=1))
    corpus = write_corpus(rows)
    duck = accord.rights.gate(corpus, tmp_path / "duck")
    spark_run = accord.rights.gate(corpus, tmp_path / "spark", engine="spark")
    assert duck["merkle"]["tree_size"] == 4
    assert spark_run["merkle"] == duck["merkle"]
    assert read_output(tmp_path / "duck") == read_output(tmp_path / "spark")
    assert (tmp_path / "duck" / "manifest.json").read_bytes() == (
        tmp_path / "spark" / "manifest.json"
    ).read_bytes()

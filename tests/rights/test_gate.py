"""The gate on DuckDB: the right rows, a manifest that proves it, clear errors, atomic output."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from accord.errors import Conflict, InvalidInput
from accord.jobs import gate as gate_module
from accord.jobs.merkle import BLOCK_SIZE, absence_proof, reference_block_root, verify_absence
from tests.rights.conftest import make_rows, read_output

AI = "train_ai_system"


@pytest.fixture
def corpus(write_corpus):
    return write_corpus(make_rows(["ann", "ben", "cat", "dan"]))


@pytest.mark.parametrize("name", ["corpus.parquet", "corpus.jsonl"])
def test_gate_keeps_allowed_items_with_their_columns(accord, clock, write_corpus, tmp_path, name):
    path = write_corpus(make_rows(["ann", "ben", "cat"]), name)
    accord.rights.object("ann", AI)
    accord.rights.object("ben", AI, "photos")
    clock.advance(timedelta(minutes=1))
    manifest = accord.rights.gate(path, tmp_path / "out")
    rows = read_output(tmp_path / "out")
    assert {r["subject_id"] for r in rows} == {"ben", "cat"}
    assert not any(r["subject_id"] == "ben" and r["category"] == "photos" for r in rows)
    assert len(rows) == 11
    assert rows[0]["text"] == "ben says 0"
    assert rows[0]["likes"] == 100
    assert manifest["input_count"] == 18
    assert manifest["output_count"] == 11
    assert manifest["excluded_by_reason"] == {"objection": 7}
    assert manifest["input_by_category"]["posts"] == 3
    assert manifest["registry"]["last_rights_seq"] == 1
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["merkle"]["root"] == manifest["merkle"]["root"]
    ids = sorted(r["item_id"].encode() for r in rows)
    assert manifest["merkle"]["root"] == reference_block_root(ids).hex()
    assert manifest["merkle"]["items"] == 11
    assert manifest["merkle"]["block_size"] == BLOCK_SIZE
    assert manifest["merkle"]["tree_size"] == 1  # one block of 11 ids
    # a proof that one of ann's items is absent, checked against the manifest's root
    proof = absence_proof(ids, b"item-00-03")
    assert verify_absence(proof, bytes.fromhex(manifest["merkle"]["root"]), 1)
    assert accord.ledger.entries(manifest["ledger_seq"], manifest["ledger_seq"] + 1)[0].kind == (
        "rights.gate_run"
    )


def test_objection_takes_effect_for_exports_after_its_time(accord, clock, corpus, tmp_path):
    before = clock.now()
    clock.advance(timedelta(hours=1))
    accord.rights.object("dan", AI)
    early = accord.rights.gate(corpus, tmp_path / "early", as_of=before)
    late = accord.rights.gate(corpus, tmp_path / "late")
    assert early["output_count"] == 24
    assert late["output_count"] == 18
    assert early["merkle"]["root"] != late["merkle"]["root"]


def test_consent_purpose_lets_through_only_opted_in_items(accord, corpus, tmp_path):
    accord.rights.consent("cat", "personalised_ads", "posts")
    m = accord.rights.gate(corpus, tmp_path / "out", purpose="personalised_ads")
    rows = read_output(tmp_path / "out")
    assert [(r["subject_id"], r["category"]) for r in rows] == [("cat", "posts")]
    assert m["excluded_by_reason"] == {"no_consent": 23}


def test_signals_exclude_with_reason_signal(accord, corpus, tmp_path):
    from accord.rights.signals import parse_x_robots_tag

    accord.rights.record_signal("ann", parse_x_robots_tag("noimageai"))
    m = accord.rights.gate(corpus, tmp_path / "out")
    assert m["excluded_by_reason"] == {"signal": 2}


def test_missing_columns(accord, write_corpus, tmp_path):
    path = write_corpus([{"item_id": "x", "category": "posts"}])
    with pytest.raises(InvalidInput, match="lacks column\\(s\\) subject_id"):
        accord.rights.gate(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["c.jsonl", "c.parquet"])
def test_unknown_categories(accord, write_corpus, tmp_path, name):
    # JSON Lines: found before the write; Parquet with statistics: counted beside the
    # Merkle steps, and the written rows are never published
    rows = make_rows(["ann"])
    rows[0]["category"] = "dreams"
    path = write_corpus(rows, name)
    with pytest.raises(InvalidInput, match="unknown category dreams"):
        accord.rights.gate(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


@pytest.mark.parametrize("form", ["parquet", "parquet without statistics", "jsonl"])
def test_missing_ids(accord, write_corpus, tmp_path, form):
    # Parquet: counted from the files' column statistics; otherwise by reading the columns
    rows = make_rows(["ann", "ben"])
    rows[3]["item_id"] = None
    rows[8]["subject_id"] = None
    if form == "parquet without statistics":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "c.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path, write_statistics=False)
    else:
        path = write_corpus(rows, f"c.{form}")
    with pytest.raises(InvalidInput, match="has 2 row\\(s\\) without item_id or subject_id"):
        accord.rights.gate(path, tmp_path / "out")


def test_many_blocks_and_a_proof_for_an_excluded_item(accord, clock, write_corpus, tmp_path):
    from accord.jobs.merkle import AbsenceProof

    subjects = [f"s{i}" for i in range(160)]  # item ids of two widths: item-99-00, item-100-00
    rows = make_rows(subjects, per_subject=4)
    for s in subjects[::7]:
        accord.rights.object(s, AI)
    clock.advance(timedelta(minutes=1))
    manifest = accord.rights.gate(write_corpus(rows), tmp_path / "out")
    kept = sorted(r["item_id"].encode() for r in read_output(tmp_path / "out"))
    assert manifest["merkle"]["root"] == reference_block_root(kept).hex()
    assert manifest["merkle"]["tree_size"] == -(-len(kept) // BLOCK_SIZE) == 3
    excluded = "item-140-02"  # s140 objected
    assert excluded.encode() not in kept
    proof = accord.rights.prove_absence(tmp_path / "out", excluded)
    assert 1 <= len(proof["blocks"]) <= 2
    root, size = bytes.fromhex(manifest["merkle"]["root"]), manifest["merkle"]["tree_size"]
    assert verify_absence(AbsenceProof.from_dict(proof), root, size)


def test_above_the_in_memory_limit_duckdb_sorts_the_ids(accord, corpus, tmp_path, monkeypatch):
    from accord.jobs.engines import duckdb_engine

    in_memory = accord.rights.gate(corpus, tmp_path / "a")
    monkeypatch.setattr(duckdb_engine, "IN_MEMORY_SORT_BYTES", 0)
    by_duckdb = accord.rights.gate(corpus, tmp_path / "b")
    assert in_memory["merkle"] == by_duckdb["merkle"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("c.parquet", b"PAR1 this is not parquet"), ("c.jsonl", b'{"item_id": "a", "subj\n')],
)
def test_corrupt_files(accord, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match="could not read corpus"):
        accord.rights.gate(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unsupported_or_missing_corpus(accord, tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        accord.rights.gate(tmp_path / "nope.parquet", tmp_path / "out")
    (tmp_path / "c.csv").write_text("a,b\n")
    with pytest.raises(InvalidInput, match="neither Parquet"):
        accord.rights.gate(tmp_path / "c.csv", tmp_path / "out")


def test_existing_output_is_never_overwritten(accord, corpus, tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(Conflict, match="exists already"):
        accord.rights.gate(corpus, tmp_path / "out")


def test_failure_mid_write_leaves_no_partial_output(accord, corpus, tmp_path, monkeypatch):
    from accord.jobs.engines import duckdb_engine

    real = duckdb_engine.DuckDBEngine.run

    def crash_after_writing(self, spec, work):
        real(self, spec, work)
        assert any((work / "data").iterdir())  # the rows were written...
        raise OSError("disk full")  # ...and then the run dies

    monkeypatch.setattr(duckdb_engine.DuckDBEngine, "run", crash_after_writing)
    with pytest.raises(OSError, match="disk full"):
        accord.rights.gate(corpus, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.parquet", "home"]


def test_interruption_just_before_publishing_leaves_nothing(corpus, tmp_path, accord):
    decisions = tmp_path / "d.parquet"
    accord.rights.export_decisions(AI, accord.clock.now(), decisions)
    spec = gate_module.GateSpec(
        corpus=corpus,
        out=tmp_path / "out",
        decisions=decisions,
        purpose=AI,
        as_of="x",
        default_allowed=True,
        default_reason="legitimate_interest",
    )

    def interrupt(work):
        assert (work / "manifest.json").exists()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gate_module.run_gate(spec, before_publish=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.parquet", "d.parquet", "home"]


def test_unknown_engine(accord, corpus, tmp_path):
    with pytest.raises(InvalidInput, match="unknown engine"):
        accord.rights.gate(corpus, tmp_path / "out", engine="excel")


def test_as_of_in_the_future_is_refused(accord, corpus, tmp_path):
    with pytest.raises(InvalidInput, match="in the future"):
        accord.rights.gate(corpus, tmp_path / "out", as_of="2099-01-01")


def _spec(tmp_path, default_allowed=True):
    reason = "legitimate_interest" if default_allowed else "no_consent"
    return gate_module.GateSpec(
        corpus=tmp_path / "c.parquet",
        out=tmp_path / "out",
        decisions=tmp_path / "d.parquet",
        purpose=AI,
        as_of="x",
        default_allowed=default_allowed,
        default_reason=reason,
    )


def test_only_the_groups_the_totals_cannot_give_are_counted(tmp_path):
    spec = _spec(tmp_path)
    objection, signal, consent = (False, "objection"), (False, "signal"), (True, "consent")
    # one kind of denial: the rows it matched are the rows not written
    assert gate_module.counted_groups(spec, {objection: 600}) == []
    assert gate_module.derive_counts(spec, {objection: 600}, {}, 100, 70) == [
        (False, "objection", 30)
    ]
    # two kinds: the one with fewer decisions is counted, the other follows
    groups = {objection: 600, signal: 60, consent: 6}
    assert gate_module.counted_groups(spec, groups) == [signal, consent]
    counted = {signal: 4, consent: 2}
    assert gate_module.derive_counts(spec, groups, counted, 100, 70) == [
        (False, "objection", 26),
        (False, "signal", 4),
        (True, "consent", 2),
    ]
    # under consent the denials that differ from the default are all counted; the
    # opt-ins (the other side, one group) follow from the rows written
    consent_spec = _spec(tmp_path, default_allowed=False)
    groups = {consent: 12, objection: 6}
    assert gate_module.counted_groups(consent_spec, groups) == [objection]
    assert gate_module.derive_counts(consent_spec, groups, {objection: 3}, 100, 9) == [
        (False, "objection", 3),
        (True, "consent", 9),
    ]


@pytest.mark.parametrize(
    ("counted", "total", "written"),
    [
        ({(False, "signal"): 40, (True, "consent"): 0}, 100, 70),  # signal rows > excluded
        ({(False, "signal"): 10, (True, "consent"): 80}, 100, 70),  # opted-in rows > written
    ],
)
def test_counts_that_do_not_add_up_are_refused(tmp_path, counted, total, written):
    spec = _spec(tmp_path)
    groups = {(False, "objection"): 600, (False, "signal"): 60, (True, "consent"): 6}
    with pytest.raises(InvalidInput, match="do not add up"):
        gate_module.derive_counts(spec, groups, counted, total, written)


def test_consent_basis_with_an_objection_counts_both_reasons(accord, clock, corpus, tmp_path):
    accord.rights.consent("cat", "personalised_ads")
    accord.rights.consent("dan", "personalised_ads", "posts")
    accord.rights.object("ann", "personalised_ads", "posts")
    clock.advance(timedelta(minutes=1))
    m = accord.rights.gate(corpus, tmp_path / "out", purpose="personalised_ads")
    rows = read_output(tmp_path / "out")
    assert sorted({(r["subject_id"], r["category"]) for r in rows if r["subject_id"] == "dan"}) == [
        ("dan", "posts")
    ]
    assert len(rows) == m["output_count"] == 7
    assert m["excluded_by_reason"] == {"no_consent": 16, "objection": 1}


def test_a_corpus_changed_during_the_run_is_refused(accord, corpus, tmp_path, monkeypatch):
    import os

    from accord.jobs.engines import duckdb_engine

    real = duckdb_engine.DuckDBEngine._count_groups

    def count_then_touch(cursor, groups, *rest):
        result = real(cursor, groups, *rest)
        st = corpus.stat()
        os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # rewritten meanwhile
        return result

    monkeypatch.setattr(duckdb_engine.DuckDBEngine, "_count_groups", staticmethod(count_then_touch))
    with pytest.raises(InvalidInput, match="changed while the gate read it"):
        accord.rights.gate(corpus, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_ids_that_are_not_text_are_hashed_as_their_text(accord, write_corpus, tmp_path):
    rows = make_rows(["ann", "ben"])
    for number, row in enumerate(rows):
        row["item_id"] = 1000 - number * 7  # integers: read back through DuckDB's cast
    m = accord.rights.gate(write_corpus(rows), tmp_path / "out")
    ids = sorted(str(r["item_id"]).encode() for r in rows)
    assert m["merkle"]["root"] == reference_block_root(ids).hex()


def _record_counts(monkeypatch):
    """The groups that the DuckDB engine counts with queries of their own, call by call."""
    from accord.jobs.engines import duckdb_engine

    asked: list[list[tuple[bool, str]]] = []
    real = duckdb_engine.DuckDBEngine._count_groups

    def recording(cursor, groups, *rest):
        asked.append(list(groups))
        return real(cursor, groups, *rest)

    monkeypatch.setattr(duckdb_engine.DuckDBEngine, "_count_groups", staticmethod(recording))
    return asked


def _three_reasons(accord, clock):
    from accord.rights.signals import parse_x_robots_tag

    accord.rights.object("ann", AI)  # 6 rows
    accord.rights.record_signal("ben", parse_x_robots_tag("noimageai"))  # photos, videos: 2 rows
    accord.rights.consent("cat", AI, "posts")  # an explicit opt-in: still allowed
    clock.advance(timedelta(minutes=1))


@pytest.mark.parametrize("name", ["corpus.parquet", "corpus.jsonl"])
def test_denials_of_several_reasons_are_counted_by_the_writes_own_joins(
    accord, clock, write_corpus, tmp_path, monkeypatch, name
):
    """Under legitimate interest the write is one anti join per reason to deny; the rows
    each removed (from DuckDB's profile of the write) are that reason's count, so no
    denial group is counted by a query of its own (only the explicit opt-ins are)."""
    _three_reasons(accord, clock)
    asked = _record_counts(monkeypatch)
    m = accord.rights.gate(
        write_corpus(make_rows(["ann", "ben", "cat", "dan"]), name), tmp_path / "out"
    )
    assert m["excluded_by_reason"] == {"objection": 6, "signal": 2}
    assert m["output_count"] == 16
    assert asked == [[(True, "consent")]]
    assert {r["subject_id"] for r in read_output(tmp_path / "out")} == {"ben", "cat", "dan"}


def test_when_the_profile_does_not_show_a_join_its_group_is_counted_by_a_query(
    accord, clock, corpus, tmp_path, monkeypatch
):
    from accord.jobs.engines import duckdb_engine

    _three_reasons(accord, clock)
    asked = _record_counts(monkeypatch)
    monkeypatch.setattr(duckdb_engine, "removed_by_anti_joins", lambda profile, tables: {})
    m = accord.rights.gate(corpus, tmp_path / "out")
    assert m["excluded_by_reason"] == {"objection": 6, "signal": 2}
    assert asked == [[(False, "signal"), (True, "consent")]]


def test_a_decision_list_that_decides_a_pair_twice_is_refused(write_corpus, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from accord.jobs.gate import run_gate

    corpus = write_corpus(make_rows(["ann", "ben"]), "c.parquet")
    decisions = tmp_path / "d.parquet"
    pq.write_table(
        pa.table(
            {
                "subject": ["ann", "ann", "ben"],
                "category": ["posts", "posts", "posts"],
                "allowed": [False, False, False],
                "reason": ["objection", "signal", "signal"],
            }
        ),
        decisions,
    )
    spec = _spec(tmp_path)  # c.parquet and d.parquet in tmp_path
    assert (spec.corpus, spec.decisions) == (corpus, decisions)
    with pytest.raises(InvalidInput, match=r"decides 1 \(subject, category\) pair"):
        run_gate(spec)
    assert not (tmp_path / "out").exists()


def test_rows_removed_by_anti_joins_are_read_from_the_profile():
    from accord.jobs.engines.duckdb_engine import removed_by_anti_joins

    def scan(table, rows):
        return {
            "type": "TABLE_SCAN",
            "extra_info": {"Table": f"memory.main.{table}"},
            "intermediate_rows": rows,
            "children": [],
        }

    def anti(probe, table, out):
        return {
            "type": "HASH_JOIN",
            "extra_info": {"Join Type": "ANTI"},
            "intermediate_rows": out,
            "children": [probe, scan(table, 5)],
        }

    corpus = {"type": "TABLE_SCAN", "extra_info": {}, "intermediate_rows": 100, "children": []}
    tables = {"denied_0": (False, "objection"), "denied_1": (False, "signal")}
    plan = {"operator": [anti(anti(corpus, "denied_0", 90), "denied_1", 87)]}
    assert removed_by_anti_joins(plan, tables) == {(False, "objection"): 10, (False, "signal"): 3}
    # the names of older DuckDB profiles
    old = {
        "children": [
            {
                "operator_type": "HASH_JOIN",
                "extra_info": {"Join Type": "ANTI"},
                "operator_cardinality": 97,
                "children": [{"operator_cardinality": 100}, scan("denied_1", 5)],
            }
        ]
    }
    assert removed_by_anti_joins(old, tables) == {(False, "signal"): 3}
    # a table probed by two joins, or a join whose rows are missing, counts for nothing
    twice = {"operator": [anti(anti(corpus, "denied_1", 90), "denied_1", 87)]}
    assert removed_by_anti_joins(twice, tables) == {}
    blank = {
        "operator": [
            {
                "type": "HASH_JOIN",
                "extra_info": {"Join Type": "ANTI"},
                "children": [corpus, scan("denied_0", 5)],
            }
        ]
    }
    assert removed_by_anti_joins(blank, tables) == {}


@pytest.mark.parametrize(("bits", "keyed"), [(20, True), (128, False)])
def test_written_ids_are_keyed_as_they_are_read_or_sorted_whole(
    accord, write_corpus, tmp_path, monkeypatch, bits, keyed
):
    """From KEYED_FROM ids on, the written ids are read row group by row group and
    keyed (zero-padded counters) or, when they cannot be (hex of 128 bits), read whole
    and sorted: the root is the same as by the definition either way."""
    import random

    from accord.jobs.engines import duckdb_engine

    monkeypatch.setattr(duckdb_engine, "KEYED_FROM", 0)
    results = []
    real = duckdb_engine.keyed_ids
    monkeypatch.setattr(
        duckdb_engine, "keyed_ids", lambda *a: results.append(real(*a)) or results[-1]
    )
    rows = make_rows([f"s{i}" for i in range(40)], per_subject=30)
    rng = random.Random(bits)
    for number, row in enumerate(rows):  # a counter, or 128 random bits in hex
        row["item_id"] = f"item-{number:07d}" if bits < 64 else f"{rng.getrandbits(bits):032x}"
    accord.rights.object("s3", AI)
    m = accord.rights.gate(write_corpus(rows), tmp_path / "out")
    assert [r is not None for r in results] == [keyed]
    kept = sorted(r["item_id"].encode() for r in rows if r["subject_id"] != "s3")
    assert m["merkle"]["root"] == reference_block_root(kept).hex()
    assert m["output_count"] == len(kept) == 1170


@pytest.mark.parametrize("files", [1, 3])
def test_proofs_from_keyed_ids_equal_proofs_from_ids_read_whole(
    accord, clock, write_corpus, tmp_path, monkeypatch, files
):
    """prove-absence reads the output's ids keyed row group by row group (any number of
    files, as Spark writes them) and gives the very proof that reading them whole gives:
    for an id inside a block, between blocks, before and after every id."""
    import pyarrow.parquet as pq

    from accord.jobs.engines import duckdb_engine
    from accord.jobs.merkle import AbsenceProof

    rows = make_rows([f"s{i:03d}" for i in range(120)], per_subject=6)
    for number, row in enumerate(rows):
        row["item_id"] = f"item-{number * 3:06d}"  # one width, gaps between ids
    accord.rights.object("s050", AI)
    clock.advance(timedelta(minutes=1))
    manifest = accord.rights.gate(write_corpus(rows), tmp_path / "out")
    data = tmp_path / "out" / "data"
    if files > 1:  # the same rows in several files
        table = pq.read_table(data / "part-0.parquet")
        (data / "part-0.parquet").unlink()
        cut = [0, 100, 400, table.num_rows]
        for i in range(files):
            pq.write_table(table.slice(cut[i], cut[i + 1] - cut[i]), data / f"part-{i}.parquet")
    root, size = bytes.fromhex(manifest["merkle"]["root"]), manifest["merkle"]["tree_size"]
    keyed = []
    real = duckdb_engine.keyed_ids
    monkeypatch.setattr(duckdb_engine, "KEYED_FROM", 0)
    monkeypatch.setattr(duckdb_engine, "keyed_ids", lambda *a: keyed.append(1) or real(*a))
    asks = ["item-000001", "item-000769", f"item-{50 * 6 * 3:06d}", "item-999999", "a", "item-0"]
    proofs = [accord.rights.prove_absence(tmp_path / "out", item) for item in asks]
    assert len(keyed) == len(asks)
    for proof in proofs:
        assert verify_absence(AbsenceProof.from_dict(proof), root, size)
    monkeypatch.setattr(duckdb_engine, "keyed_ids", lambda *a: None)  # read whole instead
    assert [accord.rights.prove_absence(tmp_path / "out", item) for item in asks] == proofs
    with pytest.raises(Conflict, match="is in the output"):
        accord.rights.prove_absence(tmp_path / "out", "item-000003")


def test_a_duckdb_without_query_profiles_counts_every_group_by_a_query(
    accord, clock, corpus, tmp_path, monkeypatch
):
    from accord.jobs.engines import duckdb_engine

    _three_reasons(accord, clock)
    asked = _record_counts(monkeypatch)
    assert duckdb_engine._profile(object()) is None  # a connection that has no profiles
    monkeypatch.setattr(duckdb_engine, "_profile", lambda con: None)
    m = accord.rights.gate(corpus, tmp_path / "out")
    assert m["excluded_by_reason"] == {"objection": 6, "signal": 2}
    assert asked == [[(False, "signal"), (True, "consent")]]


def test_the_id_sequences_a_proof_reads_index_and_slice_alike():
    import pyarrow as pa

    from accord.jobs.idsort import KeyedIds
    from accord.rights.service import _ArrowIds, _KeyedIds

    ids = [f"item-{i:04d}".encode() for i in range(0, 300, 7)]
    arrow = _ArrowIds(pa.array([x.decode() for x in ids]))
    chunk = pa.array(ids, pa.binary())
    keyed = _KeyedIds(KeyedIds.from_chunks(lambda i: chunk, [len(ids)]))
    for seq in (arrow, keyed):
        assert len(seq) == len(ids)
        assert [seq[i] for i in (0, 5, -1, -len(ids))] == [ids[0], ids[5], ids[-1], ids[0]]
        assert list(seq[3:9]) == ids[3:9]
        assert list(seq[9:3]) == []
        assert list(seq[::-5]) == ids[::-5]
        with pytest.raises(IndexError):
            seq[len(ids)]

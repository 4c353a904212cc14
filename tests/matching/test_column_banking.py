"""Bulk banking by columns: the column body form, ``BankService.add_column``, the
``json_each`` inserts on SQLite, the followers' tuple reads, and the index's radix merge."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from accord.errors import InvalidInput, InvalidSignal
from accord.matching.matcher import Matcher
from accord.matching.pdq_index import PdqIndex, _bit_positions, _chunk_keys
from accord.matching.service import ContentInput, _batch_digest, _column_digest
from accord.matching.tables import bank_content, bank_signals, signal_changes
from accord.store.bulk import fetch_tuples, insert_columns


def _pdq(i: int) -> str:
    return f"{random.Random(i).getrandbits(256):064x}"


def _tables(accord):
    with accord.db.read() as conn:
        contents = conn.execute(select(bank_content).order_by(bank_content.c.id)).all()
        signals = conn.execute(select(bank_signals).order_by(bank_signals.c.id)).all()
        feed = conn.execute(select(signal_changes).order_by(signal_changes.c.seq)).all()
    return contents, signals, feed


def test_add_column_writes_what_add_many_of_its_items_would(store):
    banks = store.banks
    banks.create_bank("TVEC", actor="t")
    values = [_pdq(i) for i in range(300)]
    upper = [v.upper() if i % 7 == 0 else v for i, v in enumerate(values)]
    ids = banks.add_column(
        "TVEC",
        "pdq",
        upper,
        external_ids=[f"e{i}" if i % 2 else None for i in range(300)],
        source="GIFCT",
        actor="t",
    )
    assert list(ids) == list(range(ids[0], ids[0] + 300))
    contents, signals, feed = _tables(store)
    assert [c.id for c in contents] == list(ids)
    assert all(
        (c.labels, c.meta, c.note, c.source, c.added_by, c.enabled)
        == ({}, {}, None, "GIFCT", "t", True)
        for c in contents
    )
    assert [c.external_id for c in contents[:3]] == [None, "e1", None]
    assert [(s.content_id, s.signal_type, s.value, s.quality) for s in signals] == [
        (cid, "pdq", v, None) for cid, v in zip(ids, values, strict=True)
    ]
    assert [(f.signal_id, f.value, f.content_id, f.op, f.signal_type) for f in feed] == [
        (s.id, s.value, s.content_id, "add", "pdq") for s in signals
    ]
    event = store.ledger.entries(0, 100)[-1].data
    assert event["kind"] == "bank.imported"
    assert event["data"]["count"] == 300
    assert event["data"]["signals_sha256"] == _batch_digest(
        [ContentInput(signals={"pdq": v}) for v in values]
    )
    store.matcher.ensure_loaded()
    store.matcher.catch_up()
    found = store.matcher.lookup("pdq", values[17]).matches
    assert [m.content_id for m in found] == [ids[17]]


def test_one_bad_value_refuses_the_batch_naming_it(store):
    store.banks.create_bank("TVEC", actor="t")
    values = [_pdq(i) for i in range(50)]
    values[31] = "xyz"
    with pytest.raises(InvalidSignal, match=r"item 31 \(counting from 0\).*'xyz'"):
        store.banks.add_column("TVEC", "pdq", values, source="s", actor="t")
    with pytest.raises(InvalidSignal, match="item 31"):
        store.banks.add_many(
            "TVEC", [ContentInput(signals={"pdq": v}) for v in values], source="s", actor="t"
        )
    mixed = [ContentInput(signals={"md5": "0" * 32, "pdq": v}) for v in values]
    with pytest.raises(InvalidSignal, match="item 31"):
        store.banks.add_many("TVEC", mixed, source="s", actor="t")
    assert _tables(store) == ([], [], [])


def test_add_column_checks_external_ids(accord):
    accord.banks.create_bank("TVEC", actor="t")
    with pytest.raises(InvalidInput, match="2 external ids for 3 values"):
        accord.banks.add_column(
            "TVEC", "pdq", [_pdq(i) for i in range(3)], external_ids=["a", "b"], source="s",
            actor="t",
        )  # fmt: skip
    assert accord.banks.add_column("TVEC", "pdq", [], source="s", actor="t") == []


def test_disabled_column_writes_no_feed(accord):
    accord.banks.create_bank("TVEC", actor="t")
    accord.banks.add_column(
        "TVEC", "pdq", [_pdq(i) for i in range(40)], source="s", actor="t", enabled=False
    )
    contents, signals, feed = _tables(accord)
    assert (len(contents), len(signals), feed) == (40, 40, [])
    assert not any(c.enabled for c in contents)


def test_a_follower_applies_adds_and_removes_in_feed_order(store):
    """Adds of an import, a removal, and more adds, caught up in one read."""
    banks = store.banks
    banks.create_bank("TVEC", actor="t")
    follower = Matcher(store.db, store.signals, poll_seconds=3600)
    follower.ensure_loaded()
    first = banks.add_column("TVEC", "pdq", [_pdq(i) for i in range(100)], source="s", actor="t")
    banks.remove_content("TVEC", first[5], actor="t")
    second = banks.add_many(
        "TVEC",
        [ContentInput(signals={"pdq": _pdq(1000 + i), "md5": f"{i:032x}"}) for i in range(50)],
        source="s",
        actor="t",
    )
    assert follower.catch_up() == 100 + 1 + 100
    assert follower.lookup("pdq", _pdq(5)).matches == []
    assert [m.content_id for m in follower.lookup("pdq", _pdq(6)).matches] == [first[6]]
    assert [m.content_id for m in follower.lookup("md5", f"{7:032x}").matches] == [second[7]]
    assert follower.status()["pdq"].size == 149


# -- the store: json_each inserts and tuple reads --------------------------------------

_TEXT = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",)),  # no lone surrogates
        max_size=20,
    ),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_TEXT, min_size=0, max_size=80), st.integers(1, 10_000))
def test_insert_columns_stores_any_text_exactly(accord, values, start):
    """Ranges and one list of text (NUL, quotes, backslashes, any script) come back as given,
    whichever path (json_each, executemany, plain INSERT) the batch takes."""
    with accord.db.write() as conn:
        conn.execute(delete(signal_changes))
        insert_columns(
            conn,
            signal_changes,
            {
                "seq": range(start, start + len(values)),
                "signal_id": range(start * 2, start * 2 + len(values)),
                "value": values,
            },
            {"op": "add", "signal_type": "text", "bank_id": 1, "content_id": 7},
        )
    with accord.db.read() as conn:
        rows = conn.execute(select(signal_changes).order_by(signal_changes.c.seq)).all()
    assert [(r.seq, r.signal_id, r.value, r.op, r.content_id) for r in rows] == [
        (start + i, start * 2 + i, v, "add", 7) for i, v in enumerate(values)
    ]


def test_fetch_tuples_equals_the_rows_of_the_query(store):
    store.banks.create_bank("TVEC", actor="t")
    store.banks.add_column("TVEC", "pdq", [_pdq(i) for i in range(60)], source="s", actor="t")
    feed = signal_changes.c
    query = (
        select(feed.signal_id, feed.signal_type, feed.value, feed.seq)
        .where(feed.seq > 10)
        .order_by(feed.seq)
        .limit(20)
    )
    with store.db.read() as conn:
        expected = [tuple(r) for r in conn.execute(query)]
        got = fetch_tuples(conn, query)
    assert got == expected
    assert len(got) == 20
    assert all(type(r) is tuple for r in got)


# -- pure parts -------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_appended_segments_equal_a_stable_sort_of_all_keys(sizes, seed):
    """Imports appended batch by batch (some hashes repeated, so buckets are shared and
    others empty) leave each chunk's table as a counting sort of all rows would."""
    rng = np.random.default_rng(seed)
    index = PdqIndex(31)
    start = 1
    for size in sizes:
        hashes = rng.integers(0, 256, size=(size * 1000, 32), dtype=np.uint8)
        hashes[: size * 300] = hashes[0]
        index.add_arrays(np.arange(start, start + len(hashes)), hashes)
        start += len(hashes)
    segment = index._recent
    positions, _ = _bit_positions(segment.layout, segment.bit_order)
    for c in range(segment.layout.chunks):
        keys = _chunk_keys(segment.words, positions, c)
        assert (segment.perm[c] == np.argsort(keys, kind="stable")).all()
        counts = np.bincount(keys, minlength=segment.layout.buckets)
        assert (segment.offsets[c] == np.concatenate([[0], np.cumsum(counts)])).all()


@given(st.sampled_from(["pdq", "md5", "text"]), st.lists(st.text(max_size=8), max_size=30))
def test_column_digest_equals_the_batch_digest(stype, values):
    items = [ContentInput(signals={stype: v}) for v in values]
    if values:
        assert _column_digest(stype, values) == _batch_digest(items)


# -- the route --------------------------------------------------------------------------


def _post(client, h, body, name="TVEC"):
    return client.post(
        f"/v1/banks/{name}/content/bulk",
        content=json.dumps(body),
        headers={**h, "Content-Type": "application/json"},
    )


def test_route_banks_the_column_form(client, headers):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    hashes = [_pdq(i) for i in range(1, 1201)]
    answer = _post(
        client,
        h,
        {"signal_type": "pdq", "hashes": hashes, "external_ids": [f"g{i}" for i in range(1200)]},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["count"] == 1200
    assert body["last_id"] - body["first_id"] == 1199
    found = client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": hashes[40]}, headers=h
    ).json()
    assert found["TVEC"][0]["distance"] == "0"
    item = client.get(f"/v1/banks/TVEC/content/{body['first_id'] + 40}", headers=h).json()
    assert (item["external_id"], item["source"], item["signals"]) == (
        "g40",
        "api:bulk",
        {"pdq": hashes[40]},
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"signal_type": "pdq", "hashes": [_pdq(1), "0" * 63, _pdq(2)]}, "item 1"),
        ({"items": [{"signals": {"pdq": _pdq(1)}}, {"signals": {"pdq": "no"}}]}, "item 1"),
        ({"signal_type": "pdq", "hashes": [_pdq(1)], "labels": {}}, "unknown fields"),
        ({"signal_type": "pdq", "hashes": "x"}, "invalid bulk body"),
        ({"signal_type": 5, "hashes": [_pdq(1)]}, "invalid bulk body"),
        ({"signal_type": "pdq", "hashes": [_pdq(1)], "external_ids": [1]}, "external_ids"),
        ({"signal_type": "pdq", "hashes": [_pdq(1)], "external_ids": []}, "0 external ids"),
        ({"signal_type": "nope", "hashes": [_pdq(1)]}, "nope"),
        ({"signal_type": "pdq", "hashes": [_pdq(1), 7]}, "item 1"),
    ],
)
def test_route_refuses_a_bad_batch_whole(client, headers, body, message):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    answer = _post(client, h, body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]
    assert client.get("/v1/banks/TVEC/content", headers=h).json() == []


def test_openapi_documents_both_json_forms(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/banks/{name}/content/bulk"]["post"]["requestBody"]
    forms = body["content"]["application/json"]["schema"]["oneOf"]
    assert [sorted(f["properties"]) for f in forms] == [
        ["items", "source"],
        ["external_ids", "hashes", "signal_type", "source"],
    ]


def test_the_writing_process_applies_its_import_from_memory(store, monkeypatch):
    """This process's matcher takes a column import without reading the feed back, and
    ends where a follower that read it ends."""
    banks, matcher = store.banks, store.matcher
    banks.create_bank("TVEC", actor="t")
    matcher.ensure_loaded()
    matcher.catch_up()
    applied = []
    real = matcher.apply_import
    monkeypatch.setattr(matcher, "apply_import", lambda i: applied.append(real(i)))
    banks._import_listeners = [matcher.apply_import]
    values = [_pdq(i) for i in range(120)]
    ids = banks.add_column("TVEC", "pdq", values, source="s", actor="t")
    assert applied == [True]
    with store.db.read() as conn:
        last = max(r.seq for r in conn.execute(select(signal_changes.c.seq)))
    assert matcher._last_seq == last
    follower = Matcher(store.db, store.signals, poll_seconds=3600)
    follower.ensure_loaded()
    for value, cid in [(values[3], ids[3]), (values[119], ids[119])]:
        assert [m.content_id for m in matcher.lookup("pdq", value).matches] == [cid]
        assert [m.content_id for m in follower.lookup("pdq", value).matches] == [cid]
    assert matcher.status()["pdq"].size == follower.status()["pdq"].size == 120


def test_an_import_that_is_not_next_in_the_feed_is_left_to_catch_up(accord):
    from accord.matching.service import Imported

    accord.banks.create_bank("TVEC", actor="t")
    matcher = accord.matcher
    matcher.ensure_loaded()
    matcher.catch_up()
    before = matcher._last_seq
    late = Imported(before + 2, before + 3, "pdq", 1, [1, 2], [1, 2], [_pdq(1), _pdq(2)])
    assert matcher.apply_import(late) is False
    assert matcher._last_seq == before
    assert matcher.status()["pdq"].size == 0

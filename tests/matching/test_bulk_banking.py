"""Bulk banking by the fast path: ids reserved in bulk, COPY / executemany, the change feed
written from the rows, JSON columns serialised once, and the route's plain-body parser."""

from __future__ import annotations

import gc
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from accord.api.routers.banks import BulkIn, _Columns, _input, _parse_bulk
from accord.errors import InvalidInput, InvalidSignal
from accord.matching.service import ContentInput
from accord.matching.tables import bank_content, bank_signals, signal_changes
from accord.signals.pdq import PdqSignal, validate_pdq
from accord.store.bulk import paused_gc


def _pdq(i: int) -> str:
    """A distinct, far-apart PDQ hash per ``i`` (random bits from a seeded generator)."""
    import random

    return f"{random.Random(i).getrandbits(256):064x}"


def test_bulk_rows_feed_and_matcher_agree_on_both_databases(store):
    banks = store.banks
    banks.create_bank("TVEC", actor="t")
    first = banks.add_many(
        "TVEC", [ContentInput(signals={"pdq": _pdq(i)}) for i in range(300)], source="s", actor="t"
    )
    items = [
        ContentInput(
            signals={"pdq": _pdq(1000 + i).upper(), "md5": f"{i:032x}"},
            labels={"ideology": "x"} if i % 2 else None,
            metadata={"n": i} if i % 3 == 0 else {},
            external_id=f"e{i}",
        )
        for i in range(200)
    ]
    second = banks.add_many("TVEC", items, source="list", actor="t")
    assert second == list(range(first[-1] + 1, first[-1] + 201))
    assert first == sorted(first)
    assert len(set(first)) == 300
    with store.db.read() as conn:
        contents = {r.id: r for r in conn.execute(select(bank_content))}
        signals = conn.execute(select(bank_signals).order_by(bank_signals.c.id)).all()
        feed = conn.execute(select(signal_changes).order_by(signal_changes.c.seq)).all()
    assert len(contents) == 500
    assert len(signals) == 700
    row = contents[second[3]]
    assert (row.labels, row.meta, row.external_id) == ({"ideology": ["x"]}, {"n": 3}, "e3")
    assert (contents[second[2]].labels, contents[second[2]].meta) == ({}, {})
    # the feed lists every signal once, in signal id order, with its value in normal form
    assert [(f.signal_id, f.value, f.content_id, f.op) for f in feed] == [
        (s.id, s.value, s.content_id, "add") for s in signals
    ]
    assert all(s.value == s.value.lower() for s in signals)
    store.matcher.ensure_loaded()
    store.matcher.catch_up()
    found = store.matcher.lookup("pdq", _pdq(1007)).matches
    assert [(m.content_id, m.labels) for m in found] == [(second[7], {"ideology": ["x"]})]
    assert store.matcher.status("pdq")["pdq"].size == 500


def test_bulk_disabled_items_write_no_feed_rows(store):
    store.banks.create_bank("TVEC", actor="t")
    items = [ContentInput(signals={"pdq": _pdq(i)}) for i in range(100)]
    store.banks.add_many("TVEC", items, source="s", actor="t", enabled=False)
    with store.db.read() as conn:
        assert conn.execute(select(signal_changes)).all() == []


def test_bulk_batch_digest_is_of_sorted_lines(accord):
    import hashlib

    accord.banks.create_bank("TVEC", actor="t")
    values = [_pdq(i) for i in (5, 3, 9)]
    accord.banks.add_many(
        "TVEC", [ContentInput(signals={"pdq": v}) for v in values], source="s", actor="t"
    )
    lines = "".join(f"pdq:{v}\n" for v in sorted(values))
    event = accord.ledger.entries(0, 10)[-1].data
    assert event["data"]["signals_sha256"] == hashlib.sha256(lines.encode()).hexdigest()


@given(st.lists(st.text(alphabet="0123456789abcdefABCDEF \tg", min_size=60, max_size=68)))
def test_pdq_validate_many_equals_one_by_one(values):
    signal = PdqSignal()
    try:
        expected: list[str] | type[Exception] = [validate_pdq(v) for v in values]
    except InvalidSignal:
        expected = InvalidSignal
    if expected is InvalidSignal:
        with pytest.raises(InvalidSignal):
            signal.validate_many(values)
    else:
        assert signal.validate_many(values) == expected


def test_pdq_validate_many_refuses_values_that_only_join_to_hex():
    with pytest.raises(InvalidSignal):
        PdqSignal().validate_many(["a" * 63, "a" * 65])


def _as_inputs(items):
    return [(i.signals, i.labels, i.note, i.external_id, i.metadata or {}) for i in items]


def _parsed_inputs(parsed):
    """``_parse_bulk``'s answer as ``(items, source)``, a column read as its items."""
    if isinstance(parsed, _Columns):
        ids = parsed.external_ids or [None] * len(parsed.values)
        items = [
            ContentInput(signals={parsed.signal_type: v}, external_id=e)
            for v, e in zip(parsed.values, ids, strict=True)
        ]
        return items, parsed.source
    return parsed


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"signals": {"pdq": _pdq(1)}}, {"signals": {"md5": "0" * 32}}]},
        {"items": [{"signals": {"pdq": _pdq(1)}}], "source": "GIFCT"},
        {"items": [{"signals": {"pdq": _pdq(1)}}, {"signals": {"pdq": _pdq(2)}}]},
        {"items": [{"signals": {"pdq": _pdq(1)}}, {"signals": {"md5": _pdq(2)[:32]}}]},
        {"items": [{"signals": {"pdq": _pdq(1), "md5": "0" * 32}}]},
        {"items": [{"signals": {"pdq": _pdq(1)}, "labels": {"ideology": "x"}}]},
        {"items": [{"signals": {"pdq": _pdq(1)}, "external_id": "a", "note": "n"}]},
        {"items": []},
        {"items": [{"signals": {"pdq": _pdq(1)}, "colour": 1}], "more": 1},  # ignored, as before
    ],
)
def test_plain_bodies_parse_as_the_model_would(body):
    items, source = _parsed_inputs(_parse_bulk(json.dumps(body).encode()))
    model = BulkIn.model_validate(body)
    assert source == model.source
    assert _as_inputs(items) == _as_inputs([_input(i) for i in model.items])


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"items": [{"signals": {"pdq": 5}}]}',
        b'{"items": [{"signals": "x"}]}',
        b'{"items": "x"}',
        b'{"items": [{"labels": {}}]}',
        b"[]",
    ],
)
def test_bad_bodies_are_invalid_input(body):
    with pytest.raises(InvalidInput, match="invalid bulk body"):
        _parse_bulk(body)


def test_route_banks_a_large_plain_body(client, headers):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    items = [{"signals": {"pdq": _pdq(i)}} for i in range(1, 2001)]
    answer = client.post("/v1/banks/TVEC/content/bulk", json={"items": items}, headers=h)
    assert answer.status_code == 201, answer.text
    assert answer.json()["count"] == 2000
    found = client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": _pdq(77)}, headers=h
    ).json()
    assert found["TVEC"][0]["distance"] == "0"


def test_paused_gc_nests_and_restores():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()

"""The ledger's append interface on both databases."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.ledger import canonical_json
from accord.ledger.canonical import canonical_event


def test_appends_are_sequential_canonical_and_hashed(store):
    with store.db.write() as conn:
        first = store.ledger.append(conn, "bank.created", {"bank": "B", "z": 1, "a": [1, "x"]})
        second, third = store.ledger.append_many(
            conn,
            [("bank.updated", {"bank": "B"}, "key:abc"), ("bank.deleted", {"bank": "B"}, None)],
        )
    assert [first.seq, second.seq, third.seq] == [0, 1, 2]
    assert store.ledger.size() == 3
    entries = store.ledger.entries(0, 3)
    assert [e.body for e in entries] == [first.body, second.body, third.body]
    decoded = json.loads(first.body)
    assert decoded["data"] == {"a": [1, "x"], "bank": "B", "z": 1}
    assert first.body == canonical_json(decoded)
    assert first.leaf_hash == hashlib.sha256(b"\x00" + first.body).digest()
    assert entries[1].data["actor"] == "key:abc"


def test_a_failed_transaction_appends_nothing(store):
    def change_that_fails() -> None:
        with store.db.write() as conn:
            store.ledger.append(conn, "bank.created", {"bank": "B"})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert store.ledger.size() == 0


def test_unknown_kinds_and_bad_values_are_refused(accord):
    with accord.db.write() as conn:
        with pytest.raises(InvalidInput, match="unknown ledger event kind"):
            accord.ledger.append(conn, "bank.exploded", {})
        with pytest.raises(InvalidInput, match="canonicalisable"):
            accord.ledger.append(conn, "bank.created", {"x": float("nan")})
    assert accord.ledger.size() == 0


def test_pseudonyms_are_stable_keyed_and_opaque(accord):
    p = accord.pseudonymizer
    assert p("alice") == p("alice")
    assert p("alice") != p("bob")
    assert "alice" not in p("alice")
    assert p("alice").startswith("p:")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_fast_canonical_json_agrees_with_the_reference(value):
    """The stdlib fast path and the rfc8785 package give the same bytes, or both refuse."""
    import rfc8785

    try:
        expected = bytes(rfc8785.dumps(value))
    except Exception:  # noqa: BLE001 - any refusal of the reference must be a refusal here
        with pytest.raises(InvalidInput):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=300)
@given(
    st.integers(min_value=0, max_value=2**53 - 1),
    st.text(max_size=8),
    st.text(max_size=8),
    st.none() | st.text(max_size=8),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)
def test_the_event_envelope_is_the_canonical_json_of_the_whole_event(seq, time, kind, actor, data):
    """``canonical_event`` joins the envelope by hand: it must equal the general encoder's bytes."""
    envelope = {"seq": seq, "time": time, "kind": kind, "actor": actor, "data": data}
    try:
        expected = canonical_json(envelope)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            canonical_event(seq, time, kind, actor, data)
        return
    assert canonical_event(seq, time, kind, actor, data) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2, "a": 3},
        {"s": '\x00\x1f\x7f\u2028"\\/é😀'},
        {"n": 2**53 - 1, "m": -(2**53 - 1), "f": 1.5, "e": 1e21},
        {"nested": [{"b": 1, "a": [True, False, None]}]},
    ],
)
def test_canonical_json_edge_cases(value):
    import rfc8785

    assert canonical_json(value) == bytes(rfc8785.dumps(value))

"""RightsService on SQLite and PostgreSQL: receipts, ledger events, as-of state, append-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accord.errors import InvalidInput, NotFound
from accord.rights.signals import parse_gpc, parse_x_robots_tag
from accord.rights.tables import rights_effects, rights_requests

AI = "train_ai_system"


def test_objection_answers_with_a_receipt_and_one_ledger_event(store):
    receipt = store.rights.object("alice@example", AI, "photos", actor="key:abc")
    assert receipt.request_id.startswith("rr_")
    assert receipt.covers == [{"purpose": AI, "category": "photos"}]
    assert receipt.recorded_at == "2026-03-15T12:00:00.000000Z"
    event = store.ledger.entries(receipt.ledger_seq, receipt.ledger_seq + 1)[0]
    assert event.kind == "rights.objected"
    body = event.data
    assert body["data"]["request_id"] == receipt.request_id
    assert body["data"]["subject"] == store.ledger.pseudonymize("alice@example")
    assert b"alice" not in event.body
    assert store.rights.receipt(receipt.request_id) == receipt


def test_unknown_receipt_purpose_and_category(store):
    with pytest.raises(NotFound):
        store.rights.receipt("rr_nope")
    with pytest.raises(InvalidInput, match="purpose"):
        store.rights.object("a", "nope")
    with pytest.raises(InvalidInput, match="category"):
        store.rights.consent("a", AI, "dreams")
    with pytest.raises(InvalidInput, match="subject"):
        store.rights.object("  ", AI)


def test_state_as_of_any_past_time(store, clock):
    t0 = clock.now()
    store.rights.object("bob", AI)
    clock.advance(timedelta(hours=1))
    store.rights.consent("bob", AI, "posts")
    clock.advance(timedelta(hours=1))
    store.rights.record_signal("bob", parse_gpc("1"))

    def cell(as_of, category="posts"):
        state = store.rights.state("bob", as_of)
        return next(d for d in state.decisions if d.purpose == AI and d.category == category)

    assert cell(t0 - timedelta(seconds=1)).allowed
    assert not cell(t0).allowed
    assert cell(t0 + timedelta(hours=1)).allowed
    # the explicit consent still outranks the later GPC signal
    assert cell(t0 + timedelta(hours=2)).allowed
    assert cell(t0 + timedelta(hours=2), "photos").reason.value == "objection"
    ads = next(
        d
        for d in store.rights.state("bob").decisions
        if d.purpose == "personalised_ads" and d.category == "posts"
    )
    assert (ads.allowed, ads.reason.value) == (False, "signal")


def test_signals_keep_provenance_and_history_is_append_only(store):
    r = store.rights.record_signal("carol", parse_x_robots_tag("noimageai"))
    assert r.kind == "signal"
    assert r.action == "robots"
    assert r.source == "header:X-Robots-Tag"
    assert {c["category"] for c in r.covers} == {"photos", "videos"}
    event = store.ledger.entries(r.ledger_seq, r.ledger_seq + 1)[0]
    assert event.kind == "rights.signal_recorded"
    store.rights.object("carol", AI)
    with store.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(rights_requests)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(rights_effects)).scalar_one() == 3
    kinds = [e.kind for e in store.rights.history("carol")]
    assert kinds == ["robots", "robots", "choice"]


def test_migration_matches_the_tables(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from accord.store.base import metadata

    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "rights_" in str(d)] == []

"""The resolution rules of accord.rights.model, one test per rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.rights.model import (
    CATEGORIES,
    PURPOSES,
    Action,
    Basis,
    Entry,
    Reason,
    resolve,
    resolve_all,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AI = "train_ai_system"


def entry(action, *, at=0, purpose=AI, category=None, kind="choice", source="person", rid=None):
    return Entry(
        request_id=rid or f"r{at}-{action.value}",
        action=action,
        purpose=purpose,
        category=category,
        recorded_at=T0 + timedelta(hours=at),
        kind=kind,
        source=source,
    )


def signal(action, *, at=0, kind="gpc", source="header:Sec-GPC", category=None, purpose=AI):
    return entry(action, at=at, kind=kind, source=source, category=category, purpose=purpose)


def test_vocabulary_holds_train_ai_system_and_the_six_categories():
    assert PURPOSES["train_ai_system"].basis is Basis.LEGITIMATE_INTEREST
    assert set(CATEGORIES) == {
        "posts",
        "photos",
        "videos",
        "comments",
        "messages",
        "interaction_telemetry",
    }


def test_r5_legitimate_interest_allows_until_objection():
    d = resolve([], AI, "posts", T0)
    assert (d.allowed, d.reason, d.provenance) == (True, Reason.LEGITIMATE_INTEREST, ())


def test_r5_consent_basis_denies_until_opt_in():
    assert resolve([], "personalised_ads", "posts", T0).reason is Reason.NO_CONSENT
    d = resolve(
        [entry(Action.CONSENT, purpose="personalised_ads")], "personalised_ads", "posts", T0
    )
    assert (d.allowed, d.reason) == (True, Reason.CONSENT)


def test_r1_entries_after_as_of_do_not_count():
    history = [entry(Action.OBJECT, at=2)]
    assert resolve(history, AI, "posts", T0 + timedelta(hours=1)).allowed
    d = resolve(history, AI, "posts", T0 + timedelta(hours=2))
    assert (d.allowed, d.reason, d.provenance) == (False, Reason.OBJECTION, ("r2-object",))


def test_r2_latest_explicit_choice_wins():
    history = [
        entry(Action.OBJECT, at=0),
        entry(Action.CONSENT, at=1),
        entry(Action.WITHDRAW, at=2),
    ]
    assert resolve(history, AI, "posts", T0 + timedelta(hours=1)).reason is Reason.CONSENT
    d = resolve(history, AI, "posts", T0 + timedelta(hours=3))
    assert (d.allowed, d.reason) == (False, Reason.WITHDRAWN)


def test_r2_a_category_choice_and_an_all_category_choice_compete_by_time():
    history = [entry(Action.OBJECT, at=0), entry(Action.CONSENT, at=1, category="photos")]
    when = T0 + timedelta(hours=2)
    assert resolve(history, AI, "photos", when).allowed
    assert not resolve(history, AI, "posts", when).allowed
    history.append(entry(Action.OBJECT, at=3))
    assert not resolve(history, AI, "photos", T0 + timedelta(hours=4)).allowed


def test_r2_explicit_choice_outranks_signals_either_way():
    when = T0 + timedelta(hours=5)
    consented = [entry(Action.CONSENT, at=0), signal(Action.SIGNAL_DENY, at=1)]
    d = resolve(consented, AI, "posts", when)
    assert (d.allowed, d.reason) == (True, Reason.CONSENT)
    objected = [
        entry(Action.OBJECT, at=0),
        signal(Action.SIGNAL_ALLOW, at=1, kind="aipref", source="header:Content-Usage"),
    ]
    assert resolve(objected, AI, "posts", when).reason is Reason.OBJECTION


def test_r3_any_denying_source_denies_and_names_its_provenance():
    history = [
        signal(Action.SIGNAL_ALLOW, at=0, kind="aipref", source="header:Content-Usage"),
        signal(Action.SIGNAL_DENY, at=1, kind="tdmrep", source="https://x.example/.well-known"),
    ]
    d = resolve(history, AI, "posts", T0 + timedelta(hours=2))
    assert (d.allowed, d.reason, d.provenance) == (False, Reason.SIGNAL, ("r1-signal_deny",))


def test_r3_a_later_statement_from_the_same_source_replaces_the_earlier():
    history = [
        signal(Action.SIGNAL_DENY, at=0, kind="tdmrep", source="s"),
        signal(Action.SIGNAL_ALLOW, at=1, kind="tdmrep", source="s"),
    ]
    assert not resolve(history, AI, "posts", T0).allowed
    assert resolve(history, AI, "posts", T0 + timedelta(hours=1)).allowed


def test_r3_category_scoped_signal_touches_only_its_categories():
    history = [signal(Action.SIGNAL_DENY, kind="robots", source="x", category="photos")]
    assert not resolve(history, AI, "photos", T0).allowed
    assert resolve(history, AI, "posts", T0).allowed


def test_r4_an_inferred_yes_is_not_consent():
    history = [signal(Action.SIGNAL_ALLOW, purpose="personalised_ads")]
    d = resolve(history, "personalised_ads", "posts", T0)
    assert (d.allowed, d.reason) == (False, Reason.NO_CONSENT)


def test_unknown_purpose_and_category_are_clear_errors():
    with pytest.raises(InvalidInput, match="unknown purpose 'sell_souls'"):
        resolve([], "sell_souls", "posts", T0)
    with pytest.raises(InvalidInput, match="unknown data category 'dreams'"):
        resolve([], AI, "dreams", T0)


def test_resolve_all_covers_every_cell():
    decisions = resolve_all([], T0)
    assert len(decisions) == len(PURPOSES) * len(CATEGORIES)


_signals = st.lists(
    st.builds(
        signal,
        st.sampled_from([Action.SIGNAL_DENY, Action.SIGNAL_ALLOW]),
        at=st.integers(0, 20),
        kind=st.sampled_from(["gpc", "tdmrep", "aipref", "robots"]),
        source=st.sampled_from(["a", "b"]),
        category=st.sampled_from([None, "posts", "photos"]),
    ),
    max_size=8,
)


@given(
    _signals, st.sampled_from([Action.CONSENT, Action.OBJECT, Action.WITHDRAW]), st.integers(0, 20)
)
def test_property_the_persons_choice_decides_whatever_the_signals(signals, action, at):
    history = [*signals, entry(action, at=at, rid="mine")]
    d = resolve(history, AI, "posts", T0 + timedelta(hours=30))
    assert d.allowed is (action is Action.CONSENT)
    assert d.provenance == ("mine",)

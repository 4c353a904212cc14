"""Transparency figures from ledger events: the moderation scenario, medians, periods,
and the fast line path agreeing with the plain one (hypothesis)."""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.reporting.transparency import Tally, compute, compute_lines
from tests.reports.conftest import leaves

DAY = date(2026, 3, 15)


def test_scenario_figures(accord, scenario):
    r = compute(leaves(accord), DAY, DAY)
    v = r.value
    assert v("notices", "received") == 3
    assert v("notices", "received_by_source", "user") == 2
    assert v("notices", "received_by_source", "trusted_flagger") == 1
    assert v("notices", "from_trusted_flaggers") == 1
    assert v("notices", "received_by_category", "terrorism_violent_extremism") == 3
    assert v("notices", "actioned") == 2  # post-1 and live-1
    assert v("notices", "actioned_by_category", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY") == 2
    # post-1's two notices waited 30 min, live-1's 90 min: median of (1800, 1800, 5400)
    assert v("notices", "median_seconds_to_acknowledge") == 1800.0
    # decisions on notices: post-1 after 30 min, live-1 after 90 min: median 60 min
    assert v("notices", "median_seconds_to_act") == 3600.0
    assert v("own_initiative", "actions") == 1
    assert v("own_initiative", "automated_reports") == 1
    assert v("own_initiative", "actions_by_detection_method", "automated_hash_match") == 1
    assert v("automation", "decisions") == 3
    assert v("automation", "automated_decisions") == 1
    assert v("automation", "automated_decisions_reversed") == 1
    assert v("automation", "automated_reversal_rate") == 1.0
    assert v("complaints", "received") == 1
    assert v("complaints", "received_by_appellant", "affected") == 1
    assert v("complaints", "decided_by_outcome", "reversed") == 1
    assert v("complaints", "reversals") == 1
    assert v("complaints", "median_seconds_to_decide") == 7200.0
    assert v("restrictions", "applied_by_type", "feature:live") == 3
    assert v("restrictions", "lifted") == 1
    assert v("restrictions", "strikes_added") == 3
    assert v("restrictions", "strikes_reversed") == 1
    assert v("christchurch", "hash_matched_removals") == 1
    assert v("christchurch", "hash_matched_removals_by_bank_label", "christchurch") == 1
    assert v("christchurch", "hash_matched_removals_by_bank_label", "tve") == 1
    assert v("christchurch", "livestreams_cut") == 1
    assert v("christchurch", "median_seconds_to_cut_livestream") == 5400.0
    assert v("christchurch", "redirects_shown") == 2
    assert v("christchurch", "ai_training_objections_received") == 1
    assert v("christchurch", "ai_training_objections_honoured") == 0  # no gate run yet
    assert any("live.*" in n for n in r.notes)
    assert v("ledger", "events_in_period") == len(leaves(accord))


def test_a_period_without_the_events_reports_zero(accord, scenario):
    r = compute(leaves(accord), date(2026, 3, 16), date(2026, 3, 31))
    assert r.value("notices", "received") == 0
    assert r.value("notices", "median_seconds_to_act") is None
    assert r.value("automation", "automated_reversal_rate") is None
    assert r.value("ledger", "events_in_period") == 0
    with pytest.raises(InvalidInput, match="before it starts"):
        compute([], date(2026, 3, 2), date(2026, 3, 1))


def _ev(seq, time, kind, data):
    return {"seq": seq, "time": time, "kind": kind, "actor": None, "data": data}


def test_medians_not_averages_and_honoured_objections():
    t0 = "2026-05-01T00:00:00.000000Z"
    events = []
    for i, seconds in enumerate((10, 20, 1000)):
        events.append(
            _ev(
                len(events),
                f"2026-05-01T00:{seconds // 60:02d}:{seconds % 60:02d}.000000Z",
                "moderation.decision_made",
                {"case": i, "action": "remove", "sources": ["user"], "opened_at": t0},
            )
        )
    events.append(_ev(len(events), t0, "rights.objected", {"purpose": "train_ai_system"}))
    events.append(_ev(len(events), t0, "rights.objected", {"purpose": "product_analytics"}))
    events.append(
        _ev(len(events), t0, "rights.gate_run", {"purpose": "train_ai_system", "registry_seq": 3})
    )
    events.append(_ev(len(events), t0, "rights.objected", {"purpose": "train_ai_system"}))
    events.append(_ev(len(events), t0, "live.stream_cut", {"flagged_at": t0}))
    r = compute(events, date(2026, 5, 1), date(2026, 5, 1))
    assert r.value("notices", "median_seconds_to_act") == 20.0  # the mean would be 343.3
    assert r.value("christchurch", "ai_training_objections_received") == 2
    assert r.value("christchurch", "ai_training_objections_honoured") == 1
    assert r.value("christchurch", "live_events", "live.stream_cut") == 1
    assert r.value("christchurch", "livestreams_cut") == 1
    assert not any("live.*" in n for n in r.notes)


def test_line_path_equals_dict_path_on_the_scenario(accord, scenario):
    size = accord.ledger.size()
    bodies = [e.body + b"\n" for e in accord.ledger.entries(0, size)]
    assert compute_lines(bodies, DAY, DAY) == compute(leaves(accord), DAY, DAY)


_KINDS = [
    "moderation.report_received",
    "moderation.decision_made",
    "moderation.appeal_decided",
    "moderation.restriction_applied",
    "moderation.case_labelled",
    "bank.created",
    "live.stream_cut",
]
_text = st.text(alphabet='ab"\\:kindtme{}', max_size=12)
_data = st.fixed_dictionaries(
    {
        "case": st.integers(0, 3),
        "kind": _text,
        "action": st.sampled_from(["none", "remove", "label"]),
        "source": st.sampled_from(["user", "automated", "trusted_flagger"]),
        "sources": st.lists(st.sampled_from(["user", "automated"]), max_size=2),
        "outcome": st.sampled_from(["upheld", "reversed"]),
        "note": _text,
    }
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_KINDS), st.integers(1, 4), st.integers(0, 59), _data),
        max_size=30,
    )
)
def test_line_path_equals_dict_path(items):
    """Leaves whose data holds look-alike ``"kind":"`` text still parse the same."""
    events = [
        _ev(i, f"2026-06-0{day}T00:{minute:02d}:00.000000Z", kind, data)
        for i, (kind, day, minute, data) in enumerate(items)
    ]
    lines = [
        json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for e in events
    ]
    start, end = date(2026, 6, 2), date(2026, 6, 3)
    assert compute_lines(lines, start, end) == compute(events, start, end)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_KINDS), st.integers(1, 4), st.integers(0, 59), _data),
        max_size=30,
    ),
    st.lists(st.integers(0, 30), max_size=4),
)
def test_merged_partial_tallies_equal_one_pass(items, cuts):
    """Chunks of the log tallied apart and merged in order give the one-pass report."""
    events = [
        _ev(i, f"2026-06-0{day}T00:{minute:02d}:00.000000Z", kind, data)
        for i, (kind, day, minute, data) in enumerate(items)
    ]
    start, end = date(2026, 6, 2), date(2026, 6, 3)
    bounds = [0, *sorted(min(c, len(events)) for c in cuts), len(events)]
    tallies = []
    for a, b in pairwise(bounds):
        t = Tally(start, end, partial=True)
        for e in events[a:b]:
            t.add(e)
        tallies.append(t)
    first = tallies[0]
    for later in tallies[1:]:
        first.merge(later)
    assert first.report() == compute(events, start, end)


def test_compute_file_in_parallel_equals_one_pass(accord, scenario, tmp_path, monkeypatch):
    import accord.reporting.parallel as parallel

    size = accord.ledger.size()
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(e.body + b"\n" for e in accord.ledger.entries(0, size)))
    monkeypatch.setattr(parallel, "_MIN_RANGE", 1)
    expected = compute(leaves(accord), DAY, DAY)
    assert parallel.compute_file(path, DAY, DAY, workers=3) == expected
    assert parallel.compute_file(path, DAY, DAY, leaves=size) == expected

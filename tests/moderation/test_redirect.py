"""Counter-narrative redirects: robust matching, counts without identities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.moderation.redirect import RedirectIndex, tokens


@pytest.mark.parametrize(
    "query",
    [
        "join isis",
        "JOIN ISIS",
        "j0in 1s1s",
        "J0!n  Î.S.Î.S",
        "how to jöin i-s-i-s today",
        "joiiiin isis",
        "j@in isis"[0:0] + "join i$i$",
    ],
)
def test_evasions_still_match(accord, query):
    assert [m.list_id for m in accord.moderation.redirect(query)] == ["en-tve"]


@pytest.mark.parametrize("query", ["crisis management", "basis of joining", "paris", ""])
def test_innocent_queries_do_not_match(accord, query):
    assert accord.moderation.redirect(query) == []


def test_locale_lists_and_diacritics():
    index = RedirectIndex(
        [
            ("de", "de", ["großer Austausch"], [{"title": "x", "url": "u"}]),
            ("fr", "fr", ["grand remplacement"], [{"title": "y", "url": "v"}]),
        ]
    )
    assert [m.list_id for m in index.lookup("GROSSER austausch")] == ["de"]
    assert [m.list_id for m in index.lookup("le Grand Remplacement", "fr-FR")] == ["fr"]
    assert tokens("Ĩ.S.Ï.S") == ("isis",)


def test_redirects_are_counted_per_hour_without_who_searched(accord, clock):
    svc = accord.moderation
    for _ in range(3):
        svc.redirect("join isis")
    svc.redirect("großer austausch")
    assert svc.flush_redirect_counts() == 0  # the hour is not over
    clock.advance(timedelta(hours=1))
    svc.redirect("join isis")
    assert svc.flush_redirect_counts() == 1
    events = [e for e in accord.ledger.entries(0, 100) if e.kind == "moderation.redirects_counted"]
    assert len(events) == 1
    data = events[0].data
    assert data["data"]["shown"] == {"en-tve": 3, "de-tve": 1}
    assert data["actor"] is None
    assert b"isis" not in events[0].body
    assert svc.flush_redirect_counts(include_current_hour=True) == 1


LEET = {"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"}
ACCENT = {"a": "á", "e": "ê", "i": "ï", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}


@given(
    st.sampled_from(["join isis", "atomwaffen", "great replacement", "isis recruitment"]),
    st.lists(st.sampled_from(["upper", "leet", "accent", "none"]), min_size=1, max_size=40),
    st.sampled_from(["", "how to ", "where can i "]),
)
def test_any_mix_of_case_accents_and_substitutions_still_matches(term, edits, prefix):
    chars = []
    for i, c in enumerate(term):
        edit = edits[i % len(edits)]
        if edit == "upper":
            c = c.upper()
        elif edit == "leet":
            c = LEET.get(c, c)
        elif edit == "accent":
            c = ACCENT.get(c, c)
        chars.append(c)
    index = RedirectIndex([("l", "en", [term], [{"title": "t", "url": "u"}])])
    assert [m.list_id for m in index.lookup(prefix + "".join(chars))] == ["l"]

"""Counter-narrative redirects: robust matching, counts without identities."""

from __future__ import annotations

from datetime import timedelta

import pytest

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

"""Strike ladders, eligibility and urgency: the pure rules, with property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from accord.moderation.config import load_config
from accord.moderation.model import (
    Ladder,
    LadderStep,
    Restriction,
    RestrictionKind,
    case_urgency,
    eligibility,
    ladder_consequence,
    strikes_in_force,
)

TIERS = ["most_serious", "serious", "standard"]
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def severity(c) -> tuple[int, float]:
    """Orders consequences: nothing < shorter < longer < termination."""
    if c.kind is None:
        return (0, 0)
    if c.kind is RestrictionKind.TERMINATION:
        return (2, 0)
    return (1, c.days)


@st.composite
def ladders(draw):
    n = draw(st.integers(1, 6))
    strikes = sorted(draw(st.sets(st.integers(1, 12), min_size=n, max_size=n)))
    days = sorted(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)))
    terminate_at = draw(st.one_of(st.none(), st.integers(strikes[-1] + 1, 20)))
    tiers = frozenset(draw(st.sets(st.sampled_from(TIERS), min_size=1)))
    first = frozenset(draw(st.sets(st.sampled_from(sorted(tiers)))))
    scope = draw(st.sampled_from(["account", "live"]))
    return Ladder(
        id="x",
        scope=scope,
        tiers=tiers,
        steps=tuple(LadderStep(s, d) for s, d in zip(strikes, days, strict=True)),
        terminate_at=terminate_at,
        terminate_first_tiers=first,
    )


@given(ladders(), st.integers(1, 30), st.integers(1, 30), st.sampled_from(TIERS))
def test_ladder_is_monotone_in_strikes(ladder, a, b, tier):
    low, high = sorted((a, b))
    assert severity(ladder_consequence(ladder, low, tier)) <= severity(
        ladder_consequence(ladder, high, tier)
    )


@given(ladders(), st.integers(1, 30), st.sampled_from(TIERS))
def test_termination_is_absorbing_and_first_strike_tiers_terminate(ladder, n, tier):
    c = ladder_consequence(ladder, n, tier)
    if c.kind is RestrictionKind.TERMINATION:
        for more in range(n, n + 5):
            assert ladder_consequence(ladder, more, tier).kind is RestrictionKind.TERMINATION
        assert c.days is None
    if tier in ladder.terminate_first_tiers:
        assert c.kind is RestrictionKind.TERMINATION


@given(ladders(), st.integers(-3, 30), st.sampled_from(TIERS))
def test_uncounted_tiers_and_no_strikes_impose_nothing(ladder, n, tier):
    c = ladder_consequence(ladder, n, tier)
    if tier not in ladder.tiers or n < 1:
        assert c.kind is None


@given(ladders(), st.integers(1, 30), st.sampled_from(TIERS))
def test_restrictions_follow_scope(ladder, n, tier):
    c = ladder_consequence(ladder, n, tier)
    if c.kind is RestrictionKind.FEATURE:
        assert ladder.scope != "account"
        assert c.feature == ladder.scope
        assert c.days > 0
    if c.kind is RestrictionKind.SUSPENSION:
        assert ladder.scope == "account"
        assert c.days > 0


def test_default_ladders_are_the_published_ones():
    config = load_config()
    live, account = (next(x for x in config.ladder_rules if x.id == i) for i in ("live", "account"))
    first = ladder_consequence(live, 1, "most_serious")
    assert (first.kind, first.feature, first.days) == (RestrictionKind.FEATURE, "live", 30)
    assert ladder_consequence(live, 1, "serious").kind is None
    assert ladder_consequence(account, 1, "serious").kind is None  # a warning
    days = [ladder_consequence(account, n, "standard").days for n in range(2, 6)]
    assert days == [1, 3, 7, 30]
    assert ladder_consequence(account, 6, "standard").kind is RestrictionKind.TERMINATION
    strict = Ladder("a", "account", account.tiers, account.steps, 6, frozenset({"most_serious"}))
    assert ladder_consequence(strict, 1, "most_serious").kind is RestrictionKind.TERMINATION
    assert ladder_consequence(strict, 1, "serious").kind is None


@given(
    st.lists(
        st.tuples(
            st.sampled_from(TIERS), st.integers(-400, 10), st.integers(1, 400), st.booleans()
        ),
        max_size=20,
    )
)
def test_only_unexpired_unreversed_strikes_count(raw):
    history = [
        (tier, NOW + timedelta(days=start), NOW + timedelta(days=start + length), rev)
        for tier, start, length, rev in raw
    ]
    counted = strikes_in_force(history, frozenset(TIERS), NOW)
    expected = sum(1 for _, g, e, rev in history if not rev and g <= NOW < e)
    assert counted == expected <= len(history)


@st.composite
def restriction_sets(draw):
    items = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(list(RestrictionKind)))
        start = NOW + timedelta(days=draw(st.integers(-60, 5)))
        days = draw(st.one_of(st.none(), st.integers(1, 90)))
        ends = (
            None
            if days is None or kind is RestrictionKind.TERMINATION
            else start + timedelta(days=days)
        )
        feature = (
            draw(st.sampled_from(["live", "upload"])) if kind is RestrictionKind.FEATURE else None
        )
        items.append(Restriction(kind, start, ends, feature, draw(st.booleans())))
    return items


@given(restriction_sets(), st.sampled_from(["live", "upload", "comment"]))
def test_eligibility_denies_exactly_when_a_restriction_applies(rs, feature):
    answer = eligibility(rs, feature, NOW)
    applying = [
        r
        for r in rs
        if not r.lifted
        and r.starts <= NOW
        and (r.ends is None or r.ends > NOW)
        and (r.kind is not RestrictionKind.FEATURE or r.feature == feature)
    ]
    assert answer.allowed == (not applying)
    if applying:
        assert answer.until is None or answer.until > NOW
        if any(r.kind is RestrictionKind.TERMINATION for r in applying):
            assert answer.until is None
            assert "terminated" in answer.reason


@given(st.floats(0, 1e6), st.floats(0, 1e6), st.integers(0, 10**9), st.integers(0, 10**9))
def test_urgency_grows_with_reporters_and_reach_but_sub_linearly(w1, w2, r1, r2):
    low_w, high_w = sorted((w1, w2))
    low_r, high_r = sorted((r1, r2))
    slow = case_urgency(tier_hours=24, reporter_weight=low_w, reach=low_r)
    fast = case_urgency(tier_hours=24, reporter_weight=high_w, reach=high_r)
    assert fast <= slow <= 24 * 3600
    # a thousand reporters make a case at most ~32x more urgent than one, not 1000x
    one = case_urgency(tier_hours=24, reporter_weight=1, reach=0)
    many = case_urgency(tier_hours=24, reporter_weight=1000, reach=0)
    assert one / many < 20

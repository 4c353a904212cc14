"""The moderation service on SQLite and PostgreSQL: reports join cases, leases,
decisions, strikes, restrictions, appeals, and clear errors that change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accord.errors import (
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from accord.moderation.tables import cases, decisions, reports


def flag(svc, subject="post-1", reporter="alice", reason="terrorism_violent_extremism", **kw):
    kw.setdefault("account", "author-1")
    kw.setdefault("content_type", "video")
    return svc.report(
        subject_type="content", subject_id=subject, reason=reason, reporter=reporter, **kw
    )


def count(accord, table):
    with accord.db.read() as conn:
        return conn.execute(table.select()).all().__len__()


def test_reports_on_one_subject_join_one_case_keeping_every_reporter(store):
    svc = store.moderation
    first = flag(svc, reporter="alice")
    second = flag(svc, reporter="bob")
    again = flag(svc, reporter="alice")
    match = svc.report_match(
        subject_type="content", subject_id="post-1", bank_labels=["tcap", "tve"], bank="TCAP"
    )
    assert {first.case_id, second.case_id, again.case_id, match.case_id} == {first.case_id}
    assert not first.joined_existing_case
    assert second.joined_existing_case
    case = svc.case(first.case_id)
    assert case.reporters == 3  # alice counted once, bob, the bank
    assert case.automated
    assert case.queue == "tve"
    assert len(case.reports) == 4
    assert case.reports[-1].labels == ["tcap", "tve"]
    kinds = [e.kind for e in store.ledger.entries(0, 100)]
    assert kinds.count("moderation.report_received") == 4
    assert kinds.count("moderation.case_opened") == 1
    # reporters are pseudonymised in the log
    bodies = b"".join(e.body for e in store.ledger.entries(0, 100))
    assert b"alice" not in bodies
    assert b"author-1" not in bodies


def test_mass_reports_raise_priority_sub_linearly(accord):
    svc = accord.moderation
    single = flag(svc, subject="a", reason="spam")
    for i in range(50):
        flag(svc, subject="b", reason="spam", reporter=f"brigade-{i}")
    a, b = svc.case(single.case_id), svc.case(flag(svc, subject="b", reason="spam").case_id)
    wait_a = a.due_at
    assert b.due_at < wait_a  # more reporters: reviewed sooner
    # ...but fifty reporters do not make it fifty times as urgent
    from accord.clock import parse_time

    opened = parse_time(a.opened_at)
    span_a = (parse_time(a.due_at) - opened).total_seconds()
    span_b = (parse_time(b.due_at) - opened).total_seconds()
    assert span_a / span_b < 10


def test_reporters_are_rate_limited_and_nothing_is_written(accord, clock):
    svc = accord.moderation
    limit = svc.config.rate_limit.max_reports
    for i in range(limit):
        flag(svc, subject=f"s{i}", reporter="eager", reason="spam")
    before = count(accord, reports)
    with pytest.raises(RateLimited):
        flag(svc, subject="one-more", reporter="eager", reason="spam")
    assert count(accord, reports) == before
    clock.advance(timedelta(seconds=svc.config.rate_limit.window_seconds + 1))
    flag(svc, subject="one-more", reporter="eager", reason="spam")


def test_bad_input_is_refused_with_clear_errors(accord):
    svc = accord.moderation
    with pytest.raises(InvalidInput, match="unknown reason"):
        flag(svc, reason="bad-vibes")
    with pytest.raises(InvalidInput, match="unknown subject type"):
        svc.report(subject_type="planet", subject_id="x", reason="spam", reporter="a")
    assert count(accord, cases) == 0
    with pytest.raises(NotFound):
        svc.case(999)
    with pytest.raises(NotFound):
        svc.take_next("no-such-queue", holder="k", role="moderator")
    with pytest.raises(PermissionDenied):
        svc.take_next("senior", holder="k", role="moderator")


def test_lease_makes_one_moderator_the_decider(store, clock):
    svc = store.moderation
    case_id = flag(svc).case_id
    taken = svc.take_next("tve", holder="mod-a", role="moderator")
    assert taken.id == case_id
    assert taken.lease_holder == "mod-a"
    assert svc.take_next("tve", holder="mod-b", role="moderator") is None
    with pytest.raises(Conflict, match="another moderator"):
        svc.decide(case_id, holder="mod-b", actor="key:b", action="none", facts="ok")
    with pytest.raises(InvalidInput, match="unknown policy"):
        svc.decide(
            case_id, holder="mod-a", actor="key:a", action="remove", facts="x", policy_id="nope"
        )
    assert count(store, decisions) == 0
    # the lease expires: another moderator may take the case
    clock.advance(timedelta(seconds=svc.config.lease_seconds + 1))
    with pytest.raises(Conflict, match="not leased"):
        svc.decide(case_id, holder="mod-a", actor="key:a", action="none", facts="late")
    assert svc.take_next("tve", holder="mod-b", role="moderator").id == case_id
    d = svc.decide(case_id, holder="mod-b", actor="key:b", action="none", facts="not violating")
    assert d.action == "none"
    assert d.restrictions == []
    with pytest.raises(Conflict, match="already decided"):
        svc.decide(case_id, holder="mod-b", actor="key:b", action="none", facts="again")
    with pytest.raises(NotFound, match="no statement"):
        svc.statement(d.id)


def decide_remove(
    svc, subject="post-1", account="author-1", holder="mod-a", policy="tve.terrorist_content"
):
    case_id = flag(svc, subject=subject, account=account).case_id
    taken = svc.take_next("tve", holder=holder, role="moderator")
    assert taken.id == case_id
    return svc.decide(
        case_id,
        holder=holder,
        actor=f"key:{holder}",
        action="remove",
        facts="Footage of an attack with praise of the perpetrator.",
        policy_id=policy,
    )


def test_most_serious_removal_denies_live_for_30_days_then_allows(store, clock):
    svc = store.moderation
    d = decide_remove(svc)
    assert [(r.kind, r.feature) for r in d.restrictions] == [("feature", "live")]
    answer = svc.eligibility("author-1", "live")
    assert not answer.allowed
    assert answer.until == clock.now() + timedelta(days=30)
    assert svc.eligibility("author-1", "upload").allowed
    assert svc.eligibility("someone-else", "live").allowed
    clock.advance(timedelta(days=30, seconds=1))
    assert svc.eligibility("author-1", "live").allowed


def test_account_ladder_suspends_then_terminates(accord, clock):
    svc = accord.moderation
    suspensions = []
    for i in range(6):
        case_id = flag(svc, subject=f"spam-{i}", reason="spam").case_id
        svc.take_next("general", holder="m", role="moderator")
        d = svc.decide(
            case_id, holder="m", actor="key:m", action="remove", facts="spam", policy_id="spam"
        )
        suspensions.append([(r.kind, r.ends_at is not None) for r in d.restrictions])
        clock.advance(timedelta(days=1))  # strikes a day apart stay in force (90 days)
    assert suspensions[0] == []
    assert [s[0][0] for s in suspensions[1:5]] == ["suspension"] * 4
    assert suspensions[5] == [("termination", False)]
    answer = svc.eligibility("author-1", "live")
    assert not answer.allowed
    assert answer.reason == "the account is terminated"


def test_appeal_rules_and_reversal(store, clock):
    svc = store.moderation
    d = decide_remove(svc)
    with pytest.raises(PermissionDenied):
        svc.appeal(d.id, appellant="not-the-author", statement="unfair")
    with pytest.raises(PermissionDenied):
        svc.appeal(d.id, appellant="alice", statement="reporters may not appeal a removal")
    ap = svc.appeal(d.id, appellant="author-1", statement="It was news reporting.")
    with pytest.raises(Conflict, match="pending"):
        svc.appeal(d.id, appellant="author-1", statement="again")
    with pytest.raises(PermissionDenied, match="other than"):
        svc.decide_appeal(ap.id, reviewer="key:mod-a", outcome="reversed", reason="mine")
    done = svc.decide_appeal(ap.id, reviewer="key:mod-b", outcome="reversed", reason="newsworthy")
    assert done.state == "reversed"
    with pytest.raises(Conflict):
        svc.decide_appeal(ap.id, reviewer="key:mod-b", outcome="upheld", reason="again")
    assert svc.eligibility("author-1", "live").allowed
    decision = svc.decision(d.id)
    assert decision.reversed
    assert all(r.lifted for r in decision.restrictions)
    assert svc.case(decision.case_id).content_state == "restored"
    kinds = [e.kind for e in store.ledger.entries(0, 200)]
    for kind in (
        "moderation.appeal_opened",
        "moderation.appeal_decided",
        "moderation.strike_reversed",
        "moderation.restriction_lifted",
    ):
        assert kind in kinds


def test_appeal_out_of_time_is_gone(accord, clock):
    svc = accord.moderation
    d = decide_remove(svc)
    clock.advance(timedelta(days=svc.config.appeal_window_days + 1))
    with pytest.raises(Gone):
        svc.appeal(d.id, appellant="author-1", statement="too late")


def test_reporter_may_appeal_a_decision_not_to_act_and_it_reopens(accord):
    svc = accord.moderation
    case_id = flag(svc, reporter="alice").case_id
    svc.take_next("tve", holder="mod-a", role="moderator")
    d = svc.decide(case_id, holder="mod-a", actor="key:mod-a", action="none", facts="fine")
    with pytest.raises(PermissionDenied):
        svc.appeal(d.id, appellant="mallory", statement="I did not report it")
    ap = svc.appeal(d.id, appellant="alice", statement="It is an ISIS video")
    assert ap.appellant_kind == "reporter"
    svc.decide_appeal(ap.id, reviewer="key:mod-b", outcome="reversed", reason="missed")
    assert svc.case(case_id).state == "open"
    assert svc.take_next("tve", holder="mod-b", role="moderator").id == case_id


def test_triage_labels_and_escalates_to_the_senior_queue(accord):
    svc = accord.moderation
    case_id = flag(svc).case_id
    svc.take_next("tve", holder="triager", role="triage")
    svc.label(case_id, ["livestream-clip"], holder="triager", actor="key:t")
    moved = svc.escalate(case_id, holder="triager", actor="key:t", note="needs senior review")
    assert moved.queue == "senior"
    assert moved.labels == ["livestream-clip"]
    assert moved.lease_holder is None
    assert svc.take_next("senior", holder="lead", role="admin").id == case_id


def test_reporter_sees_own_reports_with_outcome(accord):
    svc = accord.moderation
    flag(svc, reporter="alice")
    flag(svc, subject="other", reporter="bob")
    mine = svc.reports_of("alice")
    assert [r.case_id for r in mine] == [1]
    assert mine[0].outcome is None
    with pytest.raises(NotFound):
        svc.report_view(2, reporter="alice")


def test_report_many_is_all_or_nothing(store):
    svc = store.moderation
    flags = [
        {
            "subject_type": "content",
            "subject_id": f"m{i % 3}",
            "reason": "spam",
            "reporter": f"r{i}",
            "account": "a",
        }
        for i in range(9)
    ]
    receipts = svc.report_many(flags)
    assert len({r.case_id for r in receipts}) == 3
    with pytest.raises(InvalidInput):
        svc.report_many([*flags, {**flags[0], "reason": "nonsense"}])
    assert count(store, reports) == 9


def test_trusted_flaggers_weigh_more_and_are_named_in_the_statement(accord, tmp_path):
    from accord.moderation.config import load_config
    from accord.moderation.service import ModerationService
    from tests.moderation.conftest import config_text

    path = tmp_path / "trusted.toml"
    path.write_text(
        config_text().replace("trusted_flaggers = []", 'trusted_flaggers = ["ngo-1"]'), "utf-8"
    )
    svc = ModerationService(accord.db, accord.ledger, accord.clock, load_config(path))
    by_user = flag(svc, subject="u", reporter="someone", reason="hate_speech")
    by_ngo = flag(svc, subject="t", reporter="ngo-1", reason="hate_speech")
    user_case, ngo_case = svc.case(by_user.case_id), svc.case(by_ngo.case_id)
    assert ngo_case.reports[0].source == "trusted_flagger"
    assert ngo_case.due_at < user_case.due_at  # a trusted notice is reviewed sooner
    taken = svc.take_next("general", holder="m", role="moderator")
    assert taken.id == ngo_case.id
    d = svc.decide(
        taken.id, holder="m", actor="key:m", action="remove", facts="slur", policy_id="hate.speech"
    )
    assert svc.statement(d.id)["source_type"] == "SOURCE_TRUSTED_FLAGGER"
    for i in range(svc.config.rate_limit.max_reports + 5):  # ten times the allowance
        flag(svc, subject=f"n{i}", reporter="ngo-1", reason="spam")


def _case_state(accord, prefix):
    with accord.db.read() as conn:
        rows = conn.execute(
            cases.select()
            .where(cases.c.subject_id.like(f"{prefix}%"))
            .order_by(cases.c.subject_id, cases.c.subject_type)
        ).all()
    return [
        (
            r.subject_id.removeprefix(prefix),
            r.subject_type,
            r.queue,
            r.reason,
            r.tier,
            r.reporters,
            round(r.reporter_weight, 6),
            r.automated,
            r.reach,
            r.account if r.account is None else r.account.removeprefix(prefix),
            round(r.due_at, 3),
        )
        for r in rows
    ]


@pytest.mark.parametrize("size", [7, 40])
def test_report_many_counts_as_one_report_at_a_time_would(store, size):
    """Batches (small: INSERT ... RETURNING; >= 32 rows: ids from the sequence + bulk
    insert) open, join and count cases exactly as single reports do: a repeated
    reporter counts once, within a batch and across batches; tier and reach only rise;
    automated reports mark the case; existing cases are joined."""
    svc = store.moderation
    flags = []
    for i in range(size * 3):
        automated = i % 11 == 0
        flags.append(
            {
                "subject_type": "account" if i % 13 == 0 else "content",
                "subject_id": f"s{i % 9}",
                "reason": "terrorism_violent_extremism" if i % 5 == 0 else "spam",
                "reporter": "bank:TCAP" if automated else f"r{i % 12}",
                "source": "automated" if automated else None,
                "account": None if i % 4 else f"acct-{i % 3}",
                "reach": (i * 37) % 1000,
                "labels": ["tve"] if automated else [],
            }
        )
    for f in flags:
        svc.report(**{**f, "subject_id": "one-" + f["subject_id"]})
    receipts = []
    for start in range(0, len(flags), size):
        chunk = flags[start : start + size]
        receipts += svc.report_many([{**f, "subject_id": "many-" + f["subject_id"]} for f in chunk])
    assert _case_state(store, "many-") == _case_state(store, "one-")
    assert [r.report_id for r in receipts] == sorted(r.report_id for r in receipts)
    with store.db.read() as conn:
        for r in receipts:
            row = conn.execute(reports.select().where(reports.c.id == r.report_id)).one()
            assert row.case_id == r.case_id
    opened = [r for r in receipts if not r.joined_existing_case]
    assert len(opened) == len({r.case_id for r in receipts})
    kinds = [e.kind for e in store.ledger.entries(0, store.ledger.size())]
    assert kinds.count("moderation.case_opened") == 2 * len(opened)
    assert kinds.count("moderation.report_received") == 2 * len(flags)

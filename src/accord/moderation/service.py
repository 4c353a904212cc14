"""The moderation service: reports -> cases -> queues -> decisions -> strikes -> appeals.

With its mixin :mod:`accord.moderation.publishing` (statements of reasons out,
redirect counts), the only place where the moderation domain meets storage. Every state change
runs in one ``db.write()`` transaction that also appends its ledger events
(people pseudonymised) and its webhook deliveries (the outbox), so a change,
its record and its notification commit together or not at all:

    report / report_many / report_match --> case (one open case per subject; reporters join it;
        a batch in a fixed number of set-based statements, see accord.moderation.ingest)
    take_next (lease) --> decide --> strike --> ladder --> restrictions --> statement of reasons
    appeal --> decide_appeal (another moderator) --> reversal lifts what the decision caused

Concurrency: a case row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; the
single writer on SQLite) before it changes; ``take_next`` skips rows locked by
another taker (``SKIP LOCKED``); deciding is a conditional update on the lease,
so of two moderators racing on one case exactly one wins and the other gets
:class:`~accord.errors.Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from accord.clock import Clock, format_time, parse_time
from accord.errors import (
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from accord.ledger.log import Ledger
from accord.moderation import dsa, ingest
from accord.moderation.config import ModerationConfig, Policy, Queue
from accord.moderation.model import (
    Action,
    Eligibility,
    Restriction,
    RestrictionKind,
    Source,
    SubjectType,
    case_urgency,
    eligibility,
    end_of,
    ladder_consequence,
    strikes_in_force,
)
from accord.moderation.publishing import PublishingMixin
from accord.moderation.redirect import RedirectIndex
from accord.moderation.tables import (
    appeals,
    cases,
    decisions,
    dsa_submissions,
    reports,
    restrictions,
    strikes,
)
from accord.moderation.webhooks import WebhookOutbox
from accord.store.engine import Database

__all__ = [
    "AppealView",
    "CaseView",
    "DecisionView",
    "ModerationService",
    "ReportReceipt",
    "ReportView",
    "match_flag",
]

AUTOMATED_DECISION = {
    "fully": "AUTOMATED_DECISION_FULLY",
    "partially": "AUTOMATED_DECISION_PARTIALLY",
    "not_automated": "AUTOMATED_DECISION_NOT_AUTOMATED",
}
ACCOUNT_ACTIONS = ("restrict_feature", "suspend", "terminate")


@dataclass(frozen=True, slots=True)
class ReportReceipt:
    report_id: int
    case_id: int
    queue: str
    joined_existing_case: bool


@dataclass(frozen=True, slots=True)
class ReportView:
    id: int
    case_id: int
    reason: str
    source: str
    text: str | None
    labels: list[str]
    created_at: str
    outcome: str | None = None
    reporter: str | None = None


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    subject_type: str
    subject_id: str
    account: str | None
    content_type: str | None
    queue: str
    state: str
    reason: str
    tier: str
    reporters: int
    automated: bool
    reach: int
    due_at: str
    opened_at: str
    lease_holder: str | None
    lease_expires: str | None
    labels: list[str]
    content_state: str
    reports: list[ReportView] = field(default_factory=list)
    decision_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RestrictionView:
    id: int
    kind: str
    feature: str | None
    ladder: str | None
    starts_at: str
    ends_at: str | None
    lifted: bool


@dataclass(frozen=True, slots=True)
class DecisionView:
    id: int
    case_id: int
    action: str
    policy_id: str | None
    facts: str
    automated_detection: bool
    automated_decision: str
    decided_by: str
    account: str | None
    created_at: str
    reversed: bool
    strike_ids: list[int] = field(default_factory=list)
    restrictions: list[RestrictionView] = field(default_factory=list)
    reversed_at: str | None = None
    statement_puid: str | None = None
    statement_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class AppealView:
    id: int
    decision_id: int
    appellant_kind: str
    statement: str
    state: str
    created_at: str
    decided_by: str | None
    decided_at: str | None
    outcome_reason: str | None


@dataclass(frozen=True, slots=True)
class _Flag:
    """A validated report, ready to be ingested."""

    stype: SubjectType
    subject_id: str
    reason: str
    reporter: str | None
    source: Source
    text: str | None
    account: str | None
    content_type: str | None
    content_date: datetime | None
    reach: int
    labels: tuple[str, ...]
    actor: str | None


def match_flag(
    *,
    subject_type: str,
    subject_id: str,
    bank_labels: Sequence[str],
    account: str | None = None,
    content_type: str | None = None,
    reach: int = 0,
    signal_type: str | None = None,
    bank: str | None = None,
    reason: str = "terrorism_violent_extremism",
    actor: str = "matcher",
) -> dict[str, Any]:
    """The automated report (keyword arguments of ``report``) of a hash match in ``bank``."""
    return {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "reason": reason,
        "reporter": f"bank:{bank}" if bank else "bank:unknown",
        "source": Source.AUTOMATED,
        "text": f"hash match ({signal_type or 'signal'}) in bank {bank or '?'}",
        "account": account,
        "content_type": content_type,
        "reach": reach,
        "labels": bank_labels,
        "actor": actor,
    }


def _subject_key(subject_type: str, subject_id: str) -> str:
    return f"{subject_type}:{subject_id}"


def _day(text: str) -> date:
    return parse_time(text).date()


class ModerationService(PublishingMixin):
    """Reports, cases, queues, decisions, strikes, restrictions, appeals, statements, redirects."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        config: ModerationConfig,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.config = config
        self.outbox = WebhookOutbox(config, clock)
        self._redirects = RedirectIndex(
            (r.id, r.locale, r.terms, [res.model_dump() for res in r.resources])
            for r in config.redirect
        )

    # ----------------------------------------------------------------- helpers

    def _p(self, identifier: str | None) -> str | None:
        return None if identifier is None else self.ledger.pseudonymize(identifier)

    def _lock(self, conn: Connection, query: Any) -> Any:
        return query.with_for_update() if conn.dialect.name == "postgresql" else query

    def _policy(self, policy_id: str) -> Policy:
        try:
            return self.config.policy_by_id[policy_id]
        except KeyError:
            raise InvalidInput(
                f"unknown policy {policy_id!r}; policies are: "
                + ", ".join(sorted(self.config.policy_by_id)),
                policy=policy_id,
            ) from None

    def _queue(self, queue_id: str) -> Queue:
        try:
            return self.config.queue_by_id[queue_id]
        except KeyError:
            raise NotFound(f"no queue {queue_id!r}", queue=queue_id) from None

    def _weight(self, source: Source) -> float:
        return float(getattr(self.config.weights, source.value))

    # ----------------------------------------------------------------- reports

    def _prepare(
        self,
        *,
        subject_type: str,
        subject_id: str,
        reason: str,
        reporter: str | None,
        source: Source | str | None = None,
        text: str | None = None,
        account: str | None = None,
        content_type: str | None = None,
        content_date: datetime | None = None,
        reach: int = 0,
        labels: Sequence[str] = (),
        actor: str | None = None,
    ) -> _Flag:
        try:
            stype = SubjectType(subject_type)
        except ValueError:
            raise InvalidInput(
                f"unknown subject type {subject_type!r}; types are: "
                + ", ".join(t.value for t in SubjectType),
                subject_type=subject_type,
            ) from None
        if not subject_id or len(subject_id) > 500:
            raise InvalidInput("subject_id must be 1 to 500 characters", subject_id=subject_id)
        if reason not in self.config.reasons:
            raise InvalidInput(
                f"unknown reason {reason!r}; reasons are: " + ", ".join(self.config.reasons),
                reason=reason,
            )
        if source is None:
            trusted = reporter is not None and reporter in self.config.trusted_flaggers
            src = Source.TRUSTED_FLAGGER if trusted else Source.USER
        else:
            src = Source(source)
        if src is not Source.AUTOMATED and not reporter:
            raise InvalidInput("a report needs a reporter (the key's subject account)")
        if stype is SubjectType.ACCOUNT and account is None:
            account = subject_id
        if reach < 0:
            raise InvalidInput("reach must not be negative", reach=reach)
        if text is not None and len(text) > 5000:
            raise InvalidInput("report text is limited to 5000 characters")
        return _Flag(
            stype=stype,
            subject_id=subject_id,
            reason=reason,
            reporter=reporter,
            source=src,
            text=text,
            account=account,
            content_type=content_type,
            content_date=content_date,
            reach=reach,
            labels=tuple(labels),
            actor=actor,
        )

    def report(self, **flag: Any) -> ReportReceipt:
        """Flag a subject. Reports on a subject with an open case join it; the reporter
        is rate-limited (trusted flaggers get ten times the allowance, machines none).

        Keyword arguments: ``subject_type``, ``subject_id``, ``reason``, ``reporter``,
        and optionally ``source``, ``text``, ``account``, ``content_type``,
        ``content_date``, ``reach``, ``labels``, ``actor``.
        """
        return self._ingest([self._prepare(**flag)])[0]

    def report_many(self, flags: Iterable[Mapping[str, Any]]) -> list[ReportReceipt]:
        """Ingest many reports in one transaction (all or none).

        The bulk path for automated sources and platforms that batch. A batch costs
        a fixed number of statements whatever its size: the reporters' rate counts,
        the open cases of its subjects, one insert of the cases it opens, one
        locking read of the cases it joins, the reporters already on those cases,
        the report rows, one update of the joined cases and one ledger append.

        Every report is validated before anything is written; an invalid one is
        refused with its position in the batch (``InvalidInput``, context ``item``).
        """
        prepared = []
        for item, f in enumerate(flags):
            try:
                prepared.append(self._prepare(**f))
            except InvalidInput as exc:
                raise InvalidInput(
                    f"report {item}: {exc.message}", item=item, **exc.context
                ) from None
        return self._ingest(prepared)

    def _ingest(self, prepared: Sequence[_Flag]) -> list[ReportReceipt]:
        if not prepared:
            return []
        now = self.clock.now()
        now_s = format_time(now)
        by_key: dict[str, list[_Flag]] = {}
        for f in prepared:
            by_key.setdefault(_subject_key(f.stype.value, f.subject_id), []).append(f)
        events: list[tuple[str, Mapping[str, Any], str | None]] = []
        with self.db.write() as conn:
            self._check_rates(conn, prepared, now)
            held, created = self._hold_cases(conn, by_key, now)
            for key in by_key:
                if key in created:
                    case = held[key]
                    events.append(
                        (
                            "moderation.case_opened",
                            {
                                "case": case["id"],
                                "queue": case["queue"],
                                "subject_type": case["subject_type"],
                                "account": self._p(by_key[key][0].account),
                            },
                            None,
                        )
                    )
            joined = [key for key in by_key if key not in created]
            ingest.update_cases(conn, self._join(conn, joined, held, by_key))
            rows: list[dict[str, Any]] = []
            opening: list[bool] = []
            first_seen: set[str] = set()
            for f in prepared:
                key = _subject_key(f.stype.value, f.subject_id)
                opening.append(key in created and key not in first_seen)
                first_seen.add(key)
                rows.append(
                    {
                        "case_id": held[key]["id"],
                        "reporter": f.reporter,
                        "source": f.source.value,
                        "reason": f.reason,
                        "text": f.text,
                        "labels": list(f.labels),
                        "created_at": now_s,
                    }
                )
            ids = ingest.insert_reports(conn, rows)
            receipts = []
            for f, row, report_id, new_case in zip(prepared, rows, ids, opening, strict=True):
                events.append(
                    (
                        "moderation.report_received",
                        {
                            "report": report_id,
                            "case": row["case_id"],
                            "reason": f.reason,
                            "source": f.source.value,
                            "subject_type": f.stype.value,
                            "reporter": (
                                self._p(f.reporter) if f.source is not Source.AUTOMATED else None
                            ),
                            "labels": list(f.labels),
                            "new_case": new_case,
                        },
                        f.actor,
                    )
                )
                case = held[_subject_key(f.stype.value, f.subject_id)]
                receipts.append(ReportReceipt(report_id, case["id"], case["queue"], not new_case))
            self.ledger.append_many(conn, events)
        return receipts

    def _fold(
        self, case: dict[str, Any], flags: Sequence[_Flag], known: set[str], *, opened: bool
    ) -> None:
        """Add ``flags`` (reports on one subject) to ``case`` in place: highest tier,
        one count per reporter not already in ``known``, largest reach, new urgency."""
        for f in flags:
            tier = self.config.reasons[f.reason].tier
            if self.config.tier_rank(tier) > self.config.tier_rank(case["tier"]):
                case["tier"] = tier
            if f.reporter is None or f.reporter not in known:
                case["reporters"] += 1
                case["reporter_weight"] += self._weight(f.source)
            if f.reporter is not None:
                known.add(f.reporter)
            case["reach"] = max(case["reach"], f.reach)
            case["automated"] = bool(case["automated"]) or f.source is Source.AUTOMATED
            case["account"] = case["account"] or f.account
        due = parse_time(case["opened_at"]).timestamp() + case_urgency(
            tier_hours=self.config.tiers[case["tier"]].review_within_hours,
            reporter_weight=case["reporter_weight"],
            reach=case["reach"],
        )
        case["due_at"] = due if opened else min(due, case["due_at"])

    def _new_case(self, key: str, flags: Sequence[_Flag], now: datetime) -> dict[str, Any]:
        """The row of a case opened by ``flags`` (its first report routes it), with
        every report of the batch already counted."""
        first = flags[0]
        tier = self.config.reasons[first.reason].tier
        case: dict[str, Any] = {
            "subject_type": first.stype.value,
            "subject_id": first.subject_id,
            "open_key": key,
            "account": first.account,
            "content_type": first.content_type,
            "content_date": format_time(first.content_date) if first.content_date else None,
            "queue": self.config.route(first.reason, first.source, first.stype).id,
            "reason": first.reason,
            "tier": tier,
            "reporters": 0,
            "reporter_weight": 0.0,
            "automated": False,
            "reach": 0,
            "due_at": 0.0,
            "opened_at": format_time(now),
        }
        self._fold(case, flags, set(), opened=True)
        return case

    def _hold_cases(
        self, conn: Connection, by_key: Mapping[str, Sequence[_Flag]], now: datetime
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """The open case of every subject key, held for this transaction, opening the
        missing ones; returns ``(case row by key, keys of the cases opened here)``.

        Opening is ``INSERT ... ON CONFLICT (open_key) DO NOTHING``: when a
        concurrent transaction opened the same subject's case first, the insert
        waits for it and skips the row, and the report joins the winner's case.
        On PostgreSQL a batch of several subjects never waits for a row lock
        while it holds another: it reads the open cases without locking, inserts
        the missing ones in key order (a second inserter of a key waits on the
        first), then locks the existing ones in key order. One subject, or
        SQLite's single writer, locks first and inserts what is missing.
        """
        keys = sorted(by_key)
        pg = conn.dialect.name == "postgresql"
        held: dict[str, dict[str, Any]] = {}
        created: set[str] = set()
        lock_first = not pg or len(keys) == 1
        seen = ingest.open_cases(conn, keys, lock=lock_first)
        if lock_first:
            held.update(seen)
        for _ in range(3):
            missing = [k for k in keys if k not in held and k not in seen]
            if missing:
                new = ingest.insert_cases(
                    conn, [self._new_case(k, by_key[k], now) for k in missing]
                )
                held.update(new)
                created.update(new)
            wanted = [k for k in keys if k not in held]
            if not wanted:
                return held, created
            # The cases seen unlocked, and those another transaction opened first.
            seen = ingest.open_cases(conn, wanted, lock=True)
            held.update(seen)
        raise Conflict("the cases of these subjects keep changing; try again")  # pragma: no cover

    def _join(
        self,
        conn: Connection,
        joined: Sequence[str],
        held: Mapping[str, dict[str, Any]],
        by_key: Mapping[str, Sequence[_Flag]],
    ) -> list[dict[str, Any]]:
        """Fold the reports into the cases they join (held, existing before this batch);
        returns the changed cases."""
        if not joined:
            return []
        people = sorted({f.reporter for k in joined for f in by_key[k] if f.reporter is not None})
        known: dict[int, set[str]] = {held[k]["id"]: set() for k in joined}
        for case_id, reporter in ingest.known_reporters(conn, sorted(known), people):
            known[case_id].add(reporter)
        for key in joined:
            case = held[key]
            self._fold(case, by_key[key], known[case["id"]], opened=False)
        return [held[key] for key in joined]

    def _check_rates(self, conn: Connection, flags: Sequence[_Flag], now: datetime) -> None:
        limit = self.config.rate_limit
        people = sorted(
            {f.reporter for f in flags if f.reporter and f.source is not Source.AUTOMATED}
        )
        if not people:
            return
        since = format_time(now - timedelta(seconds=limit.window_seconds))
        counts = ingest.rate_counts(conn, people, since)
        for f in flags:
            if f.source is Source.AUTOMATED or not f.reporter:
                continue
            allowance = limit.max_reports * (10 if f.source is Source.TRUSTED_FLAGGER else 1)
            counts[f.reporter] = counts.get(f.reporter, 0) + 1
            if counts[f.reporter] > allowance:
                raise RateLimited(
                    f"too many reports from {f.reporter!r}: at most {allowance} "
                    f"per {limit.window_seconds} s",
                    retry_after=limit.window_seconds,
                    reporter=f.reporter,
                )

    def report_match(self, **match: Any) -> ReportReceipt:
        """An automated report from a hash match, carrying the bank's labels.

        The matcher calls this for each upload that matched a bank of terrorist or
        violent extremist content; repeated matches of one subject from one bank
        join the case once (the bank is the "reporter"). Keyword arguments are those
        of :func:`match_flag`; :meth:`report_many` over several match flags files
        the matches of many banks in one transaction.
        """
        return self.report(**match_flag(**match))

    def reports_of(self, reporter: str) -> list[ReportView]:
        """A reporter's own reports, with the outcome of their case."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(reports, cases.c.state, cases.c.content_state)
                .join(cases, cases.c.id == reports.c.case_id)
                .where(reports.c.reporter == reporter)
                .order_by(reports.c.id)
            ).all()
        return [
            ReportView(
                r.id,
                r.case_id,
                r.reason,
                r.source,
                r.text,
                list(r.labels or []),
                r.created_at,
                outcome=None if r.state == "open" else r.content_state,
            )
            for r in rows
        ]

    def report_view(self, report_id: int, *, reporter: str | None) -> ReportView:
        """One report; when ``reporter`` is given, only if it is theirs (else 404)."""
        mine = self.reports_of(reporter) if reporter is not None else None
        if mine is not None:
            for own in mine:
                if own.id == report_id:
                    return own
            raise NotFound(f"no report {report_id} of yours", report=report_id)
        with self.db.read() as conn:
            row = conn.execute(select(reports).where(reports.c.id == report_id)).first()
        if row is None:
            raise NotFound(f"no report {report_id}", report=report_id)
        r = row
        return ReportView(
            r.id,
            r.case_id,
            r.reason,
            r.source,
            r.text,
            list(r.labels or []),
            r.created_at,
            reporter=r.reporter,
        )

    # ----------------------------------------------------------------- cases, queues, leases

    def case(self, case_id: int) -> CaseView:
        with self.db.read() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
            if row is None:
                raise NotFound(f"no case {case_id}", case=case_id)
            rep = conn.execute(
                select(reports).where(reports.c.case_id == case_id).order_by(reports.c.id)
            ).all()
            dec = (
                conn.execute(
                    select(decisions.c.id)
                    .where(decisions.c.case_id == case_id)
                    .order_by(decisions.c.id)
                )
                .scalars()
                .all()
            )
        return self._case_view(row, rep, list(dec))

    def _case_view(
        self, row: Row[Any], rep: Iterable[Row[Any]] = (), dec: list[int] | None = None
    ) -> CaseView:
        return CaseView(
            id=row.id,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            account=row.account,
            content_type=row.content_type,
            queue=row.queue,
            state=row.state,
            reason=row.reason,
            tier=row.tier,
            reporters=row.reporters,
            automated=bool(row.automated),
            reach=row.reach,
            due_at=format_time(datetime.fromtimestamp(row.due_at, tz=self.clock.now().tzinfo)),
            opened_at=row.opened_at,
            lease_holder=row.lease_holder,
            lease_expires=row.lease_expires,
            labels=list(row.labels or []),
            content_state=row.content_state,
            reports=[
                ReportView(
                    r.id,
                    r.case_id,
                    r.reason,
                    r.source,
                    r.text,
                    list(r.labels or []),
                    r.created_at,
                    reporter=r.reporter,
                )
                for r in rep
            ],
            decision_ids=dec or [],
        )

    def queues_for(self, role: str) -> list[Queue]:
        return [q for q in self.config.queues if role in q.roles or role == "admin"]

    def take_next(self, queue_id: str, *, holder: str, role: str) -> CaseView | None:
        """Lease the most urgent open case of ``queue_id`` to ``holder`` (``None``: queue empty).

        A case whose lease expired is free again; ``SKIP LOCKED`` lets concurrent
        takers on PostgreSQL pass over a row another is taking.
        """
        queue = self._queue(queue_id)
        if role != "admin" and role not in queue.roles:
            raise PermissionDenied(
                f"a {role} key may not take cases from queue {queue_id!r}", queue=queue_id
            )
        now = self.clock.now()
        now_s = format_time(now)
        until = format_time(now + timedelta(seconds=self.config.lease_seconds))
        free = or_(cases.c.lease_holder.is_(None), cases.c.lease_expires <= now_s)
        with self.db.write() as conn:
            first = (
                select(cases.c.id)
                .where(cases.c.queue == queue.id, cases.c.state == "open", free)
                .order_by(cases.c.due_at, cases.c.id)
                .limit(1)
            )
            if conn.dialect.name == "postgresql":
                first = first.with_for_update(skip_locked=True)
            # One statement finds and leases the case (UPDATE ... WHERE id = (SELECT ...)).
            row = conn.execute(
                update(cases)
                .where(cases.c.id == first.scalar_subquery(), free)
                .values(lease_holder=holder, lease_expires=until)
                .returning(*cases.c)
            ).first()
            if row is None:
                return None
            rep = conn.execute(
                select(reports).where(reports.c.case_id == row.id).order_by(reports.c.id)
            ).all()
        return self._case_view(row, rep)

    def _held(self, conn: Connection, case_id: int, holder: str, now: datetime) -> Row[Any]:
        row = conn.execute(self._lock(conn, select(cases).where(cases.c.id == case_id))).first()
        if row is None:
            raise NotFound(f"no case {case_id}", case=case_id)
        if row.state != "open":
            raise Conflict(f"case {case_id} is already decided", case=case_id)
        leased = row.lease_holder is not None and row.lease_expires > format_time(now)
        if not leased:
            raise Conflict(
                f"case {case_id} is not leased to you: take it from its queue first",
                case=case_id,
            )
        if row.lease_holder != holder:
            raise Conflict(f"case {case_id} is held by another moderator", case=case_id)
        return row

    def release(self, case_id: int, *, holder: str) -> None:
        with self.db.write() as conn:
            self._held(conn, case_id, holder, self.clock.now())
            conn.execute(
                update(cases)
                .where(cases.c.id == case_id)
                .values(lease_holder=None, lease_expires=None)
            )

    def label(self, case_id: int, labels: Sequence[str], *, holder: str, actor: str) -> CaseView:
        """Add labels to a held case (triage and moderators)."""
        clean = sorted({lab.strip() for lab in labels if lab.strip()})
        if not clean or any(len(lab) > 64 for lab in clean):
            raise InvalidInput("labels must be 1 to 64 characters each, at least one")
        with self.db.write() as conn:
            row = self._held(conn, case_id, holder, self.clock.now())
            merged = sorted(set(row.labels or []) | set(clean))
            conn.execute(update(cases).where(cases.c.id == case_id).values(labels=merged))
            self.ledger.append(
                conn, "moderation.case_labelled", {"case": case_id, "labels": clean}, actor=actor
            )
        return self.case(case_id)

    def escalate(
        self, case_id: int, *, holder: str, actor: str, note: str | None = None
    ) -> CaseView:
        """Move a held case to its queue's senior queue and release it."""
        with self.db.write() as conn:
            row = self._held(conn, case_id, holder, self.clock.now())
            target = self._queue(row.queue).escalate_to
            if target is None:
                raise Conflict(f"queue {row.queue!r} has no queue to escalate to", case=case_id)
            conn.execute(
                update(cases)
                .where(cases.c.id == case_id)
                .values(queue=target, lease_holder=None, lease_expires=None)
            )
            self.ledger.append(
                conn,
                "moderation.case_escalated",
                {"case": case_id, "from": row.queue, "to": target, "note": note},
                actor=actor,
            )
        return self.case(case_id)

    # ----------------------------------------------------------------- decisions

    def decide(
        self,
        case_id: int,
        *,
        holder: str,
        actor: str,
        action: str,
        facts: str,
        policy_id: str | None = None,
        automated_decision: str = "not_automated",
        account_action: str | None = None,
        account_days: int | None = None,
        feature: str | None = None,
        content_language: str | None = None,
    ) -> DecisionView:
        """Decide a case held under lease by ``holder``.

        ``action`` applies to the content; a policy is required unless it is
        ``none``. A strike is recorded against the account under the policy's
        tier, every configured ladder is evaluated, and the restrictions they
        impose (plus an optional explicit ``account_action``) are written with the
        decision, its statement of reasons, ledger events and webhooks.
        """
        try:
            act = Action(action)
        except ValueError:
            raise InvalidInput(
                f"unknown action {action!r}; actions are: " + ", ".join(a.value for a in Action),
                action=action,
            ) from None
        if automated_decision not in AUTOMATED_DECISION:
            raise InvalidInput(
                "automated_decision must be one of: " + ", ".join(AUTOMATED_DECISION)
            )
        if not facts.strip() or len(facts) > 5000:
            raise InvalidInput("facts must be 1 to 5000 characters")
        policy = self._policy(policy_id) if policy_id is not None else None
        if act is not Action.NONE and policy is None:
            raise InvalidInput("a decision that restricts content must name its policy")
        if account_action is not None:
            if account_action not in ACCOUNT_ACTIONS:
                raise InvalidInput("account_action must be one of: " + ", ".join(ACCOUNT_ACTIONS))
            if policy is None:
                raise InvalidInput("an account action must name its policy")
            if account_action != "terminate" and (account_days is None or account_days < 1):
                raise InvalidInput("a suspension or feature restriction needs days >= 1")
            if account_action == "restrict_feature" and not feature:
                raise InvalidInput("restrict_feature needs the feature (for example 'live')")
        now = self.clock.now()
        now_s = format_time(now)
        with self.db.write() as conn:
            row = self._held(conn, case_id, holder, now)
            account = row.account
            if account_action is not None and account is None:
                raise InvalidInput("this case's subject has no account to act on")
            done = conn.execute(
                update(cases)
                .where(
                    cases.c.id == case_id,
                    cases.c.state == "open",
                    cases.c.lease_holder == holder,
                )
                .values(
                    state="decided",
                    open_key=None,
                    closed_at=now_s,
                    lease_holder=None,
                    lease_expires=None,
                    content_state="visible" if act is Action.NONE else act.value,
                )
            ).rowcount
            if done != 1:
                raise Conflict(f"case {case_id} is held by another moderator", case=case_id)
            detection = bool(row.automated)
            decision_id = conn.execute(
                insert(decisions)
                .values(
                    case_id=case_id,
                    action=act.value,
                    policy_id=policy.id if policy else None,
                    facts=facts,
                    automated_detection=detection,
                    automated_decision=AUTOMATED_DECISION[automated_decision],
                    decided_by=actor,
                    account=account,
                    created_at=now_s,
                    reversed=False,
                )
                .returning(decisions.c.id)
            ).scalar_one()
            # what transparency reports need, carried by the event itself (accord.reporting)
            flagged = conn.execute(
                select(reports.c.source, reports.c.labels).where(reports.c.case_id == case_id)
            ).all()
            sources = sorted({s for s, _ in flagged})
            match_labels = sorted(
                {lab for s, labs in flagged if s == Source.AUTOMATED.value for lab in labs or []}
            )
            events: list[tuple[str, Mapping[str, Any], str | None]] = [
                (
                    "moderation.decision_made",
                    {
                        "decision": decision_id,
                        "case": case_id,
                        "action": act.value,
                        "policy": policy.id if policy else None,
                        "account": self._p(account),
                        "automated_detection": detection,
                        "automated_decision": AUTOMATED_DECISION[automated_decision],
                        "category": policy.dsa_category if policy else None,
                        "ground": policy.ground if policy else None,
                        "reason": row.reason,
                        "subject_type": row.subject_type,
                        "opened_at": row.opened_at,
                        "sources": sources,
                        "match_labels": match_labels,
                    },
                    actor,
                )
            ]
            strike_ids: list[int] = []
            made: list[dict[str, Any]] = []
            if policy is not None and account is not None and act is not Action.NONE:
                tier = self.config.tiers[policy.tier]
                strike_id = conn.execute(
                    insert(strikes)
                    .values(
                        account=account,
                        decision_id=decision_id,
                        policy_id=policy.id,
                        tier=policy.tier,
                        created_at=now_s,
                        expires_at=format_time(now + timedelta(days=tier.strike_expiry_days)),
                        reversed=False,
                    )
                    .returning(strikes.c.id)
                ).scalar_one()
                strike_ids.append(strike_id)
                events.append(
                    (
                        "moderation.strike_added",
                        {
                            "strike": strike_id,
                            "decision": decision_id,
                            "account": self._p(account),
                            "tier": policy.tier,
                            "policy": policy.id,
                            "expires": format_time(now + timedelta(days=tier.strike_expiry_days)),
                        },
                        actor,
                    )
                )
                history = [
                    (s.tier, parse_time(s.created_at), parse_time(s.expires_at), bool(s.reversed))
                    for s in conn.execute(select(strikes).where(strikes.c.account == account)).all()
                ]
                for ladder in self.config.ladder_rules:
                    count = strikes_in_force(history, ladder.tiers, now)
                    consequence = ladder_consequence(ladder, count, policy.tier)
                    if consequence.kind is None:
                        continue
                    made.append(
                        {
                            "kind": consequence.kind.value,
                            "feature": consequence.feature,
                            "ladder": ladder.id,
                            "days": consequence.days,
                            "strike_number": consequence.strike_number,
                        }
                    )
            if account_action is not None:
                kind = {
                    "restrict_feature": RestrictionKind.FEATURE,
                    "suspend": RestrictionKind.SUSPENSION,
                    "terminate": RestrictionKind.TERMINATION,
                }[account_action]
                made.append(
                    {
                        "kind": kind.value,
                        "feature": feature if kind is RestrictionKind.FEATURE else None,
                        "ladder": None,
                        "days": None if kind is RestrictionKind.TERMINATION else account_days,
                        "strike_number": None,
                    }
                )
            restriction_views: list[RestrictionView] = []
            for item in made:
                ends = end_of(now, item["days"])
                rid = conn.execute(
                    insert(restrictions)
                    .values(
                        account=account,
                        kind=item["kind"],
                        feature=item["feature"],
                        ladder=item["ladder"],
                        starts_at=now_s,
                        ends_at=format_time(ends) if ends else None,
                        decision_id=decision_id,
                        lifted=False,
                    )
                    .returning(restrictions.c.id)
                ).scalar_one()
                item["ends"] = ends
                restriction_views.append(
                    RestrictionView(
                        rid,
                        item["kind"],
                        item["feature"],
                        item["ladder"],
                        now_s,
                        format_time(ends) if ends else None,
                        False,
                    )
                )
                events.append(
                    (
                        "moderation.restriction_applied",
                        {
                            "restriction": rid,
                            "decision": decision_id,
                            "account": self._p(account),
                            "kind": item["kind"],
                            "feature": item["feature"],
                            "ladder": item["ladder"],
                            "ends": format_time(ends) if ends else None,
                        },
                        actor,
                    )
                )
            statement: dict[str, Any] | None = None
            if policy is not None and (act is not Action.NONE or made):
                statement = dsa.build_statement(
                    puid=f"{self.config.platform_prefix}-decision-{decision_id}",
                    action=act.value,
                    sources=sources,
                    automated_detection=detection,
                    automated_decision=AUTOMATED_DECISION[automated_decision],
                    policy=policy.model_dump(),
                    facts=facts,
                    content_type=(
                        "livestream"
                        if row.subject_type == SubjectType.LIVESTREAM.value
                        else row.content_type
                    ),
                    content_date=_day(row.content_date or row.opened_at),
                    application_date=now.date(),
                    territorial_scope=self.config.territorial_scope,
                    restrictions=[
                        {"kind": m["kind"], "ends": m["ends"].date() if m["ends"] else None}
                        for m in made
                    ],
                    content_language=content_language,
                )
                problems = dsa.validate_statement(statement)
                if problems:
                    raise InvalidInput(
                        "the statement of reasons would not validate: " + "; ".join(problems)
                    )
                conn.execute(
                    update(decisions)
                    .where(decisions.c.id == decision_id)
                    .values(statement=statement)
                )
            self.ledger.append_many(conn, events)
            reporters = [
                r
                for (r,) in conn.execute(
                    select(reports.c.reporter)
                    .where(reports.c.case_id == case_id, reports.c.source != "automated")
                    .distinct()
                ).all()
                if r
            ]
            self.outbox.enqueue(
                conn,
                "decision.made",
                {
                    "decision_id": decision_id,
                    "case_id": case_id,
                    "subject_type": row.subject_type,
                    "subject_id": row.subject_id,
                    "account": account,
                    "action": act.value,
                    "policy": policy.id if policy else None,
                    "statement_of_reasons": statement,
                },
            )
            for view in restriction_views:
                self.outbox.enqueue(
                    conn,
                    "restriction.applied",
                    {
                        "decision_id": decision_id,
                        "account": account,
                        "kind": view.kind,
                        "feature": view.feature,
                        "ends_at": view.ends_at,
                    },
                )
            if reporters:
                self.outbox.enqueue(
                    conn,
                    "report.outcome",
                    {
                        "decision_id": decision_id,
                        "case_id": case_id,
                        "reporters": reporters,
                        "action": act.value,
                        "may_appeal": act is Action.NONE,
                    },
                )
        return DecisionView(
            id=decision_id,
            case_id=case_id,
            action=act.value,
            policy_id=policy.id if policy else None,
            facts=facts,
            automated_detection=detection,
            automated_decision=AUTOMATED_DECISION[automated_decision],
            decided_by=actor,
            account=account,
            created_at=now_s,
            reversed=False,
            strike_ids=strike_ids,
            restrictions=restriction_views,
        )

    def decision(self, decision_id: int) -> DecisionView:
        with self.db.read() as conn:
            row = conn.execute(select(decisions).where(decisions.c.id == decision_id)).first()
            if row is None:
                raise NotFound(f"no decision {decision_id}", decision=decision_id)
            sid = (
                conn.execute(select(strikes.c.id).where(strikes.c.decision_id == decision_id))
                .scalars()
                .all()
            )
            rs = conn.execute(
                select(restrictions).where(restrictions.c.decision_id == decision_id)
            ).all()
            uuid = conn.execute(
                select(dsa_submissions.c.uuid).where(dsa_submissions.c.decision_id == decision_id)
            ).scalar()
        return DecisionView(
            id=row.id,
            case_id=row.case_id,
            action=row.action,
            policy_id=row.policy_id,
            facts=row.facts,
            automated_detection=bool(row.automated_detection),
            automated_decision=row.automated_decision,
            decided_by=row.decided_by,
            account=row.account,
            created_at=row.created_at,
            reversed=bool(row.reversed),
            strike_ids=list(sid),
            restrictions=[
                RestrictionView(
                    r.id, r.kind, r.feature, r.ladder, r.starts_at, r.ends_at, bool(r.lifted)
                )
                for r in rs
            ],
            reversed_at=row.reversed_at,
            statement_puid=row.statement["puid"] if row.statement else None,
            statement_uuid=uuid,
        )

    def statement(self, decision_id: int) -> dict[str, Any]:
        """The DSA statement of reasons of a decision (404: the decision restricted nothing)."""
        with self.db.read() as conn:
            row = conn.execute(
                select(decisions.c.statement).where(decisions.c.id == decision_id)
            ).first()
        if row is None:
            raise NotFound(f"no decision {decision_id}", decision=decision_id)
        if row.statement is None:
            raise NotFound(
                f"decision {decision_id} restricted nothing, so it has no statement of reasons",
                decision=decision_id,
            )
        return dict(row.statement)

    def reporters_of_case(self, case_id: int) -> list[str]:
        with self.db.read() as conn:
            return [
                r
                for (r,) in conn.execute(
                    select(reports.c.reporter).where(reports.c.case_id == case_id).distinct()
                ).all()
                if r
            ]

    # ----------------------------------------------------------------- eligibility

    def eligibility(self, account: str, feature: str) -> Eligibility:
        """May ``account`` use ``feature`` now? With the reason and the end date if not."""
        if not feature or len(feature) > 64:
            raise InvalidInput("feature must be 1 to 64 characters")
        with self.db.read() as conn:
            rows = conn.execute(
                select(restrictions).where(
                    restrictions.c.account == account, restrictions.c.lifted.is_(False)
                )
            ).all()
        return eligibility(
            (
                Restriction(
                    kind=RestrictionKind(r.kind),
                    starts=parse_time(r.starts_at),
                    ends=parse_time(r.ends_at) if r.ends_at else None,
                    feature=r.feature,
                    lifted=bool(r.lifted),
                    decision_id=r.decision_id,
                )
                for r in rows
            ),
            feature,
            self.clock.now(),
        )

    # ----------------------------------------------------------------- appeals

    def appeal(
        self, decision_id: int, *, appellant: str | None, statement: str, actor: str | None = None
    ) -> AppealView:
        """Appeal a decision: the affected account, or a reporter of a decision not to act.

        Within the configured window, one pending appeal per decision at a time.
        """
        if appellant is None:
            raise PermissionDenied("only a key that speaks for an account (its subject) may appeal")
        if not statement.strip() or len(statement) > 5000:
            raise InvalidInput("the appeal statement must be 1 to 5000 characters")
        now = self.clock.now()
        now_s = format_time(now)
        with self.db.write() as conn:
            row = conn.execute(
                self._lock(conn, select(decisions).where(decisions.c.id == decision_id))
            ).first()
            if row is None:
                raise NotFound(f"no decision {decision_id}", decision=decision_id)
            if row.account is not None and appellant == row.account:
                kind = "affected"
            else:
                reporter = conn.execute(
                    select(reports.c.id)
                    .where(reports.c.case_id == row.case_id, reports.c.reporter == appellant)
                    .limit(1)
                ).first()
                if reporter is None:
                    raise PermissionDenied(
                        "you may appeal only decisions about your own account or content, "
                        "or decisions on your own reports",
                        decision=decision_id,
                    )
                if row.action != Action.NONE.value:
                    raise PermissionDenied(
                        "a reporter may appeal only a decision not to act", decision=decision_id
                    )
                kind = "reporter"
            deadline = parse_time(row.created_at) + timedelta(days=self.config.appeal_window_days)
            if now > deadline:
                raise Gone(
                    f"the appeal window closed on {format_time(deadline)}",
                    decision=decision_id,
                )
            if row.reversed:
                raise Conflict(f"decision {decision_id} was already reversed", decision=decision_id)
            try:
                with conn.begin_nested():
                    appeal_id = conn.execute(
                        insert(appeals)
                        .values(
                            decision_id=decision_id,
                            appellant=appellant,
                            appellant_kind=kind,
                            statement=statement,
                            state="pending",
                            pending_key=decision_id,
                            created_at=now_s,
                        )
                        .returning(appeals.c.id)
                    ).scalar_one()
            except IntegrityError:
                raise Conflict(
                    f"decision {decision_id} already has a pending appeal", decision=decision_id
                ) from None
            self.ledger.append(
                conn,
                "moderation.appeal_opened",
                {
                    "appeal": appeal_id,
                    "decision": decision_id,
                    "appellant": self._p(appellant),
                    "appellant_kind": kind,
                },
                actor=actor,
            )
            self.outbox.enqueue(
                conn,
                "appeal.opened",
                {"appeal_id": appeal_id, "decision_id": decision_id, "appellant_kind": kind},
            )
        return self.appeal_view(appeal_id)

    def appellant_of(self, appeal_id: int) -> str:
        with self.db.read() as conn:
            who = conn.execute(
                select(appeals.c.appellant).where(appeals.c.id == appeal_id)
            ).scalar()
        if who is None:
            raise NotFound(f"no appeal {appeal_id}", appeal=appeal_id)
        return str(who)

    def appeal_view(self, appeal_id: int) -> AppealView:
        with self.db.read() as conn:
            r = conn.execute(select(appeals).where(appeals.c.id == appeal_id)).first()
        if r is None:
            raise NotFound(f"no appeal {appeal_id}", appeal=appeal_id)
        return AppealView(
            r.id,
            r.decision_id,
            r.appellant_kind,
            r.statement,
            r.state,
            r.created_at,
            r.decided_by,
            r.decided_at,
            r.outcome_reason,
        )

    def decide_appeal(
        self, appeal_id: int, *, reviewer: str, outcome: str, reason: str
    ) -> AppealView:
        """Uphold or reverse; the reviewer must not be the moderator who decided.

        A reversal restores the content, reverses the decision's strikes and lifts
        the restrictions it caused; reversing a decision not to act reopens the case.
        """
        if outcome not in ("upheld", "reversed"):
            raise InvalidInput("outcome must be 'upheld' or 'reversed'", outcome=outcome)
        if not reason.strip() or len(reason) > 5000:
            raise InvalidInput("the reason must be 1 to 5000 characters")
        now = self.clock.now()
        now_s = format_time(now)
        with self.db.write() as conn:
            ap = conn.execute(
                self._lock(conn, select(appeals).where(appeals.c.id == appeal_id))
            ).first()
            if ap is None:
                raise NotFound(f"no appeal {appeal_id}", appeal=appeal_id)
            if ap.state != "pending":
                raise Conflict(f"appeal {appeal_id} is already decided", appeal=appeal_id)
            dec = conn.execute(
                self._lock(conn, select(decisions).where(decisions.c.id == ap.decision_id))
            ).one()
            if dec.decided_by == reviewer:
                raise PermissionDenied(
                    "an appeal must be reviewed by a moderator other than the one who decided",
                    appeal=appeal_id,
                )
            conn.execute(
                update(appeals)
                .where(appeals.c.id == appeal_id)
                .values(
                    state=outcome,
                    pending_key=None,
                    decided_by=reviewer,
                    decided_at=now_s,
                    outcome_reason=reason,
                )
            )
            events: list[tuple[str, Mapping[str, Any], str | None]] = [
                (
                    "moderation.appeal_decided",
                    {
                        "appeal": appeal_id,
                        "decision": dec.id,
                        "outcome": outcome,
                        # for transparency reports (accord.reporting): handling time, accuracy
                        "opened_at": ap.created_at,
                        "action": dec.action,
                        "policy": dec.policy_id,
                        "automated_decision": dec.automated_decision,
                        "appellant_kind": ap.appellant_kind,
                    },
                    reviewer,
                )
            ]
            lifted: list[int] = []
            if outcome == "reversed":
                conn.execute(
                    update(decisions)
                    .where(decisions.c.id == dec.id)
                    .values(reversed=True, reversed_at=now_s)
                )
                if dec.action == Action.NONE.value:
                    self._reopen(conn, dec.case_id)
                else:
                    conn.execute(
                        update(cases)
                        .where(cases.c.id == dec.case_id)
                        .values(content_state="restored")
                    )
                sids = (
                    conn.execute(
                        select(strikes.c.id).where(
                            strikes.c.decision_id == dec.id, strikes.c.reversed.is_(False)
                        )
                    )
                    .scalars()
                    .all()
                )
                if sids:
                    conn.execute(
                        update(strikes).where(strikes.c.id.in_(sids)).values(reversed=True)
                    )
                for sid in sids:
                    events.append(("moderation.strike_reversed", {"strike": sid}, reviewer))
                lifted = list(
                    conn.execute(
                        select(restrictions.c.id).where(
                            restrictions.c.decision_id == dec.id,
                            restrictions.c.lifted.is_(False),
                        )
                    )
                    .scalars()
                    .all()
                )
                if lifted:
                    conn.execute(
                        update(restrictions)
                        .where(restrictions.c.id.in_(lifted))
                        .values(lifted=True)
                    )
                for rid in lifted:
                    events.append(
                        (
                            "moderation.restriction_lifted",
                            {
                                "restriction": rid,
                                "decision": dec.id,
                                "account": self._p(dec.account),
                            },
                            reviewer,
                        )
                    )
            self.ledger.append_many(conn, events)
            # The Transparency Database takes statements and never changes or withdraws
            # one (its API: POST statement(s), GET by uuid or puid), so the statement of
            # a reversed decision stays as submitted; the platform learns of the reversal
            # here, with the statement's puid, and tells the person it concerns.
            submitted = conn.execute(
                select(dsa_submissions.c.uuid).where(dsa_submissions.c.decision_id == dec.id)
            ).first()
            self.outbox.enqueue(
                conn,
                "appeal.decided",
                {
                    "statement_puid": dec.statement["puid"] if dec.statement else None,
                    "statement_uuid": submitted.uuid if submitted else None,
                    "appeal_id": appeal_id,
                    "decision_id": dec.id,
                    "outcome": outcome,
                    "account": dec.account,
                    "appellant": ap.appellant,
                    "content_restored": outcome == "reversed" and dec.action != Action.NONE.value,
                    "restrictions_lifted": lifted,
                },
            )
        return self.appeal_view(appeal_id)

    def _reopen(self, conn: Connection, case_id: int) -> None:
        row = conn.execute(select(cases).where(cases.c.id == case_id)).one()
        key = _subject_key(row.subject_type, row.subject_id)
        try:
            with conn.begin_nested():
                conn.execute(
                    update(cases)
                    .where(cases.c.id == case_id)
                    .values(state="open", open_key=key, closed_at=None)
                )
        except IntegrityError:
            # A newer case on the subject is open already; the reporters' appeal
            # is recorded, and that case carries the subject forward.
            return
        self.ledger.append(conn, "moderation.case_reopened", {"case": case_id})

    def appeals_of_decision(self, decision_id: int) -> list[AppealView]:
        with self.db.read() as conn:
            ids = (
                conn.execute(select(appeals.c.id).where(appeals.c.decision_id == decision_id))
                .scalars()
                .all()
            )
        return [self.appeal_view(i) for i in ids]

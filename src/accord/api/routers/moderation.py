"""``/v1`` moderation routes: reports, cases and queues, decisions, appeals, statements,
eligibility and counter-narrative redirects.

Each route is a few lines over :class:`accord.moderation.service.ModerationService`;
the rules of who may see what live here only where they depend on the caller's
key: a reporter sees only their own reports, a user may only appeal decisions
about their own account and read their own eligibility and statements, a
moderator or triage key sees only the queues configured for its role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from accord.api.deps import AccordDep, PrincipalDep, requires
from accord.errors import PermissionDenied
from accord.keys.model import Role, permits
from accord.keys.service import Principal
from accord.moderation.service import CaseView, ModerationService

router = APIRouter(tags=["moderation"])

Reporter = Annotated[Principal, Depends(requires("moderation.report"))]
Reviewer = Annotated[Principal, Depends(requires("moderation.review"))]
Decider = Annotated[Principal, Depends(requires("moderation.decide"))]
Appellant = Annotated[Principal, Depends(requires("moderation.appeal"))]
Vetter = Annotated[Principal, Depends(requires("moderation.eligibility"))]
StatementReader = Annotated[Principal, Depends(requires("moderation.statements"))]
Searcher = Annotated[Principal, Depends(requires("moderation.redirect"))]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_type: Literal["content", "account", "livestream", "url"] = Field(
        description="What is reported."
    )
    subject_id: str = Field(
        min_length=1, max_length=500, description="The platform's id or the URL."
    )
    reason: str = Field(description="A reason id from the configured vocabulary, e.g. "
                        "'terrorism_violent_extremism'.")  # fmt: skip
    text: str | None = Field(default=None, max_length=5000, description="What the reporter says.")
    account: str | None = Field(
        default=None, max_length=200, description="The account that posted the content."
    )
    content_type: str | None = Field(
        default=None, description="text, image, video, audio, synthetic_media, app, product."
    )
    content_date: datetime | None = Field(default=None, description="When it was posted.")
    reach: int = Field(default=0, ge=0, description="Views, or live viewers for a livestream.")


class ReportReceiptOut(_Out):
    report_id: int
    case_id: int
    queue: str
    joined_existing_case: bool


class BatchReportIn(ReportIn):
    reporter: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The platform's account id of the person who flagged it. Only keys "
        "that relay their users' flags (permission moderation.relay) may name one; "
        "otherwise the key's own account reports.",
    )


class ReportBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: list[BatchReportIn] = Field(
        min_length=1, max_length=1000, description="1 to 1000 reports, ingested all or none."
    )


class ReportBatchOut(BaseModel):
    receipts: list[ReportReceiptOut] = Field(description="One receipt per report, in order.")


class ReportOut(_Out):
    id: int
    case_id: int
    reason: str
    source: str
    text: str | None
    labels: list[str]
    created_at: str
    outcome: str | None = Field(
        default=None, description="What happened to the content, once decided."
    )


class CaseReportOut(_Out):
    id: int
    reason: str
    source: str
    text: str | None
    labels: list[str]
    created_at: str


class CaseOut(_Out):
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
    due_at: str = Field(description="When the case should be reviewed by (its urgency).")
    opened_at: str
    lease_holder: str | None
    lease_expires: str | None
    labels: list[str]
    content_state: str
    reports: list[CaseReportOut]
    decision_ids: list[int]


class NextCaseOut(BaseModel):
    case: CaseOut | None = Field(
        description="The case now leased to you, or null if the queue is empty."
    )


class QueueOut(_Out):
    id: str
    title: str
    escalate_to: str | None


class LabelsIn(BaseModel):
    labels: list[str] = Field(min_length=1)


class EscalateIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal[
        "none", "remove", "disable", "demote", "age_restrict", "label", "restrict_interaction"
    ] = Field(description="What to do with the content ('none': no action).")
    policy: str | None = Field(default=None, description="The policy id relied on.")
    facts: str = Field(
        min_length=1, max_length=5000, description="Facts and circumstances relied on."
    )
    automated_decision: Literal["fully", "partially", "not_automated"] = "not_automated"
    account_action: Literal["restrict_feature", "suspend", "terminate"] | None = Field(
        default=None, description="An account action beyond what the strike ladders impose."
    )
    account_days: int | None = Field(default=None, ge=1, le=36500)
    feature: str | None = Field(default=None, description="The feature restricted, e.g. 'live'.")
    content_language: str | None = Field(default=None, min_length=2, max_length=2)


class RestrictionOut(_Out):
    id: int
    kind: str
    feature: str | None
    ladder: str | None
    starts_at: str
    ends_at: str | None
    lifted: bool


class DecisionOut(_Out):
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
    strike_ids: list[int]
    restrictions: list[RestrictionOut]
    reversed_at: str | None = Field(
        default=None, description="When an appeal reversed the decision."
    )
    statement_puid: str | None = Field(
        default=None, description="The puid of its DSA statement of reasons, if it has one."
    )
    statement_uuid: str | None = Field(
        default=None,
        description="The Transparency Database's uuid of the statement, once submitted. "
        "The database never changes or withdraws a statement: after a reversal it "
        "still shows the decision as it was taken.",
    )


class AppealIn(BaseModel):
    statement: str = Field(min_length=1, max_length=5000, description="Why the decision is wrong.")


class AppealDecisionIn(BaseModel):
    outcome: Literal["upheld", "reversed"]
    reason: str = Field(min_length=1, max_length=5000)


class AppealOut(_Out):
    id: int
    decision_id: int
    appellant_kind: str
    statement: str
    state: str
    created_at: str
    decided_by: str | None
    decided_at: str | None
    outcome_reason: str | None


class EligibilityOut(BaseModel):
    account: str
    feature: str
    allowed: bool
    reason: str
    until: str | None = Field(description="When the restriction ends (null: permanent or none).")
    decision_id: int | None


class ResourceOut(BaseModel):
    title: str
    url: str
    kind: str


class RedirectOut(BaseModel):
    redirect: bool
    lists: list[str]
    resources: list[ResourceOut]


def _svc(accord: AccordDep) -> ModerationService:
    return accord.moderation


Service = Annotated[ModerationService, Depends(_svc)]


def _see_queue(svc: ModerationService, principal: Principal, queue: str) -> None:
    if principal.role is Role.ADMIN:
        return
    if queue not in {q.id for q in svc.queues_for(principal.role.value)}:
        raise PermissionDenied(
            f"queue {queue!r} is not assigned to the {principal.role.value} role", queue=queue
        )


def _case_out(view: CaseView) -> CaseOut:
    return CaseOut.model_validate(view)


@router.post("/reports", status_code=201, response_model=ReportReceiptOut)
def create_report(body: ReportIn, svc: Service, principal: Reporter) -> Any:
    """Flag a subject; reports on a subject under review join its open case."""
    return svc.report(
        subject_type=body.subject_type,
        subject_id=body.subject_id,
        reason=body.reason,
        reporter=principal.subject or principal.actor,
        text=body.text,
        account=body.account,
        content_type=body.content_type,
        content_date=body.content_date,
        reach=body.reach,
        actor=principal.actor,
    )


@router.post("/reports:batch", status_code=201, response_model=ReportBatchOut)
def create_reports(body: ReportBatchIn, svc: Service, principal: Reporter) -> Any:
    """Flag many subjects in one transaction (all or none): the whole batch is checked
    before anything is written, and a bad report is refused naming its position."""
    own = principal.subject or principal.actor
    relays = permits(principal.role, "moderation.relay")
    flags = []
    for item, r in enumerate(body.reports):
        if r.reporter is not None and not relays:
            raise PermissionDenied(
                f"report {item}: this key reports as itself and may not name a reporter",
                item=item,
            )
        flags.append(
            {
                "subject_type": r.subject_type,
                "subject_id": r.subject_id,
                "reason": r.reason,
                "reporter": r.reporter or own,
                "text": r.text,
                "account": r.account,
                "content_type": r.content_type,
                "content_date": r.content_date,
                "reach": r.reach,
                "actor": principal.actor,
            }
        )
    return {"receipts": svc.report_many(flags)}


@router.get("/reports", response_model=list[ReportOut])
def my_reports(svc: Service, principal: Reporter) -> Any:
    """Your own reports and their outcome."""
    return svc.reports_of(principal.subject or principal.actor)


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: int, svc: Service, principal: Reporter) -> Any:
    """One report: reporters and users see only their own."""
    mine = not permits(principal.role, "moderation.review")
    return svc.report_view(
        report_id, reporter=(principal.subject or principal.actor) if mine else None
    )


@router.get("/queues", response_model=list[QueueOut])
def list_queues(svc: Service, principal: Reviewer) -> Any:
    """The queues assigned to your role."""
    return svc.queues_for(principal.role.value)


@router.post("/queues/{queue}/next", response_model=NextCaseOut)
def take_next(queue: str, svc: Service, principal: Reviewer) -> Any:
    """Take the most urgent case of a queue under a lease that expires."""
    view = svc.take_next(queue, holder=principal.key_id, role=principal.role.value)
    return {"case": _case_out(view) if view else None}


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: int, svc: Service, principal: Reviewer) -> Any:
    """A case with its reports (only in queues assigned to your role)."""
    view = svc.case(case_id)
    _see_queue(svc, principal, view.queue)
    return _case_out(view)


@router.post("/cases/{case_id}/release", status_code=204)
def release_case(case_id: int, svc: Service, principal: Reviewer) -> None:
    """Give a held case back to its queue."""
    svc.release(case_id, holder=principal.key_id)


@router.post("/cases/{case_id}/labels", response_model=CaseOut)
def label_case(case_id: int, body: LabelsIn, svc: Service, principal: Reviewer) -> Any:
    """Label a held case (triage and moderators)."""
    return _case_out(
        svc.label(case_id, body.labels, holder=principal.key_id, actor=principal.actor)
    )


@router.post("/cases/{case_id}/escalate", response_model=CaseOut)
def escalate_case(case_id: int, body: EscalateIn, svc: Service, principal: Reviewer) -> Any:
    """Send a held case to its queue's senior queue."""
    return _case_out(
        svc.escalate(case_id, holder=principal.key_id, actor=principal.actor, note=body.note)
    )


@router.post("/cases/{case_id}/decisions", status_code=201, response_model=DecisionOut)
def decide_case(case_id: int, body: DecisionIn, svc: Service, principal: Decider) -> Any:
    """Decide a case you hold: 409 if another moderator holds it or it is decided."""
    return svc.decide(
        case_id,
        holder=principal.key_id,
        actor=principal.actor,
        action=body.action,
        facts=body.facts,
        policy_id=body.policy,
        automated_decision=body.automated_decision,
        account_action=body.account_action,
        account_days=body.account_days,
        feature=body.feature,
        content_language=body.content_language,
    )


def _own_decision(svc: ModerationService, principal: Principal, decision_id: int) -> None:
    if principal.role is Role.USER:
        decision = svc.decision(decision_id)
        if principal.subject is None or decision.account != principal.subject:
            raise PermissionDenied("a user may read only decisions about their own account")


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
def get_decision(decision_id: int, svc: Service, principal: StatementReader) -> Any:
    """A decision, its strikes and restrictions (users: only their own)."""
    _own_decision(svc, principal, decision_id)
    return svc.decision(decision_id)


@router.get("/decisions/{decision_id}/statement", response_model=dict[str, Any])
def get_statement(
    decision_id: int, svc: Service, principal: StatementReader, response: Response
) -> Any:
    """The DSA statement of reasons, in the Transparency Database API's field names.

    If an appeal reversed the decision, the body is still the statement as taken (the
    database has no way to amend or withdraw one) and the header
    ``Accord-Decision-Reversed`` gives the time of the reversal."""
    _own_decision(svc, principal, decision_id)
    statement = svc.statement(decision_id)
    decision = svc.decision(decision_id)
    if decision.reversed_at is not None:
        response.headers["Accord-Decision-Reversed"] = decision.reversed_at
    return statement


@router.post("/decisions/{decision_id}/appeals", status_code=201, response_model=AppealOut)
def appeal_decision(decision_id: int, body: AppealIn, svc: Service, principal: Appellant) -> Any:
    """Appeal a decision about your account, or a decision not to act on your report."""
    return svc.appeal(
        decision_id, appellant=principal.subject, statement=body.statement, actor=principal.actor
    )


@router.get("/appeals/{appeal_id}", response_model=AppealOut)
def get_appeal(appeal_id: int, svc: Service, principal: PrincipalDep) -> Any:
    """An appeal and its outcome: moderators and triage, or the person who appealed."""
    if not permits(principal.role, "moderation.review"):
        principal.require("moderation.appeal")
        if principal.subject is None or svc.appellant_of(appeal_id) != principal.subject:
            raise PermissionDenied("you may read only your own appeals", appeal=appeal_id)
    return svc.appeal_view(appeal_id)


@router.post("/appeals/{appeal_id}/decisions", response_model=AppealOut)
def decide_appeal(appeal_id: int, body: AppealDecisionIn, svc: Service, principal: Decider) -> Any:
    """Uphold or reverse (not by the moderator who decided); a reversal restores and lifts."""
    return svc.decide_appeal(
        appeal_id, reviewer=principal.actor, outcome=body.outcome, reason=body.reason
    )


@router.get("/accounts/{account}/eligibility", response_model=EligibilityOut)
def account_eligibility(
    account: str,
    svc: Service,
    principal: Vetter,
    feature: Annotated[str, Query(min_length=1, max_length=64)] = "live",
) -> Any:
    """May this account use a feature (such as going live) now? Users: only their own."""
    if principal.role is Role.USER and principal.subject != account:
        raise PermissionDenied("a user may ask only about their own account")
    answer = svc.eligibility(account, feature)
    return EligibilityOut(
        account=account,
        feature=feature,
        allowed=answer.allowed,
        reason=answer.reason,
        until=answer.until.isoformat() if answer.until else None,
        decision_id=answer.decision_id,
    )


@router.get("/redirect", response_model=RedirectOut)
def redirect(
    svc: Service,
    principal: Searcher,
    q: Annotated[str, Query(max_length=1000, description="The search query.")],
    locale: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    """Counter-narrative resources for a search query; counted, never who searched."""
    matches = svc.redirect(q, locale=locale)
    seen: set[str] = set()
    resources: list[dict[str, str]] = []
    for m in matches:
        for r in m.resources:
            if r["url"] not in seen:
                seen.add(r["url"])
                resources.append(r)
    return {
        "redirect": bool(matches),
        "lists": [m.list_id for m in matches],
        "resources": resources,
    }

"""The moderation loop through HTTP, and the role rules at the edge."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from accord.moderation import dsa
from accord.moderation.tables import webhook_deliveries
from accord.moderation.webhooks import SIGNATURE_HEADER, verify_signature
from tests.conftest import auth
from tests.moderation.conftest import WEBHOOK_SECRET

FLAG = {
    "subject_type": "content",
    "subject_id": "video-77",
    "reason": "terrorism_violent_extremism",
    "account": "user-account",
    "content_type": "video",
    "reach": 1200,
    "text": "This is the attack video",
}


def test_done_when_the_whole_loop_walks_through_http(accord, client, headers, receiver, clock):
    second_reporter = auth(accord.keys.create("reporter", subject="reporter-2"))
    second_moderator = auth(accord.keys.create("moderator", subject="moderator-2"))

    # Flags and a hash match open one case.
    r1 = client.post("/v1/reports", json=FLAG, headers=headers["reporter"])
    r2 = client.post("/v1/reports", json=FLAG, headers=second_reporter)
    assert r1.status_code == r2.status_code == 201, r1.text
    assert r1.json()["case_id"] == r2.json()["case_id"]
    assert r2.json()["joined_existing_case"]
    match = accord.moderation.report_match(
        subject_type="content",
        subject_id="video-77",
        account="user-account",
        bank_labels=["tve", "christchurch"],
        bank="TCAP",
        signal_type="vpdq",
    )
    assert match.case_id == r1.json()["case_id"]

    # A moderator takes it under a lease and removes it under a most-serious policy.
    taken = client.post("/v1/queues/tve/next", headers=headers["moderator"])
    assert taken.status_code == 200, taken.text
    case = taken.json()["case"]
    assert case["id"] == match.case_id
    assert case["reporters"] == 3
    assert case["automated"]
    stranger = client.post(
        f"/v1/cases/{case['id']}/decisions",
        headers=second_moderator,
        json={"action": "remove", "policy": "tve.terrorist_content", "facts": "x"},
    )
    assert stranger.status_code == 409
    decided = client.post(
        f"/v1/cases/{case['id']}/decisions",
        headers=headers["moderator"],
        json={
            "action": "remove",
            "policy": "tve.terrorist_content",
            "facts": "Footage of the 2019 attack, re-uploaded with praise.",
        },
    )
    assert decided.status_code == 201, decided.text
    decision = decided.json()
    assert decision["restrictions"][0]["feature"] == "live"

    # The account is denied live for 30 days.
    eligible = client.get(
        "/v1/accounts/user-account/eligibility?feature=live", headers=headers["moderator"]
    )
    body = eligible.json()
    assert body["allowed"] is False
    until = datetime.fromisoformat(body["until"])
    assert until == clock.now() + timedelta(days=30)

    # The statement of reasons validates against the Transparency Database's rules.
    statement = client.get(f"/v1/decisions/{decision['id']}/statement", headers=headers["user"])
    assert statement.status_code == 200
    sor = statement.json()
    assert dsa.validate_statement(sor) == []
    assert sor["category"] == "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
    assert sor["automated_detection"] == "Yes"
    assert sor["end_date_service_restriction"] == until.date().isoformat()

    # The user appeals; the deciding moderator may not review; a second one reverses.
    appealed = client.post(
        f"/v1/decisions/{decision['id']}/appeals",
        json={"statement": "This was news reporting."},
        headers=headers["user"],
    )
    assert appealed.status_code == 201, appealed.text
    appeal_id = appealed.json()["id"]
    same = client.post(
        f"/v1/appeals/{appeal_id}/decisions",
        headers=headers["moderator"],
        json={"outcome": "reversed", "reason": "mine"},
    )
    assert same.status_code == 403
    reversed_ = client.post(
        f"/v1/appeals/{appeal_id}/decisions",
        headers=second_moderator,
        json={"outcome": "reversed", "reason": "Newsworthy reporting."},
    )
    assert reversed_.status_code == 200
    assert reversed_.json()["state"] == "reversed"
    mine = client.get(f"/v1/appeals/{appeal_id}", headers=headers["user"])
    assert mine.status_code == 200
    assert mine.json()["outcome_reason"] == "Newsworthy reporting."
    assert client.get(f"/v1/appeals/{appeal_id}", headers=headers["reporter"]).status_code == 403

    # The account may go live again.
    again = client.get(
        "/v1/accounts/user-account/eligibility?feature=live", headers=headers["user"]
    )
    assert again.json()["allowed"] is True

    # The webhooks arrived, signed.
    assert accord.webhooks.deliver_due() == len(receiver.requests) > 0
    events = receiver.events()
    for event in (
        "decision.made",
        "restriction.applied",
        "report.outcome",
        "appeal.opened",
        "appeal.decided",
    ):
        assert event in events
    for request in receiver.requests:
        assert verify_signature(
            WEBHOOK_SECRET.encode(),
            request.headers[SIGNATURE_HEADER],
            request.content,
            now=clock.now().timestamp(),
        )
    decided_hook = json.loads(receiver.requests[events.index("appeal.decided")].content)
    assert decided_hook["data"]["content_restored"] is True

    # Everything is in the ledger, people pseudonymised.
    entries = accord.ledger.entries(0, 1000)
    kinds = {e.kind for e in entries}
    assert {
        "moderation.report_received",
        "moderation.decision_made",
        "moderation.strike_added",
        "moderation.restriction_applied",
        "moderation.appeal_opened",
        "moderation.appeal_decided",
        "moderation.restriction_lifted",
    } <= kinds
    assert not any(b"user-account" in e.body or b"reporter-2" in e.body for e in entries)


def test_roles_are_enforced(accord, client, headers):
    client.post("/v1/reports", json=FLAG, headers=headers["reporter"])
    client.post("/v1/reports", json={**FLAG, "subject_id": "other"}, headers=headers["user"])
    # a reporter sees only their own reports, and no cases
    mine = client.get("/v1/reports", headers=headers["reporter"]).json()
    assert [r["case_id"] for r in mine] == [1]
    assert client.get("/v1/reports/2", headers=headers["reporter"]).status_code == 404
    assert client.get("/v1/cases/1", headers=headers["reporter"]).status_code == 403
    # triage may take, label and escalate, not decide
    taken = client.post("/v1/queues/tve/next", headers=headers["triage"]).json()["case"]
    assert (
        client.post(
            f"/v1/cases/{taken['id']}/labels", json={"labels": ["clip"]}, headers=headers["triage"]
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/v1/cases/{taken['id']}/decisions",
            headers=headers["triage"],
            json={"action": "none", "facts": "x"},
        ).status_code
        == 403
    )
    escalated = client.post(
        f"/v1/cases/{taken['id']}/escalate", json={"note": "senior"}, headers=headers["triage"]
    )
    assert escalated.json()["queue"] == "senior"
    # a moderator sees only the queues of their role
    assert client.post("/v1/queues/senior/next", headers=headers["moderator"]).status_code == 403
    assert client.get(f"/v1/cases/{taken['id']}", headers=headers["moderator"]).status_code == 403
    queues = [q["id"] for q in client.get("/v1/queues", headers=headers["moderator"]).json()]
    assert queues == ["tve", "general"]
    # a user may ask only about their own account
    assert (
        client.get("/v1/accounts/someone/eligibility", headers=headers["user"]).status_code == 403
    )
    assert client.get("/v1/reports", headers=headers["hasher"]).status_code == 403


def test_bad_input_answers_4xx_and_changes_nothing(accord, client, headers, clock):
    bad_reason = client.post(
        "/v1/reports", json={**FLAG, "reason": "vibes"}, headers=headers["reporter"]
    )
    assert bad_reason.status_code == 400
    assert "unknown reason" in bad_reason.json()["message"]
    bad_subject = client.post(
        "/v1/reports", json={**FLAG, "subject_type": "planet"}, headers=headers["reporter"]
    )
    assert bad_subject.status_code == 422
    assert client.get("/v1/cases/1", headers=headers["moderator"]).status_code == 404
    client.post("/v1/reports", json=FLAG, headers=headers["reporter"])
    case = client.post("/v1/queues/tve/next", headers=headers["moderator"]).json()["case"]
    unknown_policy = client.post(
        f"/v1/cases/{case['id']}/decisions",
        headers=headers["moderator"],
        json={"action": "remove", "policy": "nope", "facts": "x"},
    )
    assert unknown_policy.status_code == 400
    assert (
        client.get(f"/v1/cases/{case['id']}", headers=headers["moderator"]).json()["state"]
        == "open"
    )
    d = client.post(
        f"/v1/cases/{case['id']}/decisions",
        headers=headers["moderator"],
        json={"action": "remove", "policy": "tve.terrorist_content", "facts": "x"},
    ).json()
    other_user = auth(accord.keys.create("user", subject="not-the-author"))
    assert (
        client.post(
            f"/v1/decisions/{d['id']}/appeals", json={"statement": "mine!"}, headers=other_user
        ).status_code
        == 403
    )
    assert client.get(f"/v1/decisions/{d['id']}/statement", headers=other_user).status_code == 403
    clock.advance(timedelta(days=181))
    late = client.post(
        f"/v1/decisions/{d['id']}/appeals", json={"statement": "late"}, headers=headers["user"]
    )
    assert late.status_code == 410
    assert (
        client.post(
            "/v1/decisions/999/appeals", json={"statement": "x"}, headers=headers["user"]
        ).status_code
        == 404
    )


def test_redirect_route_and_openapi(client, headers):
    hit = client.get("/v1/redirect", params={"q": "J0IN 1.S.1.S"}, headers=headers["user"])
    assert hit.status_code == 200
    assert hit.json()["redirect"] is True
    assert hit.json()["resources"][0]["kind"] == "exit_programme"
    miss = client.get("/v1/redirect", params={"q": "crisis"}, headers=headers["user"])
    assert miss.json() == {"redirect": False, "lists": [], "resources": []}
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/reports",
        "/v1/cases/{case_id}",
        "/v1/queues/{queue}/next",
        "/v1/cases/{case_id}/decisions",
        "/v1/decisions/{decision_id}/appeals",
        "/v1/appeals/{appeal_id}/decisions",
        "/v1/decisions/{decision_id}/statement",
        "/v1/accounts/{account}/eligibility",
        "/v1/redirect",
    ):
        assert path in paths


def test_a_senior_moderator_takes_escalations_and_reviews_appeals(accord, client, headers):
    client.post("/v1/reports", json=FLAG, headers=headers["reporter"])
    taken = client.post("/v1/queues/tve/next", headers=headers["triage"]).json()["case"]
    client.post(f"/v1/cases/{taken['id']}/escalate", json={}, headers=headers["triage"])
    # the senior queue is the senior role's (and admin's), beside the ordinary queues
    queues = [q["id"] for q in client.get("/v1/queues", headers=headers["senior"]).json()]
    assert queues == ["tve", "general", "senior"]
    assert client.post("/v1/queues/senior/next", headers=headers["moderator"]).status_code == 403
    senior = client.post("/v1/queues/senior/next", headers=headers["senior"]).json()["case"]
    assert senior["id"] == taken["id"]
    decided = client.post(
        f"/v1/cases/{senior['id']}/decisions",
        headers=headers["senior"],
        json={"action": "remove", "policy": "tve.terrorist_content", "facts": "attack footage"},
    )
    assert decided.status_code == 201, decided.text
    # an appeal of the senior's decision goes to another reviewer; a senior reviews
    # the appeals of ordinary moderators' decisions
    appeal = client.post(
        f"/v1/decisions/{decided.json()['id']}/appeals",
        json={"statement": "context"},
        headers=headers["user"],
    ).json()
    own = client.post(
        f"/v1/appeals/{appeal['id']}/decisions",
        headers=headers["senior"],
        json={"outcome": "upheld", "reason": "mine"},
    )
    assert own.status_code == 403
    upheld = client.post(
        f"/v1/appeals/{appeal['id']}/decisions",
        headers=headers["moderator"],
        json={"outcome": "upheld", "reason": "Attack footage, no context."},
    )
    assert upheld.status_code == 200, upheld.text
    client.post("/v1/reports", json={**FLAG, "subject_id": "v2"}, headers=headers["reporter"])
    case = client.post("/v1/queues/tve/next", headers=headers["moderator"]).json()["case"]
    second = client.post(
        f"/v1/cases/{case['id']}/decisions",
        headers=headers["moderator"],
        json={"action": "remove", "policy": "tve.terrorist_content", "facts": "again"},
    ).json()
    appeal = client.post(
        f"/v1/decisions/{second['id']}/appeals", json={"statement": "x"}, headers=headers["user"]
    ).json()
    reviewed = client.post(
        f"/v1/appeals/{appeal['id']}/decisions",
        headers=headers["senior"],
        json={"outcome": "reversed", "reason": "Reporting, not praise."},
    )
    assert reviewed.status_code == 200, reviewed.text
    assert client.get(f"/v1/appeals/{appeal['id']}", headers=headers["senior"]).status_code == 200
    # the reversal shows on the decision; its statement stays as taken (the Transparency
    # Database cannot amend or withdraw one) and says so in a header; the platform's
    # webhook names the statement's puid
    shown = client.get(f"/v1/decisions/{second['id']}", headers=headers["user"]).json()
    assert shown["reversed"] is True
    assert shown["reversed_at"] is not None
    assert shown["statement_puid"].endswith(f"-{second['id']}")
    assert shown["statement_uuid"] is None
    statement = client.get(f"/v1/decisions/{second['id']}/statement", headers=headers["user"])
    assert statement.headers["Accord-Decision-Reversed"] == shown["reversed_at"]
    assert dsa.validate_statement(statement.json()) == []
    first = client.get(f"/v1/decisions/{decided.json()['id']}/statement", headers=headers["user"])
    assert "Accord-Decision-Reversed" not in first.headers
    with accord.db.read() as conn:
        bodies = conn.execute(
            select(webhook_deliveries.c.body).where(webhook_deliveries.c.event == "appeal.decided")
        ).scalars()
        outcomes = [json.loads(b)["data"] for b in bodies]
    reversal = next(o for o in outcomes if o["outcome"] == "reversed")
    assert reversal["statement_puid"] == shown["statement_puid"]


def test_batch_reports_are_checked_whole_before_any_write(accord, client, headers):
    def batch(items, who="admin"):
        return client.post("/v1/reports:batch", json={"reports": items}, headers=headers[who])

    def stored():
        with accord.db.read() as conn:
            return len(conn.execute(select(webhook_deliveries.c.id)).all()), len(
                accord.ledger.entries(0, accord.ledger.size())
            )

    items = [
        {**FLAG, "reporter": "viewer-1"},
        {**FLAG, "reporter": "viewer-2"},
        {**FLAG, "subject_id": "other", "reason": "spam", "reporter": "viewer-1"},
    ]
    answer = batch(items)
    assert answer.status_code == 201, answer.text
    receipts = answer.json()["receipts"]
    assert [r["joined_existing_case"] for r in receipts] == [False, True, False]
    assert receipts[0]["case_id"] == receipts[1]["case_id"] != receipts[2]["case_id"]
    assert accord.moderation.case(receipts[0]["case_id"]).reporters == 2
    before = stored()
    # a bad item anywhere refuses the whole batch, naming it
    bad = batch([{**FLAG, "reporter": "v3"}, {**FLAG, "reason": "nonsense", "reporter": "v4"}])
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("report 1: unknown reason")
    assert bad.json()["item"] == 1
    malformed = batch([FLAG, {**FLAG, "subject_id": ""}])
    assert malformed.status_code == 422
    assert "reports.1.subject_id" in malformed.json()["message"]
    assert batch([FLAG] * 1001).status_code == 422
    assert batch([]).status_code == 422
    # only relaying keys name reporters; others report as themselves
    named = batch([FLAG, {**FLAG, "reporter": "someone"}], who="reporter")
    assert named.status_code == 403
    assert named.json()["item"] == 1
    assert stored() == before
    mine = batch([FLAG, {**FLAG, "subject_id": "v-9"}], who="user")
    assert mine.status_code == 201
    own = client.get("/v1/reports", headers=headers["user"]).json()
    assert sorted(r["case_id"] for r in own) == sorted(
        r["case_id"] for r in mine.json()["receipts"]
    )
    assert "/v1/reports:batch" in client.get("/openapi.json").json()["paths"]

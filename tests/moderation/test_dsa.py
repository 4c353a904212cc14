"""Statements of reasons: the Transparency Database's fields and values, validation, batches."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from accord.errors import UpstreamError
from accord.moderation import dsa

POLICY = {
    "id": "tve.terrorist_content",
    "title": "Terrorist content",
    "ground": "law",
    "legal_ground": "Regulation (EU) 2021/784",
    "url": "https://example.org/p",
    "dsa_category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "dsa_keywords": ["KEYWORD_TERRORIST_CONTENT"],
}


def statement(**kw):
    args = {
        "puid": "accord-decision-1",
        "action": "remove",
        "sources": ["user", "automated"],
        "automated_detection": True,
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "policy": POLICY,
        "facts": "Attack footage.",
        "content_type": "video",
        "content_date": date(2026, 3, 1),
        "application_date": date(2026, 3, 2),
        "territorial_scope": ["DE", "FR"],
        "restrictions": [{"kind": "feature", "ends": date(2026, 4, 1)}],
    }
    args.update(kw)
    return dsa.build_statement(**args)


def test_a_removal_with_a_live_restriction_validates():
    s = statement()
    assert dsa.validate_statement(s) == []
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert s["decision_provision"] == "DECISION_PROVISION_PARTIAL_SUSPENSION"
    assert s["end_date_service_restriction"] == "2026-04-01"
    assert s["source_type"] == "SOURCE_ARTICLE_16"
    assert s["automated_detection"] == "Yes"
    assert s["content_type"] == ["CONTENT_TYPE_VIDEO"]


@pytest.mark.parametrize(
    ("kw", "field", "value"),
    [
        ({"action": "demote"}, "decision_visibility", ["DECISION_VISIBILITY_CONTENT_DEMOTED"]),
        (
            {"action": "age_restrict"},
            "decision_visibility",
            ["DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"],
        ),
        ({"action": "label"}, "decision_visibility", ["DECISION_VISIBILITY_CONTENT_LABELLED"]),
        ({"sources": ["trusted_flagger", "user"]}, "source_type", "SOURCE_TRUSTED_FLAGGER"),
        ({"sources": ["automated"]}, "source_type", "SOURCE_VOLUNTARY"),
        (
            {"restrictions": [{"kind": "termination", "ends": None}]},
            "decision_account",
            "DECISION_ACCOUNT_TERMINATED",
        ),
        (
            {"restrictions": [{"kind": "suspension", "ends": date(2026, 3, 9)}]},
            "end_date_account_restriction",
            "2026-03-09",
        ),
        (
            {"policy": {**POLICY, "ground": "terms"}},
            "decision_ground",
            "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        ),
        ({"content_type": None}, "content_type", ["CONTENT_TYPE_OTHER"]),
    ],
)
def test_mappings_use_the_api_values_and_validate(kw, field, value):
    s = statement(**kw)
    assert s[field] == value
    assert dsa.validate_statement(s) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"decision_ground": "BECAUSE"}, "decision_ground"),
        ({"automated_decision": "Yes"}, "automated_decision"),
        ({"puid": "has spaces"}, "puid"),
        ({"application_date": "02-03-2026"}, "application_date"),
        ({"end_date_service_restriction": "2020-01-01"}, "before application_date"),
        ({"category": "STATEMENT_CATEGORY_TERRORISM"}, "category"),
        ({"territorial_scope": ["US"]}, "territorial_scope"),
        ({"decision_facts": "x" * 5001}, "decision_facts"),
        ({"illegal_content_legal_ground": None}, "illegal_content_legal_ground"),
        ({"platform_user": "alice"}, "not a field"),
    ],
)
def test_validation_catches_what_the_api_would_refuse(change, problem):
    s = {**statement(), **change}
    s = {k: v for k, v in s.items() if v is not None}
    assert any(problem in p for p in dsa.validate_statement(s))


def test_no_decision_at_all_is_refused():
    s = statement()
    for field in ("decision_visibility", "decision_provision", "end_date_service_restriction"):
        s.pop(field)
    assert any("one of decision_visibility" in p for p in dsa.validate_statement(s))


def test_batches_hold_at_most_100():
    items = [statement(puid=f"p-{i}") for i in range(250)]
    bodies = list(dsa.batches(items))
    assert [len(b["statements"]) for b in bodies] == [100, 100, 50]
    with pytest.raises(ValueError):
        list(dsa.batches(items, size=101))


def decide_many(accord, n):
    svc = accord.moderation
    for i in range(n):
        case_id = svc.report(
            subject_type="content",
            subject_id=f"c{i}",
            reason="hate_speech",
            reporter=f"r{i}",
            account=f"a{i}",
            content_type="text",
        ).case_id
        svc.take_next("general", holder="m", role="moderator")
        svc.decide(
            case_id,
            holder="m",
            actor="key:m",
            action="remove",
            facts="slur",
            policy_id="hate.speech",
        )


@pytest.mark.slow
def test_export_and_submit(accord, tmp_path):
    decide_many(accord, 105)
    svc = accord.moderation
    paths = svc.export_statements(tmp_path / "sor")
    bodies = [json.loads(p.read_text()) for p in paths]
    assert [len(b["statements"]) for b in bodies] == [100, 5]
    assert all(dsa.validate_statement(s) == [] for b in bodies for s in b["statements"])

    seen = []

    def api(request):
        assert request.headers["Authorization"] == "Bearer T0KEN"
        body = json.loads(request.content)
        seen.append(len(body["statements"]))
        return httpx.Response(
            201, json={"statements": [{**s, "uuid": f"u-{s['puid']}"} for s in body["statements"]]}
        )

    client = httpx.Client(transport=httpx.MockTransport(api))
    assert (
        svc.submit_statements(
            endpoint="https://tdb.example/api/v1/statements", token="T0KEN", client=client
        )
        == 105
    )
    assert seen == [100, 5]
    assert (
        svc.submit_statements(
            endpoint="https://tdb.example/api/v1/statements", token="T0KEN", client=client
        )
        == 0
    )  # nothing left to send
    refused = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(422, json={})))
    decide_many_more = svc.report(
        subject_type="content", subject_id="late", reason="spam", reporter="q", account="b"
    ).case_id
    svc.take_next("general", holder="m", role="moderator")
    svc.decide(
        decide_many_more, holder="m", actor="key:m", action="remove", facts="spam", policy_id="spam"
    )
    with pytest.raises(UpstreamError, match="422"):
        svc.submit_statements(endpoint="https://tdb.example/x", token="T", client=refused)
    client.close()
    refused.close()

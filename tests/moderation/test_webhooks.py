"""Webhooks: signed with HMAC-SHA256, written with the decision, retried with backoff."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from accord.moderation.webhooks import (
    SIGNATURE_HEADER,
    WebhookDispatcher,
    signature_header,
    verify_signature,
)
from tests.moderation.conftest import WEBHOOK_SECRET


def test_signature_round_trip_and_tamper_detection():
    body = b'{"event":"decision.made"}'
    header = signature_header(b"k" * 16, 1_700_000_000, body)
    assert verify_signature(b"k" * 16, header, body, now=1_700_000_010)
    assert not verify_signature(b"k" * 16, header, body + b" ", now=1_700_000_010)
    assert not verify_signature(b"x" * 16, header, body, now=1_700_000_010)
    assert not verify_signature(b"k" * 16, header, body, now=1_700_010_000)  # replayed late
    assert not verify_signature(b"k" * 16, "garbage", body, now=1_700_000_000)


def remove_something(accord):
    svc = accord.moderation
    case_id = svc.report(
        subject_type="content",
        subject_id="p",
        reason="terrorism_violent_extremism",
        reporter="alice",
        account="author",
    ).case_id
    svc.take_next("tve", holder="m", role="moderator")
    return svc.decide(
        case_id,
        holder="m",
        actor="key:m",
        action="remove",
        facts="attack video",
        policy_id="tve.terrorist_content",
    )


def test_decision_webhooks_are_signed_and_retried_until_acknowledged(accord, receiver, clock):
    receiver.fail_next = 3
    remove_something(accord)
    hooks = accord.webhooks
    assert hooks.deliver_due() == 0  # first attempts fail (503)
    log = {d.event: d for d in hooks.log()}
    assert set(log) == {"decision.made", "restriction.applied", "report.outcome"}
    assert all(d.state == "pending" for d in log.values())
    clock.advance(timedelta(seconds=1))
    assert hooks.deliver_due() == 0  # not due yet: backoff 2 s after the first failure
    clock.advance(timedelta(seconds=2))
    acked = hooks.deliver_due()
    assert acked == 3
    assert all(d.state == "delivered" for d in hooks.log())
    failed = [d for d in hooks.log() if d.attempts > 1]
    assert failed
    assert all(len(hooks.attempts(d.id)) == d.attempts for d in failed)
    for request in receiver.requests:
        assert verify_signature(
            WEBHOOK_SECRET.encode(),
            request.headers[SIGNATURE_HEADER],
            request.content,
            now=clock.now().timestamp(),
        )
    made = next(
        json.loads(r.content)
        for r in receiver.requests
        if json.loads(r.content)["event"] == "decision.made"
    )
    assert (
        made["data"]["statement_of_reasons"]["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    )
    outcome = next(
        json.loads(r.content)
        for r in receiver.requests
        if json.loads(r.content)["event"] == "report.outcome"
    )
    assert outcome["data"]["reporters"] == ["alice"]


def test_a_dead_receiver_does_not_block_decisions_and_gives_up_eventually(accord, clock):
    def down(_request):
        raise httpx.ConnectError("connection refused")

    client = httpx.Client(transport=httpx.MockTransport(down))
    hooks = WebhookDispatcher(
        accord.db, clock, accord.moderation.config, client=client, max_attempts=3
    )
    accord.__dict__["webhooks"] = hooks
    decision = remove_something(accord)  # returns although nobody listens
    assert decision.id == 1
    for _ in range(3):
        hooks.deliver_due()
        clock.advance(timedelta(hours=2))
    assert {d.state for d in hooks.log()} == {"failed"}
    attempts = hooks.attempts(hooks.log()[0].id)
    assert len(attempts) == 3
    assert "ConnectError" in attempts[0]["error"]
    client.close()


def test_backoff_doubles_and_is_capped(accord):
    hooks = accord.webhooks
    delays = [hooks.backoff(n) for n in range(1, 20)]
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0]
    assert max(delays) == hooks.max_delay

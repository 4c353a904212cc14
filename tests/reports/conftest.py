"""The moderation scenario the reports tests compute over, run through the services."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest


def leaves(accord) -> list[dict[str, Any]]:
    size = accord.ledger.size()
    return [json.loads(e.body) for e in accord.ledger.entries(0, size)]


@pytest.fixture
def scenario(accord, clock) -> dict[str, Any]:
    """On 2026-03-15 (clock starts 12:00 UTC):

    - alice (user) and tf-1 (trusted flagger) flag post-1 (terrorism); the bank
      TCAP matches upload post-2 (labels tve, christchurch); a user flags live-1;
    - 30 min later a moderator removes post-1 under the most-serious policy
      (human, notice-driven); 60 min: removes post-2 fully automatically (hash
      match, own initiative); 90 min: cuts livestream live-1 (notice);
    - the author of post-2 appeals at 100 min; a second moderator reverses at 220 min;
    - a search is redirected twice; author-9 objects to AI training.
    """
    svc = accord.moderation
    svc.config.trusted_flaggers.append("tf-1")
    kw = {"reason": "terrorism_violent_extremism", "content_type": "video"}
    svc.report(
        subject_type="content", subject_id="post-1", reporter="alice", account="author-1", **kw
    )
    svc.report(
        subject_type="content", subject_id="post-1", reporter="tf-1", account="author-1", **kw
    )
    svc.report_match(
        subject_type="content",
        subject_id="post-2",
        bank_labels=["tve", "christchurch"],
        account="author-2",
        signal_type="pdq",
        bank="TCAP",
    )
    svc.report(
        subject_type="livestream", subject_id="live-1", reporter="bob", account="author-3", **kw
    )
    decided = {}
    for automated in ("not_automated", "fully", "not_automated"):  # 30, 60, 90 min
        clock.advance(timedelta(minutes=30))
        case = svc.take_next("tve", holder="mod-a", role="moderator")
        d = svc.decide(
            case.id,
            holder="mod-a",
            actor="key:mod-a",
            action="remove",
            facts="Footage of an attack with praise of the perpetrator.",
            policy_id="tve.terrorist_content",
            automated_decision=automated,
        )
        decided[case.subject_id] = d
    assert set(decided) == {"post-1", "post-2", "live-1"}
    clock.advance(timedelta(minutes=10))
    appeal = svc.appeal(
        decided["post-2"].id, appellant="author-2", statement="Satire, not support."
    )
    clock.advance(timedelta(minutes=120))
    svc.decide_appeal(appeal.id, reviewer="key:mod-b", outcome="reversed", reason="Satire.")
    assert svc.redirect("how to join isis")
    assert svc.redirect("JOIN ISIS now")
    svc.flush_redirect_counts(include_current_hour=True)
    accord.rights.object("author-9", "train_ai_system")
    return {"decisions": decided, "appeal": appeal}

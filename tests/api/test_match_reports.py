"""A hash match on a named upload files an automated report that carries the bank's labels."""

from __future__ import annotations

import json


def test_matched_upload_opens_a_case_with_bank_labels(
    client, headers, accord, make_image, reencode
):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    image = make_image(21)
    client.post(
        "/v1/banks/TVEC/media",
        files={
            "photo": ("a.jpg", image),
            "labels": (None, json.dumps({"ideology": "accelerationist", "behaviour": "attack"})),
        },
        headers=h,
    )
    outcome = client.post(
        "/v1/match?subject_id=post-991&account=acct-7&reach=1200",
        files={"photo": ("b.jpg", reencode(image))},
        headers=headers["hasher"],
    ).json()
    assert outcome["matched"] is True
    assert len(outcome["reports"]) == 1
    again = client.post(
        "/v1/match?subject_id=post-991&account=acct-7",
        files={"photo": ("b.jpg", image)},
        headers=headers["hasher"],
    ).json()
    view = accord.moderation.report_view(again["reports"][0], reporter=None)
    case = accord.moderation.case(view.case_id)
    assert case.id == accord.moderation.report_view(outcome["reports"][0], reporter=None).case_id
    kinds = [e.kind for e in accord.ledger.entries(0, accord.ledger.size())]
    assert "moderation.report_received" in kinds
    received = [
        e.data
        for e in accord.ledger.entries(0, accord.ledger.size())
        if e.kind == "moderation.report_received"
    ]
    assert any("ideology:accelerationist" in json.dumps(r) for r in received)
    assert all("acct-7" not in json.dumps(r) for r in received)  # people only pseudonymised


def test_unnamed_uploads_file_no_report(client, headers, make_image):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    image = make_image(22)
    client.post("/v1/banks/TVEC/media", files={"photo": ("a.jpg", image)}, headers=h)
    outcome = client.post("/v1/match", files={"photo": ("a.jpg", image)}, headers=h).json()
    assert outcome["matched"] is True
    assert outcome["reports"] == []

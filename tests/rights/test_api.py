"""The /v1/rights routes: who may act for whom, signals from headers, state, receipts, the form."""

from __future__ import annotations

import pytest

AI = "train_ai_system"


def test_a_user_objects_for_themselves_and_gets_a_receipt(client, headers):
    r = client.post("/v1/rights/object", json={"purpose": AI}, headers=headers["user"])
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["subject"] == "user-account"
    assert receipt["covers"] == [{"purpose": AI, "category": None}]
    assert isinstance(receipt["ledger_seq"], int)
    again = client.get(f"/v1/rights/receipts/{receipt['request_id']}", headers=headers["user"])
    assert again.json()["request_id"] == receipt["request_id"]


def test_a_user_key_cannot_act_for_someone_else(client, headers):
    r = client.post(
        "/v1/rights/object", json={"subject": "victim", "purpose": AI}, headers=headers["user"]
    )
    assert r.status_code == 403
    assert client.get("/v1/rights/state/victim", headers=headers["user"]).status_code == 403


def test_roles_and_keys(client, headers):
    assert client.post("/v1/rights/object", json={"purpose": AI}).status_code == 401
    r = client.post("/v1/rights/object", json={"purpose": AI}, headers=headers["hasher"])
    assert r.status_code == 403
    r = client.post("/v1/rights/object", json={"purpose": AI}, headers=headers["admin"])
    assert r.status_code == 400
    assert "subject" in r.json()["message"]
    r = client.post(
        "/v1/rights/consent",
        json={"subject": "zed", "purpose": "personalised_ads", "category": "posts"},
        headers=headers["admin"],
    )
    assert r.status_code == 201
    r = client.post(
        "/v1/rights/withdraw", json={"subject": "zed", "purpose": "nope"}, headers=headers["admin"]
    )
    assert r.status_code == 400
    assert "unknown purpose" in r.json()["message"]
    assert client.get("/v1/rights/state/zed", headers=headers["auditor"]).status_code == 200


def test_signals_from_the_request_headers_and_the_body(client, headers):
    r = client.post(
        "/v1/rights/signals",
        json={
            "headers": {"Content-Usage": "train-ai=n"},
            "html": '<meta name="tdm-reservation" content="1">',
            "tdmrep": {
                "document": [{"location": "/u/*", "tdm-reservation": 1}],
                "path": "/u/me",
                "url": "https://site.example/.well-known/tdmrep.json",
            },
        },
        headers={**headers["user"], "Sec-GPC": "1"},
    )
    assert r.status_code == 201, r.text
    kinds = sorted(x["action"] for x in r.json()["recorded"])
    assert kinds == ["aipref", "gpc", "tdmrep", "tdmrep"]
    state = client.get("/v1/rights/state/user-account", headers=headers["user"]).json()
    cell = next(d for d in state["decisions"] if d["purpose"] == AI and d["category"] == "posts")
    assert cell["allowed"] is False
    assert cell["reason"] == "signal"
    assert len(cell["provenance"]) == 4


def test_state_as_of_before_and_after(client, headers, clock):
    from datetime import timedelta

    before = "2026-03-15T11:00:00Z"
    client.post("/v1/rights/object", json={"purpose": AI}, headers=headers["user"])
    clock.advance(timedelta(hours=1))
    url = "/v1/rights/state/user-account"
    old = client.get(url, params={"as_of": before}, headers=headers["user"]).json()
    now = client.get(url, headers=headers["user"]).json()
    assert all(d["allowed"] for d in old["decisions"] if d["purpose"] == AI)
    assert not any(d["allowed"] for d in now["decisions"] if d["purpose"] == AI)
    bad = client.get(url, params={"as_of": "yesterday"}, headers=headers["user"])
    assert bad.status_code == 400


def test_purposes(client, headers):
    body = client.get("/v1/rights/purposes", headers=headers["user"]).json()
    assert any(p["name"] == AI and p["basis"] == "legitimate_interest" for p in body["purposes"])


def test_public_form_shows_without_a_key_and_files_with_the_persons_key(client, api_keys):
    page = client.get("/v1/rights/object/form")
    assert page.status_code == 200
    assert "<form" in page.text
    assert AI in page.text
    r = client.post(
        "/v1/rights/object/form",
        data={"key": api_keys["user"], "purpose": AI, "category": "photos"},
    )
    assert r.status_code == 201
    assert "rr_" in r.text
    assert "photos" in r.text


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("acc_wrong", 401), ("admin", 403)])
def test_the_form_refuses_without_a_persons_key(client, api_keys, key, status):
    data = {"purpose": AI}
    if key is not None:
        data["key"] = api_keys.get(key, key)
    assert client.post("/v1/rights/object/form", data=data).status_code == status

"""accord's own /v1 bank and matching routes: labels, provenance, bulk, negative banks."""

from __future__ import annotations

import json


def test_create_bulk_import_and_match_with_labels(client, headers):
    h = headers["curator"]
    created = client.post(
        "/v1/banks", json={"name": "TVEC", "description": "shared list"}, headers=h
    )
    assert created.status_code == 201
    items = [
        {
            "signals": {"md5": f"{i:032x}"},
            "labels": {"ideology": "accelerationist"},
            "external_id": f"gifct-{i}",
        }
        for i in range(2000)
    ]
    bulk = client.post(
        "/v1/banks/TVEC/content/bulk", json={"items": items, "source": "GIFCT"}, headers=h
    )
    assert bulk.status_code == 201, bulk.text
    assert bulk.json()["count"] == 2000
    ndjson = "\n".join(json.dumps({"signals": {"md5": f"{i:032x}"}}) for i in range(2000, 2100))
    more = client.post(
        "/v1/banks/TVEC/content/bulk",
        content=ndjson,
        headers={**h, "Content-Type": "application/x-ndjson"},
    )
    assert more.json()["count"] == 100
    result = client.post(
        "/v1/match/signals",
        json={"signals": [{"signal_type": "md5", "value": f"{7:032x}"}]},
        headers=h,
    ).json()
    match = result[0]["matches"][0]
    assert match["bank"] == "TVEC"
    assert match["labels"] == {"ideology": ["accelerationist"]}
    content = client.get(f"/v1/banks/TVEC/content/{match['content_id']}", headers=h).json()
    assert content["source"] == "GIFCT"
    assert content["external_id"] == "gifct-7"


def test_bulk_with_one_bad_line_stores_nothing(client, headers):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    ndjson = "\n".join([json.dumps({"signals": {"md5": "0" * 32}}), "{not json"])
    response = client.post(
        "/v1/banks/TVEC/content/bulk",
        content=ndjson,
        headers={**h, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 400
    assert "line 2" in response.json()["message"]
    assert client.get("/v1/banks/TVEC/content", headers=h).json() == []


def test_upload_match_reports_labels_and_negative_bank_suppression(
    client, headers, make_image, reencode
):
    h = headers["curator"]
    client.post("/v1/banks", json={"name": "TVEC"}, headers=h)
    client.post("/v1/banks", json={"name": "SAFE", "kind": "negative"}, headers=h)
    image = make_image(3)
    added = client.post(
        "/v1/banks/TVEC/media",
        files={"photo": ("a.jpg", image), "labels": (None, json.dumps({"entity": "Group X"}))},
        headers=h,
    )
    assert added.status_code == 201, added.text
    assert added.json()["labels"] == {"entity": ["Group X"]}
    outcome = client.post(
        "/v1/match", files={"photo": ("b.jpg", reencode(image))}, headers=h
    ).json()
    assert outcome["matched"] is True
    assert outcome["results"]["pdq"]["matches"][0]["labels"] == {"entity": ["Group X"]}
    client.post("/v1/banks/SAFE/media", files={"photo": ("a.jpg", image)}, headers=h)
    silenced = client.post("/v1/match", files={"photo": ("b.jpg", image)}, headers=h).json()
    assert silenced["results"]["pdq"]["matches"] == []
    assert silenced["results"]["pdq"]["suppressed_by"][0]["bank"] == "SAFE"


def test_roles_on_v1_routes(client, headers):
    assert (
        client.post("/v1/banks", json={"name": "X"}, headers=headers["moderator"]).status_code
        == 403
    )
    assert client.get("/v1/banks", headers=headers["reporter"]).status_code == 403
    assert client.get("/v1/banks", headers=headers["auditor"]).status_code == 200

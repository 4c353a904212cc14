"""HMA 1.x compatibility: the paths, parameters, JSON shapes and quirks HMA clients rely on."""

from __future__ import annotations

import pytest

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def other_pdq(value: str, bits: int) -> str:
    n = int(value, 16) ^ ((1 << bits) - 1)
    return f"{n:064x}"


@pytest.fixture
def bank(client, headers):
    response = client.post("/c/banks", json={"name": "TEST_BANK"}, headers=headers["curator"])
    assert response.status_code == 201
    assert response.json() == {"matching_enabled_ratio": 1.0, "name": "TEST_BANK"}
    return "TEST_BANK"


def test_every_route_but_status_needs_a_key(client, headers):
    assert client.get("/status").status_code == 200
    response = client.get("/c/banks")
    assert response.status_code == 401
    assert "API key" in response.json()["message"]
    bad = client.get("/c/banks", headers={"Authorization": "Bearer acc_wrong"})
    assert bad.status_code == 401
    forbidden = client.post("/c/banks", json={"name": "X"}, headers=headers["hasher"])
    assert forbidden.status_code == 403


def test_bank_routes(client, headers, bank):
    h = headers["curator"]
    assert client.get("/c/banks", headers=h).json() == [
        {"matching_enabled_ratio": 1.0, "name": "TEST_BANK"}
    ]
    dup = client.post("/c/banks", json={"name": "TEST_BANK"}, headers=h)
    assert dup.status_code == 403
    assert dup.json()["message"] == "Bank already exists"
    assert client.post("/c/banks", json={"name": "lower_case"}, headers=h).status_code == 400
    assert client.get("/c/bank/TEST_BANK", headers=h).json()["name"] == "TEST_BANK"
    assert client.get("/c/bank/NOPE", headers=h).status_code == 404
    updated = client.put("/c/bank/TEST_BANK", json={"enabled_ratio": 0.25}, headers=h)
    assert updated.json()["matching_enabled_ratio"] == 0.25


def test_signal_lookup_raw_lookup_compare_and_status(client, headers, bank):
    h = headers["curator"]
    added = client.post("/c/bank/TEST_BANK/signal", json={"pdq": PDQ}, headers=h)
    assert added.status_code == 200
    assert added.json()["signals"] == {"pdq": PDQ}
    content_id = added.json()["id"]
    query = other_pdq(PDQ, 4)
    found = client.get(f"/m/lookup?signal={query}&signal_type=pdq", headers=h).json()
    assert found == {"TEST_BANK": [{"bank_content_id": content_id, "distance": "4"}]}
    assert (
        client.get(f"/m/lookup?signal={other_pdq(PDQ, 64)}&signal_type=pdq", headers=h).json() == {}
    )
    restricted = client.get(f"/m/lookup?signal={query}&signal_type=pdq&banks=OTHER", headers=h)
    assert restricted.json() == {}
    raw = client.get(f"/m/raw_lookup?signal={query}&signal_type=pdq", headers=h).json()
    assert raw == {"matches": [content_id]}
    raw_d = client.get(
        f"/m/raw_lookup?signal={query}&signal_type=pdq&include_distance=true", headers=h
    ).json()
    assert raw_d == {"matches": [{"bank_content_id": content_id, "distance": "4"}]}
    compared = client.post("/m/compare", json={"pdq": [PDQ, query]}, headers=h).json()
    assert compared == {"pdq": [True, {"distance": 4}]}
    status = client.get("/m/index/status?signal_type=pdq", headers=h).json()
    assert status["pdq"]["size"] == 1
    assert status["pdq"]["present"] is True


def test_hma_error_messages(client, headers, bank):
    h = headers["curator"]
    missing = client.get(f"/m/lookup?signal={PDQ}", headers=h)
    assert missing.status_code == 400
    assert missing.json()["message"] == "Either url or both signal and signal_type are required"
    unknown = client.get(f"/m/lookup?signal={PDQ}&signal_type=foo", headers=h)
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("No such SignalType 'foo'")
    bad = client.post("/c/bank/TEST_BANK/signal", json={"pdq": "zz"}, headers=h)
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("Invalid pdq signal")
    field = client.post("/h/hash", files={"picture": ("a.jpg", b"x")}, headers=h)
    assert field.status_code == 400
    assert "no such content_type" in field.json()["message"]


def test_photo_upload_bank_and_match_reencoded_copy(client, headers, bank, make_image, reencode):
    h = headers["curator"]
    original = make_image(1)
    hashed = client.post("/h/hash", files={"photo": ("a.jpg", original)}, headers=h).json()
    assert len(hashed["pdq"]) == 64
    added = client.post(
        "/c/bank/TEST_BANK/content", files={"photo": ("a.jpg", original)}, headers=h
    ).json()
    assert added["signals"]["pdq"] == hashed["pdq"]
    copy = reencode(original, quality=35, scale=0.5)
    found = client.post("/m/lookup", files={"photo": ("b.jpg", copy)}, headers=h).json()
    assert [m["bank_content_id"] for m in found["pdq"]["TEST_BANK"]] == [added["id"]]
    unrelated = client.post(
        "/m/lookup", files={"photo": ("c.jpg", make_image(99))}, headers=h
    ).json()
    assert unrelated["pdq"] == {}


def test_video_upload_bank_and_match_reencoded_copy(client, headers, bank, make_video):
    h = headers["curator"]
    video = make_video(5)
    added = client.post("/c/bank/TEST_BANK/content", files={"video": ("v.mp4", video)}, headers=h)
    assert added.status_code == 200, added.text
    assert "vpdq" in added.json()["signals"]
    copy = make_video(5, fps=8)
    found = client.post("/m/lookup", files={"video": ("w.mp4", copy)}, headers=h).json()
    assert found["vpdq"]["TEST_BANK"][0]["bank_content_id"] == added.json()["id"]
    other = client.post("/m/lookup", files={"video": ("x.mp4", make_video(77))}, headers=h).json()
    assert other["vpdq"] == {}


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"", 400),
        (b"not an image at all", 400),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, 400),
    ],
)
def test_bad_media_is_a_clear_4xx_and_nothing_is_stored(client, headers, bank, payload, status):
    h = headers["curator"]
    response = client.post(
        "/c/bank/TEST_BANK/content", files={"photo": ("a.jpg", payload)}, headers=h
    )
    assert response.status_code == status
    assert response.json()["message"]
    assert client.get("/m/index/status", headers=h).json()["pdq"]["size"] == 0
    assert client.get("/status").text == "I-AM-ALIVE"


def test_upload_over_the_limit_is_413(client, headers, bank, accord):
    accord.settings.max_upload_bytes = 1000
    response = client.post(
        "/h/hash", files={"photo": ("a.jpg", b"\xff" * 5000)}, headers=headers["curator"]
    )
    assert response.status_code == 413


def test_url_fetch_of_internal_address_is_refused(client, headers, bank):
    response = client.get("/h/hash?url=http://127.0.0.1:9/x.jpg", headers=headers["curator"])
    assert response.status_code == 400
    assert "internal address" in response.json()["message"]

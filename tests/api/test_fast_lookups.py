"""The plain forms of GET /m/lookup and /m/raw_lookup, answered before Starlette's stack,
answer exactly as the FastAPI routes do: same bodies, statuses, errors and headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
NEAR = f"{int(PDQ, 16) ^ 0b1011:064x}"
FAR = f"{int(PDQ, 16) ^ ((1 << 64) - 1):064x}"


@pytest.fixture
def clients(accord, api_keys):
    """A client of the app as served, and one of the same app without the fast path."""
    fast_app = create_app(accord, start_matcher=False)
    slow_app = create_app(accord, start_matcher=False, fast_lookups=False)
    accord.banks.create_bank("TEST_BANK", actor="t")
    accord.banks.create_bank("OTHER_BANK", actor="t")
    from accord.matching.service import ContentInput

    accord.banks.add_content("TEST_BANK", ContentInput({"pdq": PDQ}), source="s", actor="t")
    accord.banks.add_content("OTHER_BANK", ContentInput({"pdq": NEAR}), source="s", actor="t")
    with TestClient(fast_app) as fast, TestClient(slow_app) as slow:
        yield fast, slow


QUERIES = [
    f"/m/lookup?signal={NEAR}&signal_type=pdq",
    f"/m/lookup?signal={NEAR.upper()}&signal_type=pdq",
    f"/m/lookup?signal={FAR}&signal_type=pdq",
    f"/m/lookup?signal={NEAR}&signal_type=pdq&banks=OTHER_BANK",
    f"/m/lookup?signal={NEAR}&signal_type=pdq&banks=OTHER_BANK,TEST_BANK",
    f"/m/lookup?signal={NEAR}&signal_type=pdq&bypass_coinflip=true",
    f"/m/lookup?signal={NEAR}&signal_type=pdq&bypass_coinflip=1",
    f"/m/lookup?signal={NEAR}&signal_type=pdq&bypass_coinflip=yes",  # FastAPI's route
    f"/m/lookup?signal={NEAR}&signal_type=pdq&bypass_coinflip=maybe",  # 422 from FastAPI
    f"/m/lookup?signal={NEAR}&signal_type=pdq&extra=1",
    f"/m/lookup?signal={NEAR}",
    "/m/lookup?signal=&signal_type=pdq",
    "/m/lookup?signal=zz&signal_type=pdq",
    f"/m/lookup?signal={NEAR}&signal_type=nope",
    f"/m/lookup?signal={NEAR}&signal=zz&signal_type=pdq",
    f"/m/raw_lookup?signal={NEAR}&signal_type=pdq",
    f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&include_distance=true",
    f"/m/raw_lookup?signal={NEAR}&signal_type=pdq&include_distance=0",
    "/m/raw_lookup?signal_type=pdq",
]


@pytest.mark.parametrize("url", QUERIES)
@pytest.mark.parametrize("role", ["curator", "hasher", None, "bad"])
def test_fast_and_fastapi_routes_answer_alike(clients, api_keys, url, role):
    fast, slow = clients
    if role is None:
        headers = {}
    elif role == "bad":
        headers = {"Authorization": "Bearer acc_not_a_key"}
    else:
        headers = {"Authorization": f"Bearer {api_keys[role]}"}
    a, b = fast.get(url, headers=headers), slow.get(url, headers=headers)
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert a.headers.get("content-type") == b.headers.get("content-type")
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")


@pytest.mark.parametrize(
    "authorization", ["bearer {key}", "Bearer  {key} ", "Basic {key}", "Bearer", "{key}"]
)
def test_fast_route_reads_the_key_as_http_bearer_does(clients, api_keys, authorization):
    fast, slow = clients
    headers = {"Authorization": authorization.format(key=api_keys["curator"])}
    url = f"/m/lookup?signal={NEAR}&signal_type=pdq"
    a, b = fast.get(url, headers=headers), slow.get(url, headers=headers)
    assert (a.status_code, a.json()) == (b.status_code, b.json())


def test_fast_route_is_the_one_that_answers(clients, api_keys, monkeypatch):
    import accord.api.fast as fast_module

    fast, _ = clients
    calls = []
    original = fast_module.bearer_key

    def spy(scope):
        calls.append(scope["path"])
        return original(scope)

    monkeypatch.setattr(fast_module, "bearer_key", spy)
    headers = {"Authorization": f"Bearer {api_keys['curator']}"}
    assert fast.get(f"/m/lookup?signal={NEAR}&signal_type=pdq", headers=headers).json()
    assert fast.get(f"/m/lookup?signal={NEAR}", headers=headers).status_code == 400
    assert calls == ["/m/lookup"]


def test_head_is_answered_as_fastapi_answers_it(clients, api_keys):
    fast, slow = clients
    headers = {"Authorization": f"Bearer {api_keys['curator']}"}
    url = f"/m/lookup?signal={NEAR}&signal_type=pdq"
    assert (
        fast.head(url, headers=headers).status_code == slow.head(url, headers=headers).status_code
    )


def test_openapi_still_documents_the_lookup_parameters(clients):
    fast, _ = clients
    spec = fast.get("/openapi.json").json()
    names = {p["name"] for p in spec["paths"]["/m/lookup"]["get"]["parameters"]}
    assert {"signal", "signal_type", "url", "banks", "bypass_coinflip"} <= names


def test_plain_lookups_never_reach_the_router(accord, api_keys):
    app = create_app(accord, start_matcher=False)
    accord.banks.create_bank("TEST_BANK", actor="t")
    from accord.matching.service import ContentInput

    accord.banks.add_content("TEST_BANK", ContentInput({"pdq": PDQ}), source="s", actor="t")
    app.router.routes[:] = []  # nothing left for Starlette to route to
    headers = {"Authorization": f"Bearer {api_keys['curator']}"}
    with TestClient(app) as client:
        plain = client.get(f"/m/lookup?signal={NEAR}&signal_type=pdq", headers=headers)
        assert plain.status_code == 200
        assert [m["distance"] for m in plain.json()["TEST_BANK"]] == ["3"]
        assert plain.headers["content-type"] == "application/json"
        assert client.get(f"/m/lookup?signal={NEAR}", headers=headers).status_code == 404
        assert client.get(f"/m/lookup?signal={NEAR}&signal_type=pdq").status_code == 404

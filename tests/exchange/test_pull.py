"""One accord instance follows another's bank over HTTP, incrementally, keeping provenance."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.config import Settings
from accord.matching.service import ContentInput
from accord.runtime import Accord


@pytest.fixture
def peer(tmp_path, clock):
    other = Accord(Settings(home=tmp_path / "peer"), clock=clock)
    other.init()
    key = other.keys.create("curator")
    other.banks.create_bank("SHARED", actor="peer")
    with TestClient(create_app(other, start_matcher=False)) as client:
        yield other, client, key
    other.close()


def test_pull_follows_adds_and_removes_from_a_checkpoint(accord, peer):
    other, client, key = peer
    ids = other.banks.add_many(
        "SHARED",
        [ContentInput(signals={"md5": f"{i:032x}"}, labels={"entity": "X"}) for i in range(30)],
        source="peer-curation",
        actor="peer",
    )
    accord.banks.create_bank("FROM_PEER", actor="t")
    first = accord.exchange.pull(
        "http://testserver",
        local_bank="FROM_PEER",
        remote_bank="SHARED",
        key=key,
        actor="t",
        client=client,
    )
    assert (first.added, first.removed) == (30, 0)
    copied = accord.banks.get_content("FROM_PEER", 1)
    assert copied.labels == {"entity": ["X"]}
    assert copied.metadata["provenance"]["source"] == "peer-curation"
    assert accord.matcher.lookup("md5", f"{3:032x}").matches

    other.banks.remove_content("SHARED", ids[3], actor="peer")
    other.banks.add_content(
        "SHARED", ContentInput(signals={"md5": "f" * 32}), source="p", actor="peer"
    )
    second = accord.exchange.pull(
        "http://testserver",
        local_bank="FROM_PEER",
        remote_bank="SHARED",
        key=key,
        actor="t",
        client=client,
    )
    assert (second.added, second.removed) == (1, 1)
    assert second.checkpoint > first.checkpoint
    assert accord.matcher.lookup("md5", f"{3:032x}").matches == []
    assert accord.matcher.lookup("md5", "f" * 32).matches
    again = accord.exchange.pull(
        "http://testserver",
        local_bank="FROM_PEER",
        remote_bank="SHARED",
        key=key,
        actor="t",
        client=client,
    )
    assert (again.added, again.removed) == (0, 0)


def test_pull_needs_a_key_the_peer_accepts(accord, peer):
    _, client, _ = peer
    accord.banks.create_bank("FROM_PEER", actor="t")
    from accord.errors import UpstreamError

    with pytest.raises(UpstreamError, match="401"):
        accord.exchange.pull(
            "http://testserver",
            local_bank="FROM_PEER",
            remote_bank="SHARED",
            key="acc_bad",
            actor="t",
            client=client,
        )

"""The matcher keeps its own snapshot fresh, so a restarted service starts in seconds.

A serving matcher writes a snapshot once the feed has moved on by
``snapshot_changes`` rows and a tenth of the index since the one on disk, and only
when no large change (a bulk load's) came for a while; one process writes at a time (a lock file);
a snapshot from ahead of the database is not trusted.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from accord.clock import ManualClock
from accord.config import Settings
from accord.matching import matcher as matcher_module
from accord.runtime import Accord

N = 200


def _hashes(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, (n, 32), dtype=np.uint8)]


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """No waiting for a still feed or between looks, so the rules are what is tested."""
    monkeypatch.setattr(matcher_module, "SNAPSHOT_QUIET_SECONDS", 0.0)
    monkeypatch.setattr(matcher_module, "SNAPSHOT_RETRY_SECONDS", 0.0)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def service(home: Path, clock: ManualClock) -> Iterator[Accord]:
    accord = Accord(Settings(home=home, snapshot_changes=10), clock=clock)
    accord.init()
    accord.banks.create_bank("SNAP", actor="t")
    try:
        yield accord
    finally:
        accord.close()


def _header(home: Path) -> dict[str, int]:
    header: dict[str, int] = json.loads((home / "index" / "matcher.json").read_text())
    return header


@pytest.mark.usefixtures("eager")
def test_a_snapshot_is_written_once_the_feed_has_moved_on_enough(service, home, clock):
    matcher = service.matcher
    service.banks.add_column("SNAP", "pdq", _hashes(1, 5), source="s", actor="t")
    matcher.catch_up()
    assert matcher.snapshot_if_due() is None  # 5 changes: fewer than snapshot_changes
    assert not (home / "index").exists()

    hashes = _hashes(2, N)
    service.banks.add_column("SNAP", "pdq", hashes, source="s", actor="t")
    matcher.catch_up()
    seq = matcher.snapshot_if_due()
    assert seq is not None
    assert seq == matcher.snapshot_seq()
    assert _header(home) == {
        "format": "accord-matcher-snapshot",
        "version": 1,
        "feed_seq": seq,
        "size": N + 5,
    }
    # fresh: nothing due until the feed moves on by 10 rows and by a tenth of the index
    assert matcher.snapshot_if_due() is None
    service.banks.add_column("SNAP", "pdq", _hashes(3, 9), source="s", actor="t")
    matcher.catch_up()
    assert not matcher.snapshot_due()  # 9 rows
    service.banks.add_column("SNAP", "pdq", _hashes(4, 6), source="s", actor="t")
    matcher.catch_up()
    assert not matcher.snapshot_due()  # 15 rows, under a tenth of 220
    service.banks.add_column("SNAP", "pdq", _hashes(10, 10), source="s", actor="t")
    matcher.catch_up()
    assert matcher.snapshot_due()  # 25 rows, over a tenth of 230
    assert matcher.snapshot_if_due() == matcher.snapshot_seq() > seq

    # a new process starts from it and answers as the database says
    fresh = Accord(Settings(home=home), clock=clock)
    try:
        found = fresh.matcher.lookup("pdq", hashes[7]).matches
        assert [(m.bank, m.distance) for m in found] == [("SNAP", 0)]
        assert fresh.matcher.status("pdq")["pdq"].size == N + 5 + 25
    finally:
        fresh.close()


@pytest.mark.usefixtures("eager")
def test_no_snapshot_while_the_feed_is_moving_or_when_turned_off(service, home, clock, monkeypatch):
    service.banks.add_column("SNAP", "pdq", _hashes(5, N), source="s", actor="t")
    service.matcher.catch_up()
    monkeypatch.setattr(matcher_module, "SNAPSHOT_QUIET_SECONDS", 3600.0)
    assert service.matcher.snapshot_due()
    assert service.matcher.snapshot_if_due() is None  # changed moments ago
    monkeypatch.setattr(matcher_module, "SNAPSHOT_QUIET_SECONDS", 0.0)
    service.matcher.snapshot_changes = 0
    assert not service.matcher.snapshot_due()
    assert service.matcher.snapshot_if_due() is None
    assert not (home / "index" / "matcher.json").exists()


@pytest.mark.usefixtures("eager")
def test_a_trickle_of_changes_does_not_hold_a_snapshot_back(service, home, monkeypatch):
    """Only a large change (a bulk load's) restarts the wait for a still feed."""
    monkeypatch.setattr(matcher_module, "SNAPSHOT_BUSY_ROWS", 100)
    matcher = service.matcher
    service.banks.add_column("SNAP", "pdq", _hashes(11, N), source="s", actor="t")
    matcher.catch_up()
    monkeypatch.setattr(matcher_module, "SNAPSHOT_QUIET_SECONDS", 3600.0)
    assert matcher.snapshot_if_due() is None  # the bulk load of N rows was just now
    matcher._changed_at -= 7200  # two hours of single changes since
    for seed in range(12, 15):
        service.banks.add_column("SNAP", "pdq", _hashes(seed, 1), source="s", actor="t")
        matcher.catch_up()
    assert matcher.snapshot_if_due() == matcher.snapshot_seq()
    assert _header(home)["size"] == N + 3
    service.banks.add_column("SNAP", "pdq", _hashes(15, 100), source="s", actor="t")
    matcher.catch_up()
    assert matcher.snapshot_due()
    assert matcher.snapshot_if_due() is None  # a large change: wait for the feed to settle


@pytest.mark.usefixtures("eager")
def test_one_process_writes_at_a_time(service, home):
    service.banks.add_column("SNAP", "pdq", _hashes(6, N), source="s", actor="t")
    service.matcher.catch_up()
    (home / "index").parent.mkdir(parents=True, exist_ok=True)
    with open(home / ".index.lock", "a+b") as other:  # another process writing its own
        fcntl.flock(other, fcntl.LOCK_EX)
        assert service.matcher.save_snapshot(wait=False) is None
        assert service.matcher.snapshot_if_due() is None
        fcntl.flock(other, fcntl.LOCK_UN)
    assert not (home / "index" / "matcher.json").exists()
    assert service.matcher.save_snapshot(wait=False) == service.matcher.snapshot_seq()


def test_the_follower_thread_keeps_the_snapshot_fresh(home, clock, monkeypatch):
    monkeypatch.setattr(matcher_module, "SNAPSHOT_QUIET_SECONDS", 0.2)
    monkeypatch.setattr(matcher_module, "SNAPSHOT_RETRY_SECONDS", 0.0)
    settings = Settings(home=home, snapshot_changes=10, matcher_poll_seconds=0.05)
    writer = Accord(settings, clock=clock)
    writer.init()
    serving = Accord(settings, clock=clock)
    try:
        writer.banks.create_bank("SNAP", actor="t")
        serving.matcher.start()
        writer.banks.add_column("SNAP", "pdq", _hashes(7, N), source="s", actor="t")
        deadline = time.monotonic() + 10
        while serving.matcher.snapshot_seq() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _header(home)["size"] == N
    finally:
        serving.close()
        writer.close()


def test_a_snapshot_ahead_of_the_database_is_not_trusted(tmp_path, clock, caplog):
    first = Accord(Settings(home=tmp_path / "a"), clock=clock)
    first.init()
    try:
        first.banks.create_bank("SNAP", actor="t")
        first.banks.add_column("SNAP", "pdq", _hashes(8, N), source="s", actor="t")
        first.matcher.save_snapshot()
    finally:
        first.close()
    # a home whose database was replaced by an older, smaller one
    other = Accord(Settings(home=tmp_path / "b"), clock=clock)
    other.init()
    try:
        other.banks.create_bank("SNAP", actor="t")
        other.banks.add_column("SNAP", "pdq", _hashes(9, 3), source="s", actor="t")
        (tmp_path / "a" / "index").rename(tmp_path / "b" / "index")
        restarted = Accord(Settings(home=tmp_path / "b"), clock=clock)
        try:
            assert restarted.matcher.status("pdq")["pdq"].size == 3
            assert restarted.matcher.lookup("pdq", _hashes(8, N)[0]).matches == []
            assert "ignoring the matcher snapshot" in caplog.text
        finally:
            restarted.close()
    finally:
        other.close()

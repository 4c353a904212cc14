"""Shared fixtures: a clean environment, a temporary home, an Accord on SQLite and on
PostgreSQL, and an HTTP client with keys of every role.

``accord`` is parametrized over the two databases only where a test asks for
``store`` (the storage-backed fixture); plain ``accord`` is SQLite, which is fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.clock import ManualClock
from accord.config import Settings
from accord.runtime import Accord

pytest_plugins = ["tests.plugins.postgres"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's ACCORD_* settings or home."""
    for name in list(os.environ):
        if name.startswith("ACCORD_") and name != "ACCORD_TEST_POSTGRES":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "home"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


def _make_accord(settings: Settings, clock: ManualClock) -> Iterator[Accord]:
    accord = Accord(settings, clock=clock)
    accord.init()
    try:
        yield accord
    finally:
        accord.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def accord(settings: Settings, clock: ManualClock) -> Iterator[Accord]:
    """An initialised Accord on SQLite in a temporary home, with a manual clock."""
    yield from _make_accord(settings, clock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Accord]:
    """An initialised Accord on each database: SQLite, then a fresh PostgreSQL database."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        settings = Settings(home=tmp_path / "home", database_url=url)
    else:
        settings = Settings(home=tmp_path / "home")
    yield from _make_accord(settings, clock)

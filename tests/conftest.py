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


@pytest.fixture
def api_keys(accord: Accord) -> dict[str, str]:
    """One key per role, by role name."""
    from accord.keys.model import Role

    return {role.value: accord.keys.create(role, subject=f"{role.value}-account") for role in Role}


@pytest.fixture
def client(accord: Accord) -> Iterator[object]:
    """A TestClient of the app over ``accord`` (the matcher is started by the app)."""
    from fastapi.testclient import TestClient

    from accord.api.app import create_app

    with TestClient(create_app(accord, start_matcher=False)) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def headers(api_keys: dict[str, str]) -> dict[str, dict[str, str]]:
    """Authorization headers by role name: ``client.get(url, headers=headers["curator"])``."""
    return {role: auth(key) for role, key in api_keys.items()}

"""``accord serve``: the thread settings it gives the worker processes before they start."""

from __future__ import annotations

import os

import pytest
import uvicorn

from accord.cli.app import run

NUMERIC = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")


@pytest.fixture
def served(monkeypatch):
    """What ``accord serve`` hands to uvicorn, and the environment it had then."""
    seen: dict[str, object] = {}

    def fake_run(app: str, **options: object) -> None:
        seen.update(options, app=app, env={v: os.environ.get(v) for v in NUMERIC})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    for var in NUMERIC:
        monkeypatch.delenv(var, raising=False)
    return seen


def test_serve_gives_numeric_libraries_and_opencv_one_thread(served):
    assert run(["init"]) == 0
    assert run(["serve", "--port", "8123"]) == 0
    assert served["app"] == "accord.api.asgi:app"
    assert served["port"] == 8123
    assert served["env"] == dict.fromkeys(NUMERIC, "1")


def test_serve_takes_accord_threads_and_keeps_a_variable_already_set(served, monkeypatch):
    monkeypatch.setenv("ACCORD_THREADS", "3")
    monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "2")
    assert run(["init"]) == 0
    assert run(["serve"]) == 0
    env = served["env"]
    assert env["OPENCV_FOR_THREADS_NUM"] == "2"
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "3"

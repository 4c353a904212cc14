"""Waiting for another matcher process to see a change, within the issue's 5 seconds."""

from __future__ import annotations

import time
from collections.abc import Callable


def within(seconds: float, probe: Callable[[], object], expected: object, failure: str) -> None:
    """Ask ``probe`` until it answers ``expected``; fail with ``failure`` after ``seconds``."""
    started = time.monotonic()
    while probe() != expected:
        assert time.monotonic() - started < seconds, failure
        time.sleep(0.05)

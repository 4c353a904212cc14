"""Waiting for another matcher process to see a change, within the issue's 5 seconds,
and such a process for photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def within(seconds: float, probe: Callable[[], object], expected: object, failure: str) -> None:
    """Ask ``probe`` until it answers ``expected``; fail with ``failure`` after ``seconds``."""
    started = time.monotonic()
    while probe() != expected:
        assert time.monotonic() - started < seconds, failure
        time.sleep(0.05)


MATCH_FOLLOWER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from accord.config import Settings
    from accord.runtime import Accord

    accord = Accord(Settings(home=sys.argv[1], database_url=sys.argv[2],
                             matcher_poll_seconds=0.2))
    accord.matcher.start()
    query = Path(sys.argv[3]).read_bytes()
    kind, detail = sys.argv[4], sys.argv[5]
    print("ready", flush=True)
    for _ in sys.stdin:
        result = accord.lookups.match_content("photo", query).results.get(kind)
        print(json.dumps([m.content_id for m in result.matches if not detail or detail in m.detail]
                         if result else []), flush=True)
    accord.close()
    """
)


@contextmanager
def follower(script: str, store: Any, *args: str, line: str = "?") -> Iterator[Callable[[], Any]]:
    """Another process running ``script`` (``-c``) with ``store``'s home, database URL and
    ``args``; it prints ``ready``, then one JSON answer for each line it reads. Yields
    ``ask()``: send ``line``, return the answer."""
    command = [
        sys.executable,
        "-c",
        script,
        str(store.settings.home),
        store.settings.resolved_database_url,
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout
        assert stdout.readline().strip() == "ready"

        def ask() -> Any:
            stdin.write(line + "\n")
            stdin.flush()
            return json.loads(stdout.readline())

        yield ask
        stdin.close()
        proc.wait(timeout=10)


@contextmanager
def photo_follower(
    store: Any, query: Path, kind: str, detail: str = ""
) -> Iterator[Callable[[], list[int]]]:
    """Another process with its own matcher (polling every 0.2 s) on ``store``'s database;
    yields ``ask()``: the content ids its ``kind`` results (``pdq``, ``keypoints``) match
    for the photo ``query`` now, keeping only matches whose detail has ``detail``."""
    with follower(MATCH_FOLLOWER, store, str(query), kind, detail) as ask:
        yield ask

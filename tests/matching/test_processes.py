"""A hash added or removed in one process is matched (or not) by a matcher in another
process within seconds, by following the change feed (SQLite file and PostgreSQL)."""

from __future__ import annotations

import textwrap

import pytest

from accord.matching.service import ContentInput
from tests.matching.waiting import follower, within

H = "a5" * 32

FOLLOWER = textwrap.dedent(
    """
    import json, sys
    from accord.config import Settings
    from accord.runtime import Accord

    accord = Accord(Settings(home=sys.argv[1], database_url=sys.argv[2],
                             matcher_poll_seconds=0.2))
    accord.matcher.start()
    print("ready", flush=True)
    for line in sys.stdin:
        result = accord.matcher.lookup("pdq", line.strip())
        print(json.dumps([m.content_id for m in result.matches]), flush=True)
    accord.close()
    """
)


@pytest.mark.slow
def test_second_process_follows_adds_and_removes(store):
    store.banks.create_bank("TVEC", actor="t")
    with follower(FOLLOWER, store, line=H) as ask:
        assert ask() == []
        content = store.banks.add_content(
            "TVEC", ContentInput(signals={"pdq": H}), source="s", actor="t"
        )
        within(5, ask, [content.id], "not matchable in the other process within 5 s")
        store.banks.remove_content("TVEC", content.id, actor="t")
        within(5, ask, [], "still matched 5 s after removal")

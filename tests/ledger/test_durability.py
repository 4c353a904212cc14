"""Durability: a writer killed with SIGKILL mid-stream loses no acknowledged event and
leaves a consistent tree; writers in several processes get one gapless sequence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from accord.clock import ManualClock
from accord.config import Settings
from accord.ledger import merkle
from accord.runtime import Accord

WRITER = textwrap.dedent(
    """
    import sys
    from accord.config import Settings
    from accord.runtime import Accord

    home, url, tag = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    count, batch = int(sys.argv[4]), int(sys.argv[5])
    accord = Accord(Settings(home=home, database_url=url))
    n = 0
    while count < 0 or n < count:
        with accord.db.write() as conn:
            events = accord.ledger.append_many(
                conn, [("bank.created", {"writer": tag, "n": n + i}, None) for i in range(batch)]
            )
        n += batch
        for e in events:  # acknowledged: the transaction has committed
            print(e.seq, flush=True)
    """
)


def _writer(home: Path, url: str | None, tag: str, count: int, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), url or "", tag, str(count), str(batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _check_log(accord: Accord) -> int:
    """Every stored root and a sample of proofs agree with a tree recomputed from the events."""
    size = accord.ledger.size()
    events = accord.ledger.entries(0, size)
    assert [e.seq for e in events] == list(range(size))
    memory = merkle.MemoryTree(e.leaf_hash for e in events)
    tree = accord.ledger.tree
    with accord.db.read() as conn:
        assert tree.size(conn) == size
        for s in {1, size // 3, size // 2, size - 1, size}:
            if s <= 0:
                continue
            root = tree.root(conn, s)
            assert root == memory.root(s)
            for i in {0, s // 2, s - 1}:
                merkle.verify_inclusion(
                    events[i].leaf_hash, i, s, tree.inclusion_proof(conn, i, s), root
                )
            if s < size:
                merkle.verify_consistency(
                    s, size, root, memory.root(), tree.consistency_proof(conn, s, size)
                )
    return size


def _make(tmp_path: Path, url: str | None) -> Accord:
    accord = Accord(Settings(home=tmp_path / "home", database_url=url), clock=ManualClock())
    accord.init()
    return accord


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_mid_stream_loses_no_acknowledged_event(request, tmp_path, db):
    url = request.getfixturevalue("postgres_url") if db == "postgres" else None
    accord = _make(tmp_path, url)
    proc = _writer(tmp_path / "home", url, "w", -1, 3)
    acknowledged: list[int] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    proc.send_signal(signal.SIGKILL)
    rest, errors = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # lines already written before the kill were acknowledged too
    acknowledged.extend(int(x) for x in rest.split())
    assert len(acknowledged) >= 150, errors
    # the tree is consistent, every acknowledged event is there, and appending goes on
    size = _check_log(accord)
    assert set(acknowledged) <= set(range(size))
    with accord.db.write() as conn:
        accord.ledger.append(conn, "bank.created", {"after": "crash"})
    assert _check_log(accord) == size + 1
    accord.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_writers_on_postgres_get_one_gapless_consistent_log(postgres_url, tmp_path):
    accord = _make(tmp_path, postgres_url)
    writers = [_writer(tmp_path / "home", postgres_url, f"w{i}", 60, 1 + i) for i in range(3)]
    seqs: list[int] = []
    for proc in writers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        seqs.extend(int(x) for x in out.split())
    assert sorted(seqs) == list(range(len(seqs)))
    assert _check_log(accord) == len(seqs) == 3 * 60
    accord.close()

"""Concurrent reports, takes and decisions lose nothing and never double-decide.

Each worker thread has its own :class:`Accord` (its own engine and write lock)
over the same database, as separate processes would: on PostgreSQL the
transactions really run at once, and only row locks, ``SKIP LOCKED`` and the
conditional lease update keep them apart. On SQLite they queue on the file.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from accord.errors import Conflict
from accord.moderation.tables import cases, decisions, reports
from accord.runtime import Accord


def peers(store, n):
    out = []
    for _ in range(n):
        peer = Accord(store.settings, clock=store.clock)
        out.append(peer)
    return out


@pytest.mark.slow
def test_concurrent_reports_on_one_subject_make_one_case_with_every_reporter(store):
    workers = peers(store, 4)
    try:

        def send(i):
            svc = workers[i % len(workers)].moderation
            return svc.report(
                subject_type="livestream",
                subject_id="stream-9",
                reason="terrorism_violent_extremism",
                reporter=f"viewer-{i}",
                account="streamer",
            )

        with ThreadPoolExecutor(8) as pool:
            receipts = list(pool.map(send, range(40)))
        assert len({r.case_id for r in receipts}) == 1
        with store.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(reports)).scalar_one() == 40
            assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == 1
            assert conn.execute(select(cases.c.reporters)).scalar_one() == 40
    finally:
        for w in workers:
            w.close()


@pytest.mark.slow
def test_two_moderators_never_decide_one_case(store):
    svc = store.moderation
    for i in range(12):
        svc.report(
            subject_type="content",
            subject_id=f"c{i}",
            reason="spam",
            reporter=f"r{i}",
            account=f"a{i}",
        )
    workers = peers(store, 4)
    taken: list[int] = []
    lock = threading.Lock()
    try:

        def moderate(i):
            w = workers[i].moderation
            mine = []
            while (case := w.take_next("general", holder=f"mod-{i}", role="moderator")) is not None:
                mine.append(case.id)
            for case_id in mine:
                w.decide(
                    case_id,
                    holder=f"mod-{i}",
                    actor=f"key:mod-{i}",
                    action="remove",
                    facts="spam",
                    policy_id="spam",
                )
            with lock:
                taken.extend(mine)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(moderate, range(4)))
        assert sorted(taken) == list(range(1, 13))  # every case taken once, by one moderator

        # A race on one case: the holder and a stranger decide at the same time.
        svc.report(
            subject_type="content", subject_id="race", reason="spam", reporter="z", account="q"
        )
        case = svc.take_next("general", holder="mod-0", role="moderator")
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def race(i):
            barrier.wait()
            try:
                workers[i].moderation.decide(
                    case.id, holder=f"mod-{i}", actor=f"key:mod-{i}", action="none", facts="race"
                )
                outcomes.append("decided")
            except Conflict:
                outcomes.append("conflict")

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(race, range(2)))
        assert sorted(outcomes) == ["conflict", "decided"]
        with store.db.read() as conn:
            n = conn.execute(
                select(func.count()).select_from(decisions).where(decisions.c.case_id == case.id)
            ).scalar_one()
        assert n == 1
    finally:
        for w in workers:
            w.close()


@pytest.mark.slow
def test_the_same_holder_racing_itself_decides_once(store):
    svc = store.moderation
    svc.report(subject_type="content", subject_id="dup", reason="spam", reporter="r", account="a")
    case = svc.take_next("general", holder="mod-x", role="moderator")
    workers = peers(store, 3)
    barrier = threading.Barrier(3)
    outcomes: list[str] = []
    try:

        def go(i):
            barrier.wait()
            try:
                workers[i].moderation.decide(
                    case.id,
                    holder="mod-x",
                    actor="key:mod-x",
                    action="remove",
                    facts="spam",
                    policy_id="spam",
                )
                outcomes.append("decided")
            except Conflict:
                outcomes.append("conflict")

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(go, range(3)))
        assert sorted(outcomes) == ["conflict", "conflict", "decided"]
    finally:
        for w in workers:
            w.close()


@pytest.mark.slow
def test_concurrent_batches_on_shared_subjects_make_one_case_per_subject(store):
    """Batches that overlap in their subjects (each in its own order, some subjects
    with an open case already, most new) open one case per subject and count every
    reporter once, whatever the interleaving: PostgreSQL runs them at once."""
    svc = store.moderation
    for s in range(0, 24, 4):  # a few cases exist before the batches arrive
        svc.report(subject_type="content", subject_id=f"hot-{s}", reason="spam", reporter="early")
    workers = peers(store, 4)
    try:

        def send(w):
            order = list(range(24))
            order = order[w * 5 :] + order[: w * 5]  # each worker starts elsewhere
            flags = [
                {
                    "subject_type": "content",
                    "subject_id": f"hot-{s}",
                    "reason": "terrorism_violent_extremism" if s % 3 == 0 else "spam",
                    "reporter": f"w{w}-r{round_}",
                    "account": f"acct-{s}",
                }
                for round_ in range(2)
                for s in order
            ]
            receipts = []
            for start in range(0, len(flags), 16):
                receipts += workers[w].moderation.report_many(flags[start : start + 16])
            return receipts

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(send, range(4)))
        by_subject: dict[int, set[int]] = {}
        for receipts in results:
            assert len(receipts) == 48
        with store.db.read() as conn:
            rows = conn.execute(select(cases.c.subject_id, cases.c.id, cases.c.reporters)).all()
            n_reports = conn.execute(select(func.count()).select_from(reports)).scalar_one()
        for subject_id, case_id, _ in rows:
            by_subject.setdefault(subject_id, set()).add(case_id)
        assert len(rows) == 24
        assert all(len(ids) == 1 for ids in by_subject.values())
        early = {f"hot-{s}" for s in range(0, 24, 4)}
        for subject_id, _, reporters in rows:
            assert reporters == 8 + (subject_id in early)  # 4 workers x 2 reporters (+ early)
        assert n_reports == 4 * 48 + len(early)
    finally:
        for w in workers:
            w.close()

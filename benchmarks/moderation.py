"""Moderation benchmark: report ingestion per second and next-case latency with many open cases.

    .venv/bin/python benchmarks/moderation.py          # 1,000,000 open cases, SQLite + PostgreSQL
    .venv/bin/python benchmarks/moderation.py --quick  # 20,000 open cases

For each database it prints:

* ingestion: ``ModerationService.report`` (one transaction per report: rate
  check, case lookup under lock, report row, urgency update, ledger events) and
  ``report_many`` (batches of 100), against a baseline measured in the same run:
  one bare INSERT of a report row per transaction (the commit floor);
* next case: ``take_next`` (lease the most urgent case) p50/p99 with the open
  cases in place, against a baseline of the bare ``SELECT ... ORDER BY due_at
  LIMIT 1`` on the same index.

PostgreSQL: ``ACCORD_BENCH_POSTGRES=postgresql+psycopg://...`` names a database to
use (it is filled with benchmark rows); otherwise a throwaway cluster is started
from the server binaries, as the tests do.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from accord.clock import format_time
from accord.config import Settings
from accord.moderation.tables import cases, reports
from accord.runtime import Accord


@contextmanager
def postgres_url() -> Iterator[str]:
    given = os.environ.get("ACCORD_BENCH_POSTGRES")
    if given:
        yield given
        return
    from sqlalchemy import create_engine, text
    from tests.plugins.postgres import PgCluster, _bin_dir

    bindir = _bin_dir()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries; set ACCORD_BENCH_POSTGRES")
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "bench"'))
        admin.dispose()
        yield cluster.url("bench")
    finally:
        cluster.stop()


def fill_open_cases(accord: Accord, n: int, *, batch: int = 10_000) -> None:
    """``n`` open cases, 10% in the tve queue, with random urgency."""
    rng = random.Random(7)
    now = accord.clock.now()
    opened = format_time(now)
    base = now.timestamp()
    done = 0
    while done < n:
        rows = []
        for i in range(done, min(n, done + batch)):
            rows.append(
                {
                    "subject_type": "content",
                    "subject_id": f"bench-{i}",
                    "open_key": f"content:bench-{i}",
                    "account": f"acct-{i % 50_000}",
                    "content_type": "video",
                    "content_date": None,
                    "queue": "tve" if i % 10 == 0 else "general",
                    "state": "open",
                    "reason": "spam",
                    "tier": "standard",
                    "reporters": 1,
                    "reporter_weight": 1.0,
                    "automated": False,
                    "reach": 0,
                    "due_at": base + rng.uniform(0, 72 * 3600),
                    "opened_at": opened,
                    "lease_holder": None,
                    "lease_expires": None,
                    "labels": [],
                    "content_state": "visible",
                    "closed_at": None,
                }
            )
        with accord.db.write() as conn:
            conn.execute(insert(cases), rows)
        done += len(rows)


def rate(fn: Callable[[int], None], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(name: str, settings: Settings, n_cases: int, n_reports: int) -> list[tuple[str, ...]]:
    accord = Accord(settings)
    accord.init()
    svc = accord.moderation
    rows: list[tuple[str, ...]] = []
    try:
        # --- ingestion --------------------------------------------------------
        now_s = format_time(accord.clock.now())
        case_id = svc.report(
            subject_type="content", subject_id="seed", reason="spam", reporter="seed"
        ).case_id

        def bare(i: int) -> None:
            with accord.db.write() as conn:
                conn.execute(
                    insert(reports).values(
                        case_id=case_id,
                        reporter=f"b{i}",
                        source="user",
                        reason="spam",
                        text=None,
                        labels=[],
                        created_at=now_s,
                    )
                )

        def one(i: int) -> None:
            svc.report(
                subject_type="content", subject_id=f"s{i % (n_reports // 3 + 1)}",
                reason="terrorism_violent_extremism" if i % 7 == 0 else "spam",
                reporter=f"reporter-{i}", account=f"a{i % 1000}", reach=i % 5000,
            )  # fmt: skip

        def batched(i: int) -> None:
            svc.report_many(
                {
                    "subject_type": "content",
                    "subject_id": f"t{(i * 100 + j) % (n_reports // 3 + 1)}",
                    "reason": "spam",
                    "reporter": f"bulk-{i}-{j}",
                    "account": f"a{j}",
                }
                for j in range(100)
            )

        baseline = rate(bare, n_reports)
        single = rate(one, n_reports)
        bulk = rate(batched, max(1, n_reports // 100)) * 100
        rows.append((name, "reports/s, report() one per txn", f"{single:,.0f}",
                     f"{baseline:,.0f}", f"{single / baseline:.2f}"))  # fmt: skip
        rows.append((name, "reports/s, report_many(100)", f"{bulk:,.0f}",
                     f"{baseline:,.0f}", f"{bulk / baseline:.2f}"))  # fmt: skip

        # --- next case with many open cases -----------------------------------
        t0 = time.perf_counter()
        fill_open_cases(accord, n_cases)
        fill = time.perf_counter() - t0
        if accord.db.is_postgres:
            with accord.db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE moderation_cases")
        probe = (
            select(cases.c.id)
            .where(cases.c.queue == "general", cases.c.state == "open")
            .order_by(cases.c.due_at, cases.c.id)
            .limit(1)
        )
        plain: list[float] = []
        for _ in range(300):
            start = time.perf_counter()
            with accord.db.read() as conn:
                conn.execute(probe).scalar()
            plain.append((time.perf_counter() - start) * 1000)
        taken: list[float] = []
        for i in range(300):
            start = time.perf_counter()
            svc.take_next("general", holder=f"bench-mod-{i % 4}", role="moderator")
            taken.append((time.perf_counter() - start) * 1000)
        p99, b99 = percentile(taken, 0.99), percentile(plain, 0.99)
        label = f"next case p99 ms ({n_cases:,} open; fill {fill:.0f} s)"
        rows.append((name, label, f"{p99:.2f}", f"{b99:.2f}", f"{p99 / b99:.2f}"))
        rows.append((name, "next case p50 ms", f"{statistics.median(taken):.2f}",
                     f"{statistics.median(plain):.2f}",
                     f"{statistics.median(taken) / statistics.median(plain):.2f}"))  # fmt: skip
    finally:
        accord.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 open cases, 300 reports")
    parser.add_argument("--cases", type=int, default=None, help="open cases for next-case")
    parser.add_argument("--reports", type=int, default=None, help="reports to ingest")
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    n_cases = args.cases or (20_000 if args.quick else 1_000_000)
    n_reports = args.reports or (300 if args.quick else 3_000)
    results: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            settings = Settings(home=Path(tmp) / "sqlite")
            results += run("sqlite", settings, n_cases, n_reports)
        if args.only in (None, "postgres"):
            with postgres_url() as url:
                settings = Settings(home=Path(tmp) / "pg", database_url=url)
                results += run("postgres", settings, n_cases, n_reports)
    header = ("db", "measure", "accord", "baseline", "ratio")
    widths = [max(len(r[i]) for r in [header, *results]) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in results:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print("baseline: ingestion = one bare INSERT per transaction; next case = bare indexed SELECT")


if __name__ == "__main__":
    main()

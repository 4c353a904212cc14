"""Moderation benchmark: report ingestion per second and next-case latency with many open cases.

    .venv/bin/python benchmarks/moderation.py          # 1,000,000 open cases, SQLite + PostgreSQL
    .venv/bin/python benchmarks/moderation.py --quick  # 20,000 open cases
    .venv/bin/python benchmarks/moderation.py --only postgres --batch 100 --batch 1000

The open cases are filled first, so ingestion runs at the goal's conditions.
For each database it prints:

* ingestion: ``ModerationService.report`` (one transaction per report, the
  ``POST /v1/reports`` path) and ``report_many`` in batches of 100 and 1000
  (one transaction per batch: rate counts, case lookup, new cases, locks,
  report rows, urgency update, ledger events). Half the reports of a batch join
  a random open case, half flag a new subject; every reporter is new. The
  baseline, measured in the same run, is the bare bulk insert of the same
  report rows (``accord.store.bulk.insert_rows``, one transaction per batch;
  one plain INSERT per transaction for ``report``). On PostgreSQL the batched
  measures are repeated with ``--workers`` (default 2) concurrent ingesters,
  each with its own engine, as separate processes would be, against the bare
  bulk insert from as many at once;
* CPU: the same measures as reports per CPU-second, client and server
  processes together (PostgreSQL's from ``/proc``): what the work costs,
  which the load of a shared machine hardly changes. Two idle cores give at
  most twice that figure per second;
* next case: ``take_next`` (lease the most urgent case) p50/p99 with the open
  cases in place, against a baseline of the bare ``SELECT ... ORDER BY due_at
  LIMIT 1`` on the same index.

PostgreSQL: ``ACCORD_BENCH_POSTGRES=postgresql+psycopg://...`` names an empty
database to use (it is filled with benchmark rows); otherwise a throwaway
cluster is started from the server binaries, as the tests do.
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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from accord.clock import format_time
from accord.config import Settings
from accord.moderation.tables import cases, reports
from accord.runtime import Accord
from accord.store.bulk import insert_rows


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
            insert_rows(conn, cases, rows)
        done += len(rows)


def rate(fn: Callable[[int], None], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - started)


class CpuMeter:
    """CPU seconds spent by this process and, on PostgreSQL, by the server's processes
    (read from ``/proc``; the server runs on this machine). Unlike a rate, it hardly
    depends on what else the machine runs, so it says what the work costs."""

    def __init__(self, accord: Accord) -> None:
        self.accord = accord
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _server(self) -> float:
        if not self.accord.db.is_postgres:
            return 0.0
        with self.accord.db.read() as conn:
            pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity").scalars().all()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
        return total

    def read(self) -> float:
        return time.process_time() + self._server()


def rate_and_cpu(meter: CpuMeter, fn: Callable[[int], None], n: int) -> tuple[float, float]:
    """(calls per second, calls per CPU second of client and server)."""
    before = meter.read()
    per_second = rate(fn, n)
    return per_second, n / max(1e-9, meter.read() - before)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ingest_rows(
    n_cases: int, batch: int, n_batches: int, start: int, now_s: str
) -> list[tuple[list[dict[str, object]], list[dict[str, object]]]]:
    """Batches of reports as ``(flags, report rows)``: half join one of the open cases
    (a random one of ``n_cases``), half flag a new subject; every reporter is new."""
    rng = random.Random(start)
    out = []
    for b in range(n_batches):
        flags: list[dict[str, object]] = []
        for j in range(batch):
            k = start + b * batch + j
            subject = f"bench-{rng.randrange(n_cases)}" if j % 2 else f"new-{k}"
            flags.append(
                {
                    "subject_type": "content",
                    "subject_id": subject,
                    "reason": "terrorism_violent_extremism" if j % 7 == 0 else "spam",
                    "reporter": f"reporter-{k}",
                    "account": f"a{k % 1000}",
                    "reach": k % 5000,
                }
            )
        rows: list[dict[str, object]] = [
            {
                "case_id": 1 + (j % max(1, n_cases)),
                "reporter": f["reporter"],
                "source": "user",
                "reason": f["reason"],
                "text": None,
                "labels": [],
                "created_at": now_s,
            }
            for j, f in enumerate(flags)
        ]
        out.append((flags, rows))
    return out


def parallel(
    settings: Settings,
    accord: Accord,
    workers: int,
    batches: list[tuple[list[dict[str, object]], list[dict[str, object]]]],
    size: int,
) -> tuple[float, float]:
    """Reports per second of ``workers`` threads, each with its own Accord (engine,
    connections) as separate ingest processes would have, sharing ``batches``; and
    of the bare bulk insert of the same rows, as many at once."""
    peers = [Accord(settings, clock=accord.clock) for _ in range(workers)]
    try:

        def timed(work: Callable[[Accord, int], None]) -> float:
            def share(w: int) -> None:
                for i in range(w, len(batches), workers):
                    work(peers[w], i)

            started = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(share, range(workers)))
            return len(batches) * size / (time.perf_counter() - started)

        def bare(peer: Accord, i: int) -> None:
            with peer.db.write() as conn:
                insert_rows(conn, reports, batches[i][1])

        baseline = timed(bare)

        def ingest(peer: Accord, i: int) -> None:
            peer.moderation.report_many(batches[i][0])

        ingested = timed(ingest)
        return ingested, baseline
    finally:
        for peer in peers:
            peer.close()


def run(
    name: str,
    settings: Settings,
    n_cases: int,
    n_reports: int,
    sizes: list[int],
    workers: int = 2,
) -> list[tuple[str, ...]]:
    accord = Accord(settings)
    accord.init()
    svc = accord.moderation
    rows: list[tuple[str, ...]] = []
    try:
        t0 = time.perf_counter()
        fill_open_cases(accord, n_cases)
        fill = time.perf_counter() - t0
        # Settle the filled table (statistics; on PostgreSQL also the visibility map,
        # so that autovacuum does not start on it during the measures below).
        if accord.db.is_postgres:
            with accord.db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("VACUUM ANALYZE moderation_cases")
        else:
            with accord.db.write() as conn:
                conn.exec_driver_sql("ANALYZE moderation_cases")
        now_s = format_time(accord.clock.now())
        start = 0
        meter = CpuMeter(accord)

        # --- ingestion with the open cases in place -----------------------------
        for size in sizes:
            n_batches = max(3, (min(n_reports, 500) if size == 1 else n_reports) // size)
            batches = ingest_rows(n_cases, size, n_batches, start, now_s)
            start += size * n_batches

            def bare(batch: list[dict[str, object]]) -> None:
                with accord.db.write() as conn:
                    insert_rows(conn, reports, batch)

            baseline, baseline_cpu = rate_and_cpu(
                meter, lambda i, b=batches: bare(b[i][1]), len(batches)
            )
            if size == 1:
                label = "report() one per transaction"
                done, cpu = rate_and_cpu(
                    meter, lambda i, b=batches: svc.report(**b[i][0][0]), len(batches)
                )
            else:
                label = f"report_many({size})"
                done, cpu = rate_and_cpu(
                    meter, lambda i, b=batches: svc.report_many(b[i][0]), len(batches)
                )
            done, cpu, baseline, baseline_cpu = (
                x * size for x in (done, cpu, baseline, baseline_cpu)
            )
            rows.append((name, f"reports/s, {label}", f"{done:,.0f}", f"{baseline:,.0f}",
                         f"{done / baseline:.2f}"))  # fmt: skip
            rows.append((name, f"reports per CPU-second, {label}", f"{cpu:,.0f}",
                         f"{baseline_cpu:,.0f}", f"{cpu / baseline_cpu:.2f}"))  # fmt: skip
            if size == 1:
                continue
            if workers > 1 and accord.db.is_postgres:
                batches = ingest_rows(n_cases, size, n_batches, start, now_s)
                start += size * n_batches
                both = parallel(settings, accord, workers, batches, size)
                rows.append((name, f"reports/s, report_many({size}), {workers} workers",
                             f"{both[0]:,.0f}", f"{both[1]:,.0f}",
                             f"{both[0] / both[1]:.2f}"))  # fmt: skip

        # --- next case with many open cases -----------------------------------
        probe = (
            select(cases.c.id)
            .where(cases.c.queue == "general", cases.c.state == "open")
            .order_by(cases.c.due_at, cases.c.id)
            .limit(1)
        )
        plain: list[float] = []
        for _ in range(300):
            start_t = time.perf_counter()
            with accord.db.read() as conn:
                conn.execute(probe).scalar()
            plain.append((time.perf_counter() - start_t) * 1000)
        taken: list[float] = []
        for i in range(300):
            start_t = time.perf_counter()
            svc.take_next("general", holder=f"bench-mod-{i % 4}", role="moderator")
            taken.append((time.perf_counter() - start_t) * 1000)
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
    parser.add_argument("--quick", action="store_true", help="20,000 open cases, 1,000 reports")
    parser.add_argument("--cases", type=int, default=None, help="open cases (default 1,000,000)")
    parser.add_argument(
        "--reports", type=int, default=None, help="reports per batched measure (default 10,000)"
    )
    parser.add_argument(
        "--batch", type=int, action="append", default=None,
        help="batch sizes to measure (repeatable; default 1, 100, 1000; 1 = report())",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=2,
        help="also ingest batches from this many concurrent workers (PostgreSQL; 1 = off)",
    )  # fmt: skip
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    n_cases = args.cases or (20_000 if args.quick else 1_000_000)
    n_reports = args.reports or (1_000 if args.quick else 10_000)
    sizes = args.batch or [1, 100, 1000]
    results: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            settings = Settings(home=Path(tmp) / "sqlite")
            results += run("sqlite", settings, n_cases, n_reports, sizes, 1)
        if args.only in (None, "postgres"):
            with postgres_url() as url:
                settings = Settings(home=Path(tmp) / "pg", database_url=url)
                results += run("postgres", settings, n_cases, n_reports, sizes, args.workers)
    header = ("db", "measure", "accord", "baseline", "ratio")
    widths = [max(len(r[i]) for r in [header, *results]) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in results:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(
        "baseline: ingestion = the same report rows bulk-inserted bare (insert_rows), one "
        "transaction per batch; next case = the bare indexed SELECT"
    )


if __name__ == "__main__":
    main()

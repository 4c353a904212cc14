"""Ledger benchmark: appends per second, proof and checkpoint times, against baselines.

    .venv/bin/python benchmarks/ledger.py --quick     # small sizes, a minute or so
    .venv/bin/python benchmarks/ledger.py             # 1M leaves for proofs
    .venv/bin/python benchmarks/ledger.py --full      # and 10M leaves

Measured in the same run, on the same database:

- appends, batched (1000 events per transaction) and single (one per
  transaction, each committed durably), on SQLite and PostgreSQL, against a
  bare ``INSERT`` of the same rows into a plain table (the floor any log pays);
- inclusion and consistency proof generation from stored nodes and their
  verification, at N leaves, against the naive way of getting a root: reading
  every leaf hash and rehashing the whole tree;
- checkpoint issuance (root from stored nodes + Ed25519 signature).

PostgreSQL runs in a throwaway cluster started like the test suite's (fsync
off, as there); it is skipped with a message when the server binaries are not
installed. Not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accord.clock import ManualClock
from accord.config import Settings
from accord.ledger import merkle
from accord.ledger.canonical import canonical_json
from accord.ledger.tables import ledger_events
from accord.runtime import Accord
from accord.store.bulk import insert_rows

ROWS: list[tuple[str, str, str]] = []


def _event(i: int) -> tuple[str, dict[str, object], str]:
    return ("bank.content_added", {"bank": "TERROR_BANK", "signal": "pdq", "n": i}, "key:abc")


def _fmt(rate: float) -> str:
    return f"{rate:,.0f}"


def report(section: str, name: str, value: str, baseline: str = "", ratio: str = "") -> None:
    ROWS.append(
        (section, name, value + (f"  (baseline {baseline}, ratio {ratio})" if baseline else ""))
    )
    print(f"  {section:10} {name:42} {value:>16}  {baseline:>16}  {ratio:>8}", flush=True)


@contextmanager
def make_accord(url: str | None) -> Iterator[Accord]:
    home = Path(tempfile.mkdtemp(prefix="accord-ledger-bench-"))
    accord = Accord(Settings(home=home, database_url=url), clock=ManualClock())
    accord.init()
    try:
        yield accord
    finally:
        accord.close()
        shutil.rmtree(home, ignore_errors=True)


def bare_insert_rate(accord: Accord, n: int, batch: int) -> float:
    """Rows/s of a bare bulk insert of the same leaf rows (precomputed) into a plain table.

    The same bulk path the ledger uses (:func:`accord.store.bulk.insert_rows`: COPY on
    PostgreSQL, one prepared INSERT on SQLite), without the tree, the JSON or the lock.
    """
    md = MetaData()
    plain = Table(
        f"bench_plain_{random.randrange(10**9)}",
        md,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("kind", String(64)),
        Column("time", String(32)),
        Column("body", LargeBinary),
        Column("leaf_hash", LargeBinary(32)),
    )
    md.create_all(accord.db.engine)
    rows = []
    for i in range(n):
        body = canonical_json({"seq": i, "kind": "k", "data": _event(i)[1]})
        rows.append(
            {"seq": i, "kind": "k", "time": "t", "body": body, "leaf_hash": merkle.hash_leaf(body)}
        )
    start = time.perf_counter()
    for s in range(0, n, batch):
        with accord.db.write() as conn:
            insert_rows(conn, plain, rows[s : s + batch])
    return n / (time.perf_counter() - start)


def append_rate(accord: Accord, n: int, batch: int) -> float:
    base = accord.ledger.size()
    start = time.perf_counter()
    for s in range(0, n, batch):
        with accord.db.write() as conn:
            accord.ledger.append_many(
                conn, [_event(base + s + i) for i in range(min(batch, n - s))]
            )
    return n / (time.perf_counter() - start)


def bench_appends(label: str, url: str | None, batched: int, single: int) -> None:
    with make_accord(url) as accord:
        ledger = append_rate(accord, batched, 1000)
        bare = bare_insert_rate(accord, batched, 1000)
        report(
            label,
            f"batched appends/s ({batched:,}, 1000/tx)",
            _fmt(ledger),
            _fmt(bare),
            f"{ledger / bare:.2f}",
        )
        ledger1 = append_rate(accord, single, 1)
        bare1 = bare_insert_rate(accord, single, 1)
        report(
            label,
            f"single appends/s ({single:,}, 1/tx)",
            _fmt(ledger1),
            _fmt(bare1),
            f"{ledger1 / bare1:.2f}",
        )


def _timeit(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_proofs(n: int, label: str) -> None:
    with make_accord(None) as accord:
        t = time.perf_counter()
        done = 0
        while done < n:
            k = min(10_000, n - done)
            with accord.db.write() as conn:
                accord.ledger.append_many(conn, [_event(done + i) for i in range(k)])
            done += k
        fill = n / (time.perf_counter() - t)
        report(label, f"fill {n:,} leaves (appends/s, 10k/tx)", _fmt(fill))
        svc = accord.ledger_service
        rng = random.Random(1)
        cp = svc.issue_checkpoint()
        leaves = {
            i: e.leaf_hash
            for i in rng.sample(range(n), 50)
            for e in accord.ledger.entries(i, i + 1)
        }
        idx = list(leaves)

        def inclusion() -> list[bytes]:
            return svc.inclusion_proof(rng.choice(idx), n)

        def consistency() -> list[bytes]:
            return svc.consistency_proof(rng.randrange(1, n), n)

        for _ in range(20):  # warm the node cache as a serving process would be
            inclusion()
            consistency()
        t_inc = _timeit(inclusion, 300)
        t_con = _timeit(consistency, 300)
        i0 = idx[0]
        proof = svc.inclusion_proof(i0, n)
        t_vinc = _timeit(lambda: merkle.verify_inclusion(leaves[i0], i0, n, proof, cp.root), 300)
        old = n // 3
        cproof = svc.consistency_proof(old, n)
        old_root = svc.root(old)
        t_vcon = _timeit(lambda: merkle.verify_consistency(old, n, old_root, cp.root, cproof), 300)
        t_root = _timeit(lambda: svc.root(n), 50)

        def naive_root() -> bytes:
            with accord.db.read() as conn:
                hashes = conn.execute(
                    select(ledger_events.c.leaf_hash).order_by(ledger_events.c.seq)
                ).scalars()
                return merkle.root_of(bytes(h) for h in hashes)

        t_naive = _timeit(naive_root, 1)
        assert naive_root() == cp.root
        with accord.db.write() as conn:
            accord.ledger.append(conn, *_event(n)[:2])
        t_cp = _timeit(svc.issue_checkpoint, 1)
        ms = 1000.0
        report(
            label,
            "inclusion proof (ms, median)",
            f"{t_inc * ms:.3f}",
            f"{t_naive * ms:,.0f}",
            f"{t_naive / t_inc:,.0f}x",
        )
        report(
            label,
            "consistency proof (ms, median)",
            f"{t_con * ms:.3f}",
            f"{t_naive * ms:,.0f}",
            f"{t_naive / t_con:,.0f}x",
        )
        report(
            label,
            "root from stored nodes (ms)",
            f"{t_root * ms:.3f}",
            f"{t_naive * ms:,.0f}",
            f"{t_naive / t_root:,.0f}x",
        )
        report(label, "verify inclusion (ms)", f"{t_vinc * ms:.3f}")
        report(label, "verify consistency (ms)", f"{t_vcon * ms:.3f}")
        report(label, "issue checkpoint (ms)", f"{t_cp * ms:.3f}")


@contextmanager
def postgres() -> Iterator[str | None]:
    try:
        from tests.plugins.postgres import PgCluster, _bin_dir
    except ImportError:
        yield None
        return
    bindir = _bin_dir()
    if bindir is None:
        yield None
        return
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute or so)")
    parser.add_argument("--full", action="store_true", help="also proofs at 10M leaves")
    parser.add_argument("--sizes", type=int, nargs="*", help="tree sizes for the proof section")
    parser.add_argument("--no-appends", action="store_true", help="only the proof section")
    args = parser.parse_args()
    batched, single = (20_000, 200) if args.quick else (100_000, 1_000)
    sizes = [100_000] if args.quick else [1_000_000] + ([10_000_000] if args.full else [])
    if args.sizes:
        sizes = args.sizes
    print(f"  {'section':10} {'measure':42} {'value':>16}  {'baseline':>16}  {'ratio':>8}")
    if not args.no_appends:
        bench_appends("sqlite", None, batched, single)
        with postgres() as url:
            if url is None:
                print("  postgres   skipped: PostgreSQL server binaries (initdb, pg_ctl) not found")
            else:
                bench_appends("postgres", url, batched, single)
    for n in sizes:
        bench_proofs(n, f"{n // 1000:,}k" if n < 1_000_000 else f"{n // 1_000_000}M")


if __name__ == "__main__":
    main()

"""Where a banked hash's server CPU goes in bulk banking: the parts of
``POST /v1/banks/{name}/content/bulk`` timed one by one in process.

The service benchmark (``benchmarks/service.py``) gives the server's CPU a
banked hash over HTTP, all parts together. Here the same work is done in one
process on a temporary SQLite home, part by part, each timed in CPU seconds of
this process (``time.process_time``; one thread, so other jobs on the machine
change it much less than wall time): parsing the request body, the bank
service's ``add_column`` (validation, the inserts, the ledger event, the commit),
and a follower (a second :class:`~accord.matching.matcher.Matcher` on the same
database, as in a second worker) catching up with each import. The whole route
through FastAPI's ``TestClient`` is the baseline of the same run (it includes
the client's side). ``--profile`` adds a cProfile of the service call.

    .venv/bin/python benchmarks/bulk_profile.py            # 10 batches of 10,000
    .venv/bin/python benchmarks/bulk_profile.py --quick    # 3 batches
    .venv/bin/python benchmarks/bulk_profile.py --profile  # and the top functions
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.api.routers import banks as banks_router
from accord.config import Settings
from accord.keys.model import Role
from accord.matching.matcher import Matcher
from accord.runtime import Accord
from accord.store.bulk import paused_gc

BATCH = 10_000


FOLLOW = "a follower's catch-up"


def add(sums: dict[str, float], name: str, seconds: float) -> None:
    sums[name] = sums.get(name, 0.0) + seconds


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 batches")
    parser.add_argument("--profile", action="store_true", help="cProfile the service, follow")
    args = parser.parse_args()
    batches = 3 if args.quick else args.batches
    home = Path(tempfile.mkdtemp(prefix="accord-bulk-"))
    accord = Accord(Settings(home=home))
    accord.init()
    accord.banks.create_bank("BENCH", actor="bench")
    follower = Matcher(accord.db, accord.signals, poll_seconds=3600)
    follower.ensure_loaded()
    rng = np.random.default_rng(7)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {batches} batches of {BATCH:,}")
    parse = getattr(banks_router, "_parse_bulk")  # noqa: B009 - the route's own parser
    sums: dict[str, float] = {}
    profile = cProfile.Profile() if args.profile else None
    for _ in range(batches):
        raw = rng.integers(0, 256, size=(BATCH, 32), dtype=np.uint8)
        hashes = [bytes(r).hex() for r in raw]
        rows_body = json.dumps({"items": [{"signals": {"pdq": h}} for h in hashes]}).encode()
        columns_body = json.dumps({"signal_type": "pdq", "hashes": hashes}).encode()
        with paused_gc():
            took, _ = cpu(lambda b=rows_body: parse(b))
            add(sums, "parse, row form", took)
            took, parsed = cpu(lambda b=columns_body: parse(b))
            add(sums, "parse, column form", took)
            if profile is not None:
                profile.enable()
            took, _ = cpu(
                lambda p=parsed: accord.banks.add_column(
                    "BENCH", p.signal_type, p.values, source=p.source, actor="bench"
                )
            )
            if profile is not None:
                profile.disable()
        add(sums, "add_column (validate, insert, ledger, commit)", took)
        if profile is not None:
            profile.enable()
        took, _ = cpu(follower.catch_up)
        if profile is not None:
            profile.disable()
        add(sums, "a follower's catch-up", took)
    n = batches * BATCH
    # the whole route in process (TestClient: the client's encoding is included)
    headers = {"Authorization": f"Bearer {accord.keys.create(Role.ADMIN, subject='bench')}"}
    with TestClient(create_app(accord, start_matcher=False)) as client:
        raw = rng.integers(0, 256, size=(BATCH, 32), dtype=np.uint8)
        body = json.dumps({"items": [{"signals": {"pdq": bytes(r).hex()}} for r in raw]}).encode()
        took, response = cpu(
            lambda: client.post(
                "/v1/banks/BENCH/content/bulk",
                content=body,
                headers={**headers, "content-type": "application/json"},
            )
        )
        response.raise_for_status()
    route = took / BATCH * 1e6
    print(f"| part | µs CPU a hash ({n:,} hashes) |")
    print("| --- | --- |")
    total = 0.0
    for name, seconds in sums.items():
        per = seconds / n * 1e6
        total += per if name != "parse, row form" else 0.0
        print(f"| {name} | {per:.2f} |")
    print(f"| column form + insert + two followers | {total + sums[FOLLOW] / n * 1e6:.2f} |")
    print(f"| whole route through TestClient, row form, one batch (baseline) | {route:.2f} |")
    if profile is not None:
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(25)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    accord.close()


if __name__ == "__main__":
    main()

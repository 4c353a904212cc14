"""Reports benchmark: transparency-report computation over an exported log, against a bare parse.

    .venv/bin/python benchmarks/reports.py --quick    # 100k events
    .venv/bin/python benchmarks/reports.py            # 1M events
    .venv/bin/python benchmarks/reports.py --full     # 10M events (goal: under a minute)

Generates N ledger leaves (canonical JSON lines, the shape ``accord ledger
export`` writes) with a realistic mix of kinds: notices and hash-match reports,
cases, labels, decisions with strikes and restrictions, appeals, redirect
counts, objections, and bank content that no figure reads. Then, over the same
file and in the same run:

- baseline: one ``json.loads`` per line (the least any reader of the export pays);
- ``compute_lines``: the report in one process, as ``accord report`` computes it
  from the database's leaves (kind and time read from the bytes, only the
  ``data`` of leaves a figure reads parsed, medians at the end);
- ``compute_file``: the same over every core (ranges of the file, partial
  tallies merged in order), as ``accord verify report`` computes it.

Not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accord.reporting.parallel import compute_file
from accord.reporting.transparency import compute_lines

_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_PERIOD = (date(2026, 1, 1), date(2026, 12, 31))


def _time(second: float) -> str:
    return (_T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate(path: Path, n: int, seed: int = 7) -> None:
    """Write ``n`` leaves: about 30% notices, 30% decisions and their strikes and
    restrictions, 10% appeals, 30% other kinds (bank content, labels, rights)."""
    rng = random.Random(seed)
    dumps = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode
    seq = 0
    case = 0
    second = 0.0
    open_cases: list[tuple[int, str]] = []
    decided: list[tuple[int, str, str]] = []
    with path.open("w", encoding="utf-8") as out:

        def emit(kind: str, data: dict[str, object], actor: str | None = None) -> None:
            nonlocal seq
            leaf = {"seq": seq, "time": _time(second), "kind": kind, "actor": actor, "data": data}
            out.write(dumps(leaf))
            out.write("\n")
            seq += 1

        while seq < n:
            second += rng.expovariate(1 / 2.5)  # about 12M events a year
            r = rng.random()
            if r < 0.3 or not open_cases:
                case += 1
                source = rng.choices(["user", "trusted_flagger", "automated"], [6, 1, 3])[0]
                emit(
                    "moderation.case_opened",
                    {
                        "case": case,
                        "queue": "tve",
                        "subject_type": "content",
                        "account": "p:" + str(case % 9973),
                    },
                )
                emit(
                    "moderation.report_received",
                    {
                        "report": seq,
                        "case": case,
                        "reason": rng.choice(
                            ["terrorism_violent_extremism", "hate_speech", "spam"]
                        ),
                        "source": source,
                        "subject_type": "content",
                        "reporter": None if source == "automated" else "p:" + str(seq),
                        "labels": ["tve"] if source == "automated" else [],
                        "new_case": True,
                    },
                )
                open_cases.append((case, source))
            elif r < 0.55:
                c, source = open_cases.pop(rng.randrange(len(open_cases)))
                action = rng.choice(["remove", "remove", "none", "label"])
                auto = (
                    "AUTOMATED_DECISION_FULLY"
                    if source == "automated"
                    else ("AUTOMATED_DECISION_NOT_AUTOMATED")
                )
                emit(
                    "moderation.decision_made",
                    {
                        "decision": c,
                        "case": c,
                        "action": action,
                        "policy": "tve.terrorist_content",
                        "account": "p:" + str(c % 9973),
                        "automated_detection": source == "automated",
                        "automated_decision": auto,
                        "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
                        "ground": "law",
                        "reason": "terrorism_violent_extremism",
                        "subject_type": rng.choice(["content"] * 20 + ["livestream"]),
                        "opened_at": _time(max(0.0, second - rng.uniform(60, 86400))),
                        "sources": [source],
                        "match_labels": ["tve", "christchurch"] if source == "automated" else [],
                    },
                    "key:mod",
                )
                if action != "none":
                    emit(
                        "moderation.strike_added",
                        {
                            "strike": c,
                            "decision": c,
                            "account": "p:1",
                            "tier": "most_serious",
                            "policy": "tve.terrorist_content",
                            "expires": _time(second),
                        },
                    )
                    emit(
                        "moderation.restriction_applied",
                        {
                            "restriction": c,
                            "decision": c,
                            "account": "p:1",
                            "kind": "feature",
                            "feature": "live",
                            "ladder": "live",
                            "ends": _time(second),
                        },
                    )
                    decided.append((c, auto, _time(second)))
            elif r < 0.65 and decided:
                c, auto, _ = decided.pop(rng.randrange(len(decided)))
                emit(
                    "moderation.appeal_opened",
                    {"appeal": c, "decision": c, "appellant": "p:1", "appellant_kind": "affected"},
                )
                emit(
                    "moderation.appeal_decided",
                    {
                        "appeal": c,
                        "decision": c,
                        "outcome": rng.choice(["upheld", "upheld", "reversed"]),
                        "opened_at": _time(max(0.0, second - rng.uniform(600, 7 * 86400))),
                        "action": "remove",
                        "policy": "tve.terrorist_content",
                        "automated_decision": auto,
                        "appellant_kind": "affected",
                    },
                    "key:mod-b",
                )
            elif r < 0.7:
                emit("moderation.case_labelled", {"case": open_cases[-1][0], "labels": ["x"]})
            elif r < 0.72:
                emit(
                    "moderation.redirects_counted",
                    {"hour": _time(second), "shown": {"en-tve": rng.randrange(50)}},
                )
            elif r < 0.75:
                emit(
                    "rights.objected",
                    {
                        "request_id": "rr",
                        "subject": "p:2",
                        "channel": "api",
                        "purpose": "train_ai_system",
                        "category": None,
                    },
                )
            else:
                emit(
                    "bank.content_added",
                    {
                        "bank": "TCAP",
                        "content_id": seq,
                        "signals": {"pdq": "f" * 64},
                        "labels": {},
                        "source": "api",
                    },
                    "key:curator",
                )


def _baseline(path: Path) -> float:
    loads = json.loads
    started = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            loads(line)
    return time.perf_counter() - started


def _report(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open("rb") as handle:
        report = compute_lines(handle, *_PERIOD)
    return time.perf_counter() - started, len(report.figures)


def _parallel(path: Path) -> float:
    started = time.perf_counter()
    compute_file(path, *_PERIOD)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="100k events")
    size.add_argument("--full", action="store_true", help="10M events")
    parser.add_argument("--events", type=int, help="any number of events")
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 10_000_000 if args.full else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="accord-bench-reports-") as tmp:
        path = Path(tmp) / "export.jsonl"
        started = time.perf_counter()
        generate(path, n)
        made = time.perf_counter() - started
        mb = path.stat().st_size / 1e6
        base = _baseline(path)
        took, figures = _report(path)
        par = _parallel(path)
    print(f"{n:,} events, {mb:,.0f} MB of JSON Lines (generated in {made:.1f} s)")
    print(f"{'pass':<42}{'seconds':>10}{'events/s':>14}{'ratio':>8}")
    print(f"{'baseline: json.loads of every line':<42}{base:>10.2f}{n / base:>14,.0f}{1:>8.2f}")
    label = f"compute_lines ({figures} figures)"
    print(f"{label:<42}{took:>10.2f}{n / took:>14,.0f}{took / base:>8.2f}")
    label = f"compute_file ({os.cpu_count()} processes)"
    print(f"{label:<42}{par:>10.2f}{n / par:>14,.0f}{par / base:>8.2f}")


if __name__ == "__main__":
    main()

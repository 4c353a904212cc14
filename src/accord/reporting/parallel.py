"""Computing a report over a large exported log with every core.

The export is cut into byte ranges that start and end on line boundaries;
each worker process feeds its range to a partial :class:`Tally` and sends it
back (in memory, between processes of this run); the tallies are merged in log
order, which joins what spans two ranges (a notice in one, its case's first
review in the next). Data flows

    export.jsonl --> ranges --> worker: feed_lines(range) --> partial Tally
    partial tallies, in order --> Tally.merge --> Tally.report() --> Report

The result equals :func:`~accord.reporting.transparency.compute_lines` over the
whole file (a test checks). Used by ``accord verify report`` and the benchmark.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from itertools import islice, pairwise
from pathlib import Path
from typing import BinaryIO

from accord.reporting.transparency import Report, Tally, feed_lines

__all__ = ["compute_file"]

_MIN_RANGE = 8 << 20  # below 8 MB a range is not worth a process


def _ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as handle:
        for i in range(1, parts):
            handle.seek(max(cuts[-1], size * i // parts))
            handle.readline()  # to the start of the next line
            cuts.append(min(handle.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in pairwise(cuts) if b > a]


def _lines(handle: BinaryIO, end: int) -> Iterator[bytes]:
    position = handle.tell()
    for line in handle:
        if position >= end:
            return
        position += len(line)
        yield line


def _tally(path: str, begin: int, end: int, start: date, stop: date) -> Tally:
    # the first range's first reviews are never joined to anything before it
    tally = Tally(start, stop, partial=begin > 0)
    with Path(path).open("rb") as handle:
        handle.seek(begin)
        feed_lines(tally, _lines(handle, end))
    return tally


def compute_file(
    path: Path, start: date, end: date, *, workers: int | None = None, leaves: int | None = None
) -> Report:
    """The report of ``start..end`` over an exported log (first ``leaves`` lines if given)."""
    if leaves is not None:  # a prefix of the file: one pass, in this process
        tally = Tally(start, end)
        with path.open("rb") as handle:
            feed_lines(tally, islice(handle, leaves))
        return tally.report()
    count = workers or os.cpu_count() or 1
    count = max(1, min(count, path.stat().st_size // _MIN_RANGE + 1))
    ranges = _ranges(path, count)
    if len(ranges) <= 1:
        return _tally(str(path), 0, path.stat().st_size, start, end).report()
    with ProcessPoolExecutor(max_workers=len(ranges)) as pool:
        futures = [pool.submit(_tally, str(path), a, b, start, end) for a, b in ranges]
        tallies = [f.result() for f in futures]
    first = tallies[0]
    for later in tallies[1:]:
        first.merge(later)
    return first.report()

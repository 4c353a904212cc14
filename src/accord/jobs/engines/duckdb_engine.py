"""The gate on DuckDB: in-process, parallel, Parquet or JSON Lines in, Parquet out.

Four steps, each a single pass over narrow columns except the write:

1. **check**: rows per category (the ``category`` column only) and missing
   ids; for Parquet the null counts come from the files' column statistics
   when every row group has them, so ``item_id`` and ``subject_id`` are not
   read for it;
2. **write**: the allowed rows, unchanged (anti-join against the denials, or
   semi-join against the opt-ins), to ``work/data/part-0.parquet``;
3. **count**: rows matched by the decisions that the totals do not give
   (:func:`accord.jobs.gate.counted_groups`): the check gives the rows read and
   the write the rows allowed, so one group on each side follows from the
   others; with one kind of denial nothing is counted. The rest is an inner
   join of ``(subject_id, category)`` against those decisions, which are few.
   It runs on a second cursor *while* step 4 reads, sorts and hashes, which are
   one core's work; the corpus files' sizes and times must be the same after it
   as before the check;
4. **merkle**: the written ``item_id`` column read back (by pyarrow, on one
   core), sorted in memory (:func:`accord.jobs.idsort.sort_ids`) or, above
   :data:`IN_MEMORY_SORT_BYTES` of ids, by DuckDB (which spills to disk), and
   hashed in blocks (:class:`accord.jobs.merkle.BlockHasher`).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from accord.errors import InvalidInput
from accord.jobs.gate import (
    EngineResult,
    GateSpec,
    check_columns,
    check_stats,
    counted_groups,
    derive_counts,
    fsync_path,
)
from accord.jobs.idsort import hash_sorted
from accord.jobs.merkle import BlockHasher

__all__ = ["IN_MEMORY_SORT_BYTES", "DuckDBEngine"]

# Ids up to this many bytes are sorted in memory (about 4-6x their size at peak);
# above it DuckDB sorts them, spilling to disk if it must.
IN_MEMORY_SORT_BYTES = 2 << 30


def _lit(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _pattern(spec: GateSpec) -> str:
    path = spec.corpus
    return str(path / "*") if path.is_dir() else str(path)


def _source(spec: GateSpec) -> str:
    if spec.format == "parquet":
        return f"read_parquet({_lit(_pattern(spec))})"
    return f"read_json({_lit(_pattern(spec))}, format='newline_delimited')"


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def run(self, spec: GateSpec, work: Path) -> EngineResult:
        con = duckdb.connect()
        try:
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            return self._run(con, spec, work)
        except duckdb.Error as exc:
            raise InvalidInput(
                f"could not read corpus {spec.corpus}: {str(exc).splitlines()[0]}",
                corpus=str(spec.corpus),
            ) from exc
        finally:
            con.close()

    def _null_ids(self, con: Any, spec: GateSpec) -> int | None:
        """Rows without item_id or subject_id per the Parquet statistics; None if unknown."""
        if spec.format != "parquet":
            return None
        rows = con.execute(
            "SELECT path_in_schema, stats_null_count "
            f"FROM parquet_metadata({_lit(_pattern(spec))}) "
            "WHERE path_in_schema IN ('item_id', 'subject_id')"
        ).fetchall()
        if not rows or any(count is None for _, count in rows):
            return None
        return sum(int(count) for _, count in rows)

    def _run(self, con: Any, spec: GateSpec, work: Path) -> EngineResult:
        t0 = time.perf_counter()
        con.execute(f"CREATE VIEW corpus AS SELECT * FROM {_source(spec)}")
        before = _fingerprint(spec.corpus)
        columns = [row[0] for row in con.execute("DESCRIBE corpus").fetchall()]
        check_columns(columns, spec.corpus)
        con.execute(
            "CREATE TABLE decisions AS SELECT subject, category, allowed, reason "
            f"FROM read_parquet({_lit(spec.decisions)})"
        )
        null_ids = self._null_ids(con, spec)
        if null_ids is None:
            rows = con.execute(
                "SELECT CAST(category AS VARCHAR), count(*), "
                "count(*) FILTER (WHERE item_id IS NULL OR subject_id IS NULL) "
                "FROM corpus GROUP BY ALL"
            ).fetchall()
            null_ids = sum(int(r[2]) for r in rows)
        else:
            rows = con.execute(
                "SELECT CAST(category AS VARCHAR), count(*) FROM corpus GROUP BY ALL"
            ).fetchall()
        categories = [(r[0], int(r[1])) for r in rows]
        check_stats(categories, [], spec, null_ids)  # missing ids, unknown categories: refused now
        t1 = time.perf_counter()
        key = (
            "CAST(c.subject_id AS VARCHAR) = d.subject AND CAST(c.category AS VARCHAR) = d.category"
        )
        join = "ANTI JOIN" if spec.default_allowed else "SEMI JOIN"
        wanted = "NOT allowed" if spec.default_allowed else "allowed"
        data = work / "data"
        data.mkdir()
        part = data / "part-0.parquet"
        written = con.execute(
            f"COPY (SELECT c.* FROM corpus c {join} "
            f"(SELECT subject, category FROM decisions WHERE {wanted}) d ON {key}) "
            f"TO {_lit(part)} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()[0][0]
        t2 = time.perf_counter()
        groups = {
            (bool(r[0]), str(r[1])): int(r[2])
            for r in con.execute(
                "SELECT allowed, reason, count(*) FROM decisions GROUP BY ALL"
            ).fetchall()
        }
        to_count = counted_groups(spec, groups)
        # Counting the groups that the totals do not give (DuckDB, on its own cursor) runs
        # while this thread reads back, sorts and hashes the written ids (pyarrow, numpy
        # and hashlib, which release the GIL): that is one core's work, so the count
        # mostly fills the other.
        cursor = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                # the written file goes to disk meanwhile too (the publish step's fsync
                # then finds it clean): waiting on the disk is no core's work
                syncing = pool.submit(fsync_path, part)
                counting = pool.submit(self._count_groups, cursor, key, to_count)
                root, tree_size, items, merkle_timings = self._merkle(
                    con, part, self.threads or os.cpu_count() or 1
                )
                counted, count_seconds = counting.result()
                syncing.result()
        finally:
            cursor.close()
        total = sum(n for _, n in categories)
        matched = derive_counts(spec, groups, counted, total, int(written))
        by_category, excluded, output = check_stats(categories, matched, spec, null_ids)
        if _fingerprint(spec.corpus) != before:
            raise InvalidInput(
                f"corpus {spec.corpus} changed while the gate read it; run the gate again",
                corpus=str(spec.corpus),
            )
        if items != output:
            raise InvalidInput("the gate wrote a different number of rows than it counted")
        t3 = time.perf_counter()
        timings = {
            "check": t1 - t0,
            "write": t2 - t1,
            "count and merkle (at once)": t3 - t2,
            "count": count_seconds,
            **merkle_timings,
        }
        return EngineResult(by_category, excluded, output, root.hex(), tree_size, timings)

    @staticmethod
    def _count_groups(
        cursor: Any, key: str, groups: list[tuple[bool, str]]
    ) -> tuple[dict[tuple[bool, str], int], float]:
        """Rows matched by the decisions of ``groups``, per group, and the seconds it took."""
        start = time.perf_counter()
        counted = dict.fromkeys(groups, 0)
        if groups:
            wanted = " OR ".join(
                f"(allowed = {'true' if allowed else 'false'} AND reason = {_lit(reason)})"
                for allowed, reason in groups
            )
            for allowed, reason, rows in cursor.execute(
                "SELECT d.allowed, d.reason, count(*) FROM corpus c "
                f"JOIN (SELECT * FROM decisions WHERE {wanted}) d ON {key} GROUP BY ALL"
            ).fetchall():
                counted[(bool(allowed), str(reason))] = int(rows)
        return counted, time.perf_counter() - start

    @staticmethod
    def _merkle(con: Any, part: Path, threads: int) -> tuple[bytes, int, int, dict[str, float]]:
        """The root over the written ids in blocks: (root, tree size, ids, phase seconds)."""
        t0 = time.perf_counter()
        hasher = BlockHasher()
        size = con.execute(  # from the file's footer: no data is read for it
            "SELECT sum(total_uncompressed_size) "
            f"FROM parquet_metadata({_lit(part)}) WHERE path_in_schema = 'item_id'"
        ).fetchall()[0][0]
        if int(size or 0) <= IN_MEMORY_SORT_BYTES:
            unsorted = _read_ids(con, part)
            t_read = t_sort = time.perf_counter()  # sorting and hashing overlap now
            hash_sorted(unsorted, hasher, threads)
            del unsorted
        else:
            t_read = t_sort = time.perf_counter()
            for batch in con.sql(f"{_ids_as_text(part)} ORDER BY id").to_arrow_reader(1 << 16):
                hasher.add(batch.column(0))
        root = hasher.root()
        t_end = time.perf_counter()
        return (
            root,
            hasher.tree_size,
            hasher.items,
            {
                "merkle": t_end - t0,
                "merkle: read ids": t_read - t0,
                "merkle: sort and hash": t_end - t_sort,
            },
        )


def _read_ids(con: Any, part: Path) -> pa.ChunkedArray:
    """The written ``item_id`` column as strings.

    String ids are read by pyarrow on this thread (about 60 % of the CPU that
    DuckDB's read and conversion to Arrow take, and one core, so the count keeps
    the other); ids of other types are cast to text by DuckDB, as the count and
    the Spark engine see them."""
    field = pq.read_schema(part).field("item_id")
    if field.type in (pa.string(), pa.large_string()):
        return pq.read_table(part, columns=["item_id"], use_threads=False).column(0)
    return con.sql(_ids_as_text(part)).to_arrow_table().column(0)


def _ids_as_text(part: Path) -> str:
    """The query for the written ids cast to text, as the count and the Spark engine see them."""
    return f"SELECT CAST(item_id AS VARCHAR) AS id FROM read_parquet({_lit(part)})"


def _fingerprint(corpus: Path) -> list[tuple[str, int, int]]:
    """Name, size and modification time of each corpus file: a change between passes is refused."""
    files = sorted(p for p in corpus.iterdir() if p.is_file()) if corpus.is_dir() else [corpus]
    return [(p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in files]

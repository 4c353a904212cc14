"""The gate on DuckDB: in-process, parallel, Parquet or JSON Lines in, Parquet out.

Four steps, each a single pass over narrow columns except the write:

1. **check**: rows per category (the ``category`` column only) and missing
   ids; for Parquet the null counts come from the files' column statistics
   when every row group has them, so ``item_id`` and ``subject_id`` are not
   read for it;
2. **write**: the allowed rows, unchanged (anti-join against the denials, or
   semi-join against the opt-ins), to ``work/data/part-0.parquet``;
3. **count**: rows matched by a decision, per (allowed, reason): an inner join
   of ``(subject_id, category)`` against the decision list, which is small;
   every other row gets the purpose's default (skipped when there are no
   decisions); DuckDB's count of written rows must equal what this implies.
   It runs on a second cursor *while* step 4 sorts and hashes, which are one
   core's work (it starts once step 4 has read the ids, which DuckDB does on
   every core);
4. **merkle**: the written ``item_id`` column read back, sorted in memory
   (:func:`accord.jobs.idsort.sort_ids`) or, above :data:`IN_MEMORY_SORT_BYTES`
   of ids, by DuckDB (which spills to disk), and hashed in blocks
   (:class:`accord.jobs.merkle.BlockHasher`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from accord.errors import InvalidInput
from accord.jobs.gate import EngineResult, GateSpec, check_columns, check_stats
from accord.jobs.idsort import sort_ids
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
        # Counting by reason (DuckDB, on its own cursor) runs while this thread sorts and
        # hashes the written ids (numpy and hashlib, which release the GIL): the sort is
        # one core's work, so the count mostly fills the other.
        cursor = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                counting: list[Future[tuple[list[tuple[bool, str, int]], float]]] = []

                def start_count() -> None:
                    counting.append(pool.submit(self._count_by_reason, cursor, key))

                root, tree_size, items, merkle_timings = self._merkle(con, part, start_count)
                matched, count_seconds = counting[0].result()
        finally:
            cursor.close()
        by_category, excluded, output = check_stats(categories, matched, spec, null_ids)
        if int(written) != output:
            raise InvalidInput(
                f"the gate wrote {written} rows but counted {output}; the corpus changed "
                "while it was read?",
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
    def _count_by_reason(cursor: Any, key: str) -> tuple[list[tuple[bool, str, int]], float]:
        """Rows matched by a decision, per (allowed, reason), and the seconds it took."""
        start = time.perf_counter()
        matched: list[tuple[bool, str, int]] = []
        if cursor.execute("SELECT count(*) FROM decisions").fetchall()[0][0]:
            matched = [
                (bool(r[0]), str(r[1]), int(r[2]))
                for r in cursor.execute(
                    "SELECT d.allowed, d.reason, count(*) "
                    f"FROM corpus c JOIN decisions d ON {key} GROUP BY ALL"
                ).fetchall()
            ]
        return matched, time.perf_counter() - start

    @staticmethod
    def _merkle(
        con: Any, part: Path, start_count: Callable[[], None]
    ) -> tuple[bytes, int, int, dict[str, float]]:
        """The root over the written ids in blocks: (root, tree size, ids, phase seconds).

        ``start_count`` is called once the ids are read (DuckDB reads them on both
        cores), so that the count by reason runs beside the sort and the hashing,
        which are one core's work."""
        t0 = time.perf_counter()
        hasher = BlockHasher()
        ids = f"SELECT CAST(item_id AS VARCHAR) AS id FROM read_parquet({_lit(part)})"
        size = con.execute(  # from the file's footer: no data is read for it
            "SELECT sum(total_uncompressed_size) "
            f"FROM parquet_metadata({_lit(part)}) WHERE path_in_schema = 'item_id'"
        ).fetchall()[0][0]
        if int(size or 0) <= IN_MEMORY_SORT_BYTES:
            unsorted = con.sql(ids).to_arrow_table().column(0)
            start_count()
            t_read = time.perf_counter()
            ordered = sort_ids(unsorted)
            del unsorted
            t_sort = time.perf_counter()
            hasher.add(ordered)
        else:
            start_count()
            t_read = t_sort = time.perf_counter()
            for batch in con.sql(f"{ids} ORDER BY id").to_arrow_reader(1 << 16):
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
                "merkle: sort": t_sort - t_read,
                "merkle: hash": t_end - t_sort,
            },
        )

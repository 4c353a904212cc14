"""The gate on DuckDB: in-process, parallel, Parquet or JSON Lines in, Parquet out.

Four steps, each a single pass over narrow columns except the write:

1. **check**: rows per category (the ``category`` column only) and missing
   ids; for Parquet the null counts come from the files' column statistics
   when every row group has them, so ``item_id`` and ``subject_id`` are not
   read for it;
2. **count**: rows matched by a decision, per (allowed, reason): an inner join
   of ``(subject_id, category)`` against the decision list, which is small;
   every other row gets the purpose's default (skipped when there are no
   decisions);
3. **write**: the allowed rows, unchanged (anti-join against the denials, or
   semi-join against the opt-ins), to ``work/data/part-0.parquet``; DuckDB's
   count of written rows must equal the count of step 2;
4. **merkle**: the written ``item_id`` column read back, sorted in memory
   (:func:`accord.jobs.idsort.sort_ids`) or, above :data:`IN_MEMORY_SORT_BYTES`
   of ids, by DuckDB (which spills to disk), and hashed in blocks
   (:class:`accord.jobs.merkle.BlockHasher`).
"""

from __future__ import annotations

import time
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
        t1 = time.perf_counter()
        key = (
            "CAST(c.subject_id AS VARCHAR) = d.subject AND CAST(c.category AS VARCHAR) = d.category"
        )
        matched: list[tuple[bool, str, int]] = []
        if con.execute("SELECT count(*) FROM decisions").fetchall()[0][0]:
            matched = [
                (bool(r[0]), str(r[1]), int(r[2]))
                for r in con.execute(
                    "SELECT d.allowed, d.reason, count(*) "
                    f"FROM corpus c JOIN decisions d ON {key} GROUP BY ALL"
                ).fetchall()
            ]
        by_category, excluded, output = check_stats(categories, matched, spec, null_ids)
        t2 = time.perf_counter()
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
        if int(written) != output:
            raise InvalidInput(
                f"the gate wrote {written} rows but counted {output}; the corpus changed "
                "while it was read?",
                corpus=str(spec.corpus),
            )
        t3 = time.perf_counter()
        hasher = BlockHasher()
        ids = f"SELECT CAST(item_id AS VARCHAR) AS id FROM read_parquet({_lit(part)})"
        size = con.execute(  # from the file's footer: no data is read for it
            "SELECT sum(total_uncompressed_size) "
            f"FROM parquet_metadata({_lit(part)}) WHERE path_in_schema = 'item_id'"
        ).fetchall()[0][0]
        if int(size or 0) <= IN_MEMORY_SORT_BYTES:
            unsorted = con.sql(ids).to_arrow_table().column(0)
            t_read = time.perf_counter()
            ordered = sort_ids(unsorted)
            del unsorted
            t_sort = time.perf_counter()
            hasher.add(ordered)
        else:
            t_read = t_sort = time.perf_counter()
            for batch in con.sql(f"{ids} ORDER BY id").to_arrow_reader(1 << 16):
                hasher.add(batch.column(0))
        root = hasher.root()
        if hasher.items != output:
            raise InvalidInput("the gate wrote a different number of rows than it counted")
        t4 = time.perf_counter()
        timings = {
            "check": t1 - t0,
            "count": t2 - t1,
            "write": t3 - t2,
            "merkle": t4 - t3,
            "merkle: read ids": t_read - t3,
            "merkle: sort": t_sort - t_read,
            "merkle: hash": t4 - t_sort,
        }
        return EngineResult(by_category, excluded, output, root.hex(), hasher.tree_size, timings)

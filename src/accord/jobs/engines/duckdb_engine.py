"""The gate on DuckDB: in-process, parallel, Parquet or JSON Lines in, Parquet out.

1. **check**: rows per category (the ``category`` column only) and missing
   ids; for Parquet the null counts come from the files' column statistics
   when every row group has them, so ``item_id`` and ``subject_id`` are not
   read for it. Bad input is refused here, before anything is written.
2. Then two queries run at once, on two cursors of one DuckDB database:

   * **write**: the allowed rows, unchanged (anti-join against the denials, or
     semi-join against the opt-ins), to ``work/data/part-0.parquet``;
   * **narrow pass**: ``item_id`` and the matching decision of every row (a left
     join of three narrow columns against the decision list, which is small),
     fetched as Arrow. From it come the rows per (allowed, reason) and the
     included ids, which are then ordered and hashed in blocks
     (:class:`accord.jobs.merkle.BlockHasher`). The ids are ordered without a
     sort when DuckDB returns them in ascending runs that do not overlap (a
     corpus stored in id order), else by :func:`accord.jobs.idsort.sort_ids`.

   DuckDB's Parquet writer keeps about one core busy, so the narrow pass mostly
   runs on the other. Both passes read the same files with the same decisions;
   the write's row count must equal what the narrow pass counted.

Ids too large to order in memory (:data:`IN_MEMORY_SORT_BYTES`, estimated from
the Parquet footers or the JSON files' size) take the sequential way instead:
the write, then a count join, then the written ``item_id`` column read back in
DuckDB's order (which spills to disk).
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

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
        write = (
            f"COPY (SELECT c.* FROM corpus c {join} "
            f"(SELECT subject, category FROM decisions WHERE {wanted}) d ON {key}) "
            f"TO {_lit(part)} (FORMAT parquet, COMPRESSION zstd)"
        )
        if self._id_bytes(con, spec) <= IN_MEMORY_SORT_BYTES:
            written, merkle, matched, timings = self._write_beside_narrow_pass(
                con, write, key, spec.default_allowed
            )
        else:
            written, merkle, matched, timings = self._write_then_read_back(con, write, key, part)
        root, tree_size, items = merkle
        by_category, excluded, output = check_stats(categories, matched, spec, null_ids)
        if int(written) != output:
            raise InvalidInput(
                f"the gate wrote {written} rows but counted {output}; the corpus changed "
                "while it was read?",
                corpus=str(spec.corpus),
            )
        if items != output:
            raise InvalidInput("the gate wrote a different number of rows than it counted")
        timings = {"check": t1 - t0, **timings}
        return EngineResult(by_category, excluded, output, root.hex(), tree_size, timings)

    @staticmethod
    def _id_bytes(con: Any, spec: GateSpec) -> int:
        """An upper estimate of the bytes of the corpus's item ids (before the gate drops any).

        Parquet: the item_id column's uncompressed size from the footers, less the
        4-byte length that PLAIN encoding stores beside each string. JSON Lines: the
        files' size.
        """
        if spec.format == "parquet":
            size, values = con.execute(
                "SELECT sum(total_uncompressed_size), sum(num_values) "
                f"FROM parquet_metadata({_lit(_pattern(spec))}) WHERE path_in_schema = 'item_id'"
            ).fetchall()[0]
            return max(0, int(size or 0) - 4 * int(values or 0))
        files = [spec.corpus] if spec.corpus.is_file() else list(spec.corpus.iterdir())
        return sum(f.stat().st_size for f in files if f.is_file())

    def _write_beside_narrow_pass(
        self, con: Any, write: str, key: str, default_allowed: bool
    ) -> tuple[int, tuple[bytes, int, int], list[tuple[bool, str, int]], dict[str, float]]:
        """Run the write and, on a second cursor at the same time, the narrow pass."""
        start = time.perf_counter()
        cursor = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                narrow = pool.submit(self._narrow_pass, cursor, key, default_allowed)
                try:
                    written = con.execute(write).fetchall()[0][0]
                except BaseException:
                    cursor.interrupt()
                    raise
                t_write = time.perf_counter()
                merkle, matched, timings = narrow.result()
        finally:
            cursor.close()
        t_end = time.perf_counter()
        return (
            int(written),
            merkle,
            matched,
            {
                "write": t_write - start,
                "write and narrow pass (at once)": t_end - start,
                **timings,
            },
        )

    @staticmethod
    def _narrow_pass(
        cursor: Any, key: str, default_allowed: bool
    ) -> tuple[tuple[bytes, int, int], list[tuple[bool, str, int]], dict[str, float]]:
        """Rows per (allowed, reason) of a decision, and the root over the included ids."""
        t0 = time.perf_counter()
        if cursor.execute("SELECT count(*) FROM decisions").fetchall()[0][0]:
            table = cursor.sql(
                "SELECT CAST(c.item_id AS VARCHAR) AS id, d.allowed, d.reason "
                f"FROM corpus c LEFT JOIN decisions d ON {key}"
            ).to_arrow_table()
            decided = table.filter(pc.is_valid(table.column("allowed")))
            counts = decided.group_by(["allowed", "reason"]).aggregate([([], "count_all")])
            matched = [
                (bool(r["allowed"]), str(r["reason"]), int(r["count_all"]))
                for r in counts.to_pylist()
            ]
            keep = pc.fill_null(table.column("allowed"), default_allowed)
            ids = table.column("id").filter(keep)
        else:
            matched = []
            table = cursor.sql("SELECT CAST(item_id AS VARCHAR) AS id FROM corpus").to_arrow_table()
            ids = table.column("id") if default_allowed else table.column("id").slice(0, 0)
        del table
        t_read = time.perf_counter()
        ordered = ascending_runs(ids)
        if ordered is None:
            ordered = sort_ids(ids)
        del ids
        t_sort = time.perf_counter()
        hasher = BlockHasher()
        hasher.add(ordered)
        root = hasher.root()
        t_end = time.perf_counter()
        return (
            (root, hasher.tree_size, hasher.items),
            matched,
            {
                "narrow pass": t_end - t0,
                "narrow pass: read ids and count": t_read - t0,
                "narrow pass: order ids": t_sort - t_read,
                "narrow pass: hash": t_end - t_sort,
            },
        )

    def _write_then_read_back(
        self, con: Any, write: str, key: str, part: Path
    ) -> tuple[int, tuple[bytes, int, int], list[tuple[bool, str, int]], dict[str, float]]:
        """For ids too large to order in memory: write, count, then DuckDB sorts the ids."""
        t0 = time.perf_counter()
        written = con.execute(write).fetchall()[0][0]
        t1 = time.perf_counter()
        matched = self._count_by_reason(con, key)
        t2 = time.perf_counter()
        hasher = BlockHasher()
        ids = f"SELECT CAST(item_id AS VARCHAR) AS id FROM read_parquet({_lit(part)}) ORDER BY id"
        for batch in con.sql(ids).to_arrow_reader(1 << 16):
            hasher.add(batch.column(0))
        root = hasher.root()
        t3 = time.perf_counter()
        return (
            int(written),
            (root, hasher.tree_size, hasher.items),
            matched,
            {"write": t1 - t0, "count": t2 - t1, "merkle (ids sorted by DuckDB)": t3 - t2},
        )

    @staticmethod
    def _count_by_reason(cursor: Any, key: str) -> list[tuple[bool, str, int]]:
        """Rows matched by a decision, per (allowed, reason)."""
        if not cursor.execute("SELECT count(*) FROM decisions").fetchall()[0][0]:
            return []
        return [
            (bool(r[0]), str(r[1]), int(r[2]))
            for r in cursor.execute(
                "SELECT d.allowed, d.reason, count(*) "
                f"FROM corpus c JOIN decisions d ON {key} GROUP BY ALL"
            ).fetchall()
        ]


def ascending_runs(ids: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The ids in ascending byte order without a sort, or None if that takes a sort.

    DuckDB returns a query's rows in chunks; when the corpus is stored in id order
    each chunk ascends, but the chunks may come back in any order. If every chunk
    ascends and, put in the order of their first ids, each ends at or before the
    next begins, that order is the sorted order (a linear check).
    """
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    chunks = [c for c in chunks if len(c)]
    if not chunks:
        return pa.chunked_array([], ids.type)
    # string ids compare by code point, which is their UTF-8 byte order
    for chunk in chunks:
        n = len(chunk)
        if n > 1 and pc.any(pc.less(chunk.slice(1), chunk.slice(0, n - 1))).as_py():
            return None
    firsts = [c[0].as_py() for c in chunks]
    order = sorted(range(len(chunks)), key=firsts.__getitem__)
    for before, after in itertools.pairwise(order):
        if chunks[before][-1].as_py() > firsts[after]:
            return None
    return pa.chunked_array([chunks[i] for i in order], ids.type)

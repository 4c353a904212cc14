"""The gate on DuckDB: in-process, parallel, Parquet or JSON Lines in, Parquet out.

One scan counts input rows by (category, decision) and checks the corpus
(columns, categories, missing ids) before anything is written; a second
writes the allowed rows (anti-join against the denials, or semi-join against
the opt-ins, so that other columns pass through untouched); the written
output's item ids are then read back sorted to feed the Merkle root.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import duckdb

from accord.errors import InvalidInput
from accord.jobs.gate import EngineResult, GateSpec, check_columns, check_stats
from accord.jobs.merkle import root_of_batches

__all__ = ["DuckDBEngine"]


def _lit(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _source(spec: GateSpec) -> str:
    path = spec.corpus
    pattern = str(path / "*") if path.is_dir() else str(path)
    if spec.format == "parquet":
        return f"read_parquet({_lit(pattern)})"
    return f"read_json({_lit(pattern)}, format='newline_delimited')"


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

    def _run(self, con: Any, spec: GateSpec, work: Path) -> EngineResult:
        t0 = time.perf_counter()
        con.execute(f"CREATE VIEW corpus AS SELECT * FROM {_source(spec)}")
        columns = [row[0] for row in con.execute("DESCRIBE corpus").fetchall()]
        check_columns(columns, spec.corpus)
        con.execute(
            "CREATE TABLE decisions AS SELECT subject, category, allowed, reason "
            f"FROM read_parquet({_lit(spec.decisions)})"
        )
        key = (
            "CAST(c.subject_id AS VARCHAR) = d.subject AND CAST(c.category AS VARCHAR) = d.category"
        )
        rows = con.execute(
            "SELECT CAST(c.category AS VARCHAR), d.allowed, d.reason, count(*), "
            "count(*) FILTER (WHERE c.item_id IS NULL OR c.subject_id IS NULL) "
            f"FROM corpus c LEFT JOIN decisions d ON {key} GROUP BY ALL"
        ).fetchall()
        null_ids = sum(int(r[4]) for r in rows)
        by_category, excluded, output = check_stats(
            [(r[0], r[1], r[2], int(r[3])) for r in rows], spec, null_ids
        )
        t1 = time.perf_counter()
        join = "ANTI JOIN" if spec.default_allowed else "SEMI JOIN"
        wanted = "NOT allowed" if spec.default_allowed else "allowed"
        data = work / "data"
        data.mkdir()
        part = data / "part-0.parquet"
        con.execute(
            f"COPY (SELECT c.* FROM corpus c {join} "
            f"(SELECT subject, category FROM decisions WHERE {wanted}) d ON {key}) "
            f"TO {_lit(part)} (FORMAT parquet, COMPRESSION zstd)"
        )
        t2 = time.perf_counter()
        reader = con.sql(
            "SELECT CAST(CAST(item_id AS VARCHAR) AS BLOB) AS id "
            f"FROM read_parquet({_lit(part)}) ORDER BY id"
        ).to_arrow_reader(1 << 16)
        batches = (batch.column(0).to_pylist() for batch in reader)
        # below a million leaves, starting worker processes costs more than it saves
        workers = min(os.cpu_count() or 1, 4) if output >= 1_000_000 else 1
        root, leaves = root_of_batches(batches, workers=workers)
        if leaves != output:
            raise InvalidInput("the gate wrote a different number of rows than it counted")
        t4 = time.perf_counter()
        timings = {
            "check_and_count": t1 - t0,
            "write": t2 - t1,
            "merkle": t4 - t2,
        }
        return EngineResult(by_category, excluded, output, root.hex(), leaves, timings)

"""The gate on DuckDB: in-process, parallel, Parquet or JSON Lines in, Parquet out.

Four steps, each a single pass over narrow columns except the write:

1. **check**: rows per category (the ``category`` column only) and missing
   ids; for Parquet the null counts come from the files' column statistics
   when every row group has them, so ``item_id`` and ``subject_id`` are not
   read for it;
2. **write**: the allowed rows, unchanged, to ``work/data/part-0.parquet``:
   an anti join against the denials, or a semi join against the opt-ins.
   Under legitimate interest with several reasons to deny, one anti join per
   reason, chained: DuckDB's profile of the write gives the rows each removed,
   which are that reason's count (:func:`removed_by_anti_joins`);
3. **count**: rows matched by the decision groups that neither the totals nor
   the write's joins give (:func:`accord.jobs.gate.counted_groups`): the check
   gives the rows read and the write the rows allowed, so one group on each side
   follows from the others. Usually nothing is left; otherwise an inner join of
   ``(subject_id, category)`` against those decisions on a second cursor, *while*
   step 4 runs. The corpus files' sizes and times must be the same after it as
   before the check;
4. **merkle**: the written ``item_id`` column read back row group by row group
   on two threads and keyed as it is read (:class:`accord.jobs.idsort.KeyedIds`),
   or read whole and sorted (:func:`accord.jobs.idsort.hash_sorted`) when the ids
   cannot be keyed; above :data:`IN_MEMORY_SORT_BYTES` of ids DuckDB sorts them
   (spilling to disk). Then hashed in blocks (:class:`accord.jobs.merkle.BlockHasher`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
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
    Group,
    check_columns,
    check_stats,
    counted_groups,
    derive_counts,
    fsync_path,
)
from accord.jobs.idsort import COMPILED_FROM, KeyedIds, hash_rows, hash_sorted
from accord.jobs.merkle import BlockHasher

__all__ = ["IN_MEMORY_SORT_BYTES", "KEYED_FROM", "DuckDBEngine", "keyed_ids"]

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
        con.execute(  # a view: each use reads the (small) file, which costs less than a copy
            "CREATE VIEW decisions AS SELECT subject, category, allowed, reason "
            f"FROM read_parquet({_lit(spec.decisions)})"
        )
        null_ids = self._null_ids(con, spec)
        categories: list[tuple[str | None, int]] | None = None
        if null_ids is None:
            rows = con.execute(
                "SELECT CAST(category AS VARCHAR), count(*), "
                "count(*) FILTER (WHERE item_id IS NULL OR subject_id IS NULL) "
                "FROM corpus GROUP BY ALL"
            ).fetchall()
            null_ids = sum(int(r[2]) for r in rows)
            categories = [(r[0], int(r[1])) for r in rows]
            check_stats(categories, [], spec, null_ids)  # missing ids, unknown categories
        else:
            # the ids are known to be there: the rows per category (and unknown categories,
            # refused before anything is published) are counted beside the Merkle steps
            check_stats([], [], spec, null_ids)
        t1 = time.perf_counter()
        # the Merkle step's compiled loops load (1-2 s the first time in a process) while
        # DuckDB writes, which releases the GIL
        warming = _warm_kernels(con, spec)
        groups = {
            (bool(r[0]), str(r[1])): int(r[2])
            for r in con.execute(
                "SELECT allowed, reason, count(*) FROM decisions GROUP BY ALL"
            ).fetchall()
        }
        chained = _chained_groups(spec, groups)
        data = work / "data"
        data.mkdir()
        part = data / "part-0.parquet"
        overlapping: list[str] = []
        if chained:
            written, removed = self._write_chained(con, chained, part)
            overlapping = [f"denied_{i}" for i in range(len(chained))]
        else:
            join = "ANTI JOIN" if spec.default_allowed else "SEMI JOIN"
            wanted = "NOT allowed" if spec.default_allowed else "allowed"
            written = con.execute(
                f"COPY (SELECT c.* FROM corpus c {join} "
                f"(SELECT subject, category FROM decisions WHERE {wanted}) d ON {_key('d')}) "
                f"TO {_lit(part)} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchall()[0][0]
            removed = {}
        if warming is not None:
            warming.join()
        t2 = time.perf_counter()
        to_count = [g for g in counted_groups(spec, groups) if g not in removed]
        # What is left to count (the groups that neither the totals nor the write's joins
        # give, the rows per category, the two-reason check; DuckDB, on its own cursor)
        # runs beside the Merkle steps, which leave a core partly idle: one thread hashes
        # holding the GIL between blocks while the other rebuilds ids ahead of it.
        cursor = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                # the written file goes to disk meanwhile too (the publish step's fsync
                # then finds it clean): waiting on the disk is no core's work
                syncing = pool.submit(fsync_path, part)
                counting = pool.submit(
                    self._count_groups, cursor, to_count, categories is None, overlapping
                )
                root, tree_size, items, merkle_timings = self._merkle(
                    con, part, self.threads or os.cpu_count() or 1
                )
                counted, counted_categories, twice, count_seconds = counting.result()
                syncing.result()
        finally:
            cursor.close()
        if twice:
            raise InvalidInput(
                f"the decision list {spec.decisions} decides {twice} (subject, category) "
                "pair(s) more than once",
                decisions=str(spec.decisions),
            )
        categories = categories if categories is not None else counted_categories
        total = sum(n for _, n in categories)
        matched = derive_counts(spec, groups, {**counted, **removed}, total, int(written))
        by_category, excluded, output = check_stats(categories, matched, spec, null_ids)
        if _fingerprint(spec.corpus) != before:
            raise InvalidInput(
                f"corpus {spec.corpus} changed while the gate read it; run the gate again",
                corpus=str(spec.corpus),
            )
        if items != output:
            raise InvalidInput("the gate wrote a different number of rows than it counted")
        t3 = time.perf_counter()
        timings = {"check": t1 - t0, "write": t2 - t1}
        if count_seconds:  # a count ran beside the Merkle steps
            timings |= {"count and merkle (at once)": t3 - t2, "count": count_seconds}
        else:
            timings["merkle and checks"] = t3 - t2
        timings |= merkle_timings
        return EngineResult(by_category, excluded, output, root.hex(), tree_size, timings)

    @staticmethod
    def _write_chained(con: Any, chained: list[Group], part: Path) -> tuple[int, dict[Group, int]]:
        """Write the allowed rows through one anti join per group of denials, and read how
        many rows each join removed from DuckDB's profile of the query.

        A group the profile does not show (another DuckDB version, another plan) is
        left out of the result and counted by a query of its own instead.
        """
        tables = {}
        joins = []
        for i, (_allowed, reason) in enumerate(chained):
            name = f"denied_{i}"
            con.execute(
                f"CREATE TABLE {name} AS SELECT subject, category FROM decisions "
                "WHERE NOT allowed AND reason = ?",
                [reason],
            )
            tables[name] = (False, reason)
            joins.append(f"ANTI JOIN {name} d{i} ON {_key(f'd{i}')}")
        con.execute("PRAGMA enable_profiling = 'no_output'")
        try:
            written = con.execute(
                f"COPY (SELECT c.* FROM corpus c {' '.join(joins)}) "
                f"TO {_lit(part)} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchall()[0][0]
            profile = _profile(con)
        finally:
            con.execute("PRAGMA disable_profiling")
        return int(written), removed_by_anti_joins(profile, tables) if profile else {}

    @staticmethod
    def _count_groups(
        cursor: Any,
        groups: list[tuple[bool, str]],
        categories: bool = False,
        overlapping: Sequence[str] = (),
    ) -> tuple[dict[tuple[bool, str], int], list[tuple[str | None, int]], int, float]:
        """What is counted beside the Merkle steps: rows matched by the decisions of
        ``groups``, per group; if ``categories``, the corpus's rows per category; the
        ``(subject, category)`` pairs that two of the ``overlapping`` tables (the chained
        write's groups) both hold, which would make the write's counts wrong; and the
        seconds it took (0 when nothing ran)."""
        start = time.perf_counter()
        counted = dict.fromkeys(groups, 0)
        if groups:
            wanted = " OR ".join(
                f"(allowed = {'true' if allowed else 'false'} AND reason = {_lit(reason)})"
                for allowed, reason in groups
            )
            for allowed, reason, rows in cursor.execute(
                "SELECT d.allowed, d.reason, count(*) FROM corpus c "
                f"JOIN (SELECT * FROM decisions WHERE {wanted}) d ON {_key('d')} GROUP BY ALL"
            ).fetchall():
                counted[(bool(allowed), str(reason))] = int(rows)
        by_category: list[tuple[str | None, int]] = []
        if categories:
            by_category = [
                (r[0], int(r[1]))
                for r in cursor.execute(
                    "SELECT CAST(category AS VARCHAR), count(*) FROM corpus GROUP BY ALL"
                ).fetchall()
            ]
        twice = 0
        for i, first in enumerate(overlapping):
            for second in overlapping[i + 1 :]:
                twice += int(
                    cursor.execute(
                        f"SELECT count(*) FROM {first} SEMI JOIN {second} USING (subject, category)"
                    ).fetchall()[0][0]
                )
        ran = bool(groups or categories or overlapping)
        return counted, by_category, twice, time.perf_counter() - start if ran else 0.0

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
            keyed = keyed_ids([part], threads)
            if keyed is not None:  # read and packed at once, the text of the ids not kept
                t_read = time.perf_counter()
                hash_rows(keyed, hasher, threads)
            else:
                unsorted = _read_ids(con, part)
                t_read = time.perf_counter()  # sorting and hashing overlap
                hash_sorted(unsorted, hasher, threads)
                del unsorted
        else:
            t_read = time.perf_counter()
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
                "merkle: sort and hash": t_end - t_read,
            },
        )


def _key(alias: str) -> str:
    """The join of corpus rows ``c`` with the decisions ``alias``: same subject, same category."""
    return (
        f"CAST(c.subject_id AS VARCHAR) = {alias}.subject "
        f"AND CAST(c.category AS VARCHAR) = {alias}.category"
    )


# Outputs of fewer ids are read whole (one read beats a reader a thread for small files).
KEYED_FROM = 1 << 16

# At most this many groups of denials are chained as anti joins (there are three
# reasons to deny: objection, withdrawn, signal).
MAX_CHAINED = 4


def _chained_groups(spec: GateSpec, groups: Mapping[Group, int]) -> list[Group]:
    """The groups of denials to write through one anti join each, so that the profile of
    the write counts their rows; none when a count is not needed or not exact that way.

    Only under a default of *allowed*: the write is then anti joins alone, each one
    sees every row the previous let through, and the rows it removes are exactly its
    group's. (Under consent the write ends in a semi join, whose filter DuckDB may
    push below the anti joins: they would not see every row.) One group needs no
    count at all: it is what the write did not let through.
    """
    denied = sorted(g for g in groups if not g[0])
    if not spec.default_allowed or not 2 <= len(denied) <= MAX_CHAINED:
        return []
    return denied


def _profile(con: Any) -> dict[str, Any] | None:
    """The last query's profile as parsed JSON, or None where this DuckDB gives none
    (``get_profiling_information`` is recent): then every group is counted by a query."""
    try:
        text = con.get_profiling_information(format="json")
        parsed = json.loads(text)
    except (AttributeError, TypeError, ValueError, duckdb.Error):
        return None
    return parsed if isinstance(parsed, dict) else None


def removed_by_anti_joins(
    profile: Mapping[str, Any], tables: Mapping[str, Group]
) -> dict[Group, int]:
    """Rows removed by each anti join of a DuckDB query profile (JSON, parsed), by the group
    of the table on its build side: the rows into its probe side minus the rows out.

    Joins or tables that cannot be told apart are left out (to be counted otherwise).
    """
    removed: dict[Group, int] = {}
    seen: dict[str, int] = {}

    def rows(node: Mapping[str, Any]) -> int | None:
        value = node.get("intermediate_rows", node.get("operator_cardinality"))
        return int(value) if isinstance(value, int) else None

    def walk(node: Mapping[str, Any]) -> None:
        children = node.get("children") or []
        kind = node.get("type", node.get("operator_type", node.get("operator_name")))
        info = node.get("extra_info") or {}
        if kind == "HASH_JOIN" and info.get("Join Type") == "ANTI" and len(children) == 2:
            build = children[1].get("extra_info") or {}
            table = str(build.get("Table", "")).rsplit(".", 1)[-1]
            into, out = rows(children[0]), rows(node)
            if table in tables and into is not None and out is not None:
                seen[table] = seen.get(table, 0) + 1
                removed[tables[table]] = into - out
        for child in children:
            walk(child)

    top = profile.get("operator", profile.get("children", []))
    for node in top if isinstance(top, list) else [top]:
        walk(node)
    # a table seen twice (a plan split over several joins) is not a count to trust
    return {g: removed[g] for name, g in tables.items() if seen.get(name) == 1}


def _warm_kernels(con: Any, spec: GateSpec) -> threading.Thread | None:
    """Start loading :mod:`accord.jobs.idsort_kernels` on a thread when the corpus is a
    Parquet corpus of at least :data:`~accord.jobs.idsort.COMPILED_FROM` rows (per its
    footers); None otherwise (small corpora do not use them; JSON Lines are not counted
    ahead, and load them when they are needed)."""
    if spec.format != "parquet":
        return None
    rows = con.execute(
        f"SELECT sum(num_rows) FROM parquet_file_metadata({_lit(_pattern(spec))})"
    ).fetchall()[0][0]
    if int(rows or 0) < COMPILED_FROM:
        return None
    from accord.jobs import idsort_kernels

    thread = threading.Thread(target=idsort_kernels.warm_up, name="accord-kernels", daemon=True)
    thread.start()
    return thread


def keyed_ids(files: Sequence[Path], threads: int) -> KeyedIds | None:
    """The string ``item_id`` column of Parquet ``files`` read row group by row group on
    ``threads`` threads and keyed (:class:`accord.jobs.idsort.KeyedIds`), or None: fewer
    than :data:`KEYED_FROM` ids, ids that are not text (in any file), or ids that cannot
    be keyed (then they are read whole: :func:`_read_ids`)."""
    groups: list[tuple[Path, int]] = []
    sizes: list[int] = []
    for path in files:
        file = pq.ParquetFile(path)
        if file.schema_arrow.field("item_id").type not in (pa.string(), pa.large_string()):
            return None
        for group in range(file.metadata.num_row_groups):
            groups.append((path, group))
            sizes.append(file.metadata.row_group(group).num_rows)
    if sum(sizes) < KEYED_FROM:
        return None
    local = threading.local()

    def read(index: int) -> pa.Array:
        path, group = groups[index]
        readers = local.__dict__.setdefault("readers", {})  # one reader a file a thread
        if path not in readers:
            readers[path] = pq.ParquetFile(path)
        table = readers[path].read_row_group(group, columns=["item_id"], use_threads=False)
        column = table.column(0)
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()

    return KeyedIds.from_chunks(read, sizes, threads)


def _read_ids(con: Any, part: Path) -> pa.ChunkedArray:
    """The written ``item_id`` column as strings, whole (ids that :func:`keyed_ids` could
    not key).

    String ids are read by pyarrow (about 60 % of the CPU that DuckDB's read and
    conversion to Arrow take); ids of other types are cast to text by DuckDB, as the
    count and the Spark engine see them."""
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

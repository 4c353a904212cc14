"""The training-data gate: keep only the corpus items whose subjects allow a purpose.

Data flow (``accord rights gate``):

1. :class:`accord.rights.service.RightsService` resolves the registry as of a
   time into a Parquet *decision list* ``(subject, category, allowed, reason)``
   holding only the cells whose reason differs from the purpose's default (under
   legitimate interest: the denials; under consent: the opt-ins), and notes the
   registry's ledger position.
2. :func:`run_gate` hands the corpus and the decision list to an engine (DuckDB
   in-process, or Spark), which validates the corpus, counts input rows by
   category and outcome, writes the allowed rows unchanged (an anti-join against
   the denials, or a semi-join against the opt-ins), and computes the Merkle
   root over blocks of the sorted included ids (:mod:`accord.jobs.merkle`).
3. Everything is written into a temporary folder beside ``out`` that is fsynced
   and renamed into place: an interrupted run leaves no partial output.

Output layout: ``out/data/*.parquet`` (the items) and ``out/manifest.json``;
the items are also the record of which (subject, category) pairs a run
included, which ``accord rights affected`` reads back (columns only). The
manifest depends only on the input, the decisions and the run's stated time, so
both engines write byte-identical manifests for the same input.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from accord.errors import Conflict, InvalidInput
from accord.jobs.merkle import BLOCK_SIZE
from accord.rights.model import CATEGORIES

__all__ = [
    "MANIFEST_VERSION",
    "REQUIRED_COLUMNS",
    "EngineResult",
    "GateEngine",
    "GateSpec",
    "check_columns",
    "corpus_format",
    "counted_groups",
    "derive_counts",
    "fsync_path",
    "get_engine",
    "run_gate",
]

MANIFEST_VERSION = 2
REQUIRED_COLUMNS = ("item_id", "subject_id", "category")
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True, slots=True)
class GateSpec:
    """What one gate run is asked to do."""

    corpus: Path
    out: Path
    decisions: Path
    purpose: str
    as_of: str
    default_allowed: bool
    default_reason: str
    registry: Mapping[str, Any] = field(default_factory=dict)
    created_at: str = ""

    @property
    def format(self) -> str:
        return corpus_format(self.corpus)


@dataclass(slots=True)
class EngineResult:
    """What an engine measured while writing the allowed rows into ``work``."""

    input_by_category: dict[str, int]
    excluded_by_reason: dict[str, int]
    output_count: int
    merkle_root: str
    merkle_leaves: int  # tree size: the number of blocks
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase; not in manifest


class GateEngine(Protocol):
    """An engine writes the allowed rows into ``work/data/`` and returns its counts."""

    name: str

    def run(self, spec: GateSpec, work: Path) -> EngineResult: ...


def corpus_format(path: Path) -> str:
    """``parquet`` or ``jsonl``, from the file's suffix (a folder: the files in it)."""
    if path.is_dir():
        names = [p.name for p in path.iterdir() if not p.name.startswith((".", "_"))]
        suffixes = {Path(n).suffix.lower() for n in names}
        if suffixes == {".parquet"}:
            return "parquet"
        if suffixes and suffixes <= {".jsonl", ".ndjson"}:
            return "jsonl"
        raise InvalidInput(
            f"corpus folder {path} must hold only .parquet or only .jsonl files", corpus=str(path)
        )
    if not path.exists():
        raise InvalidInput(f"corpus {path} does not exist", corpus=str(path))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise InvalidInput(
        f"corpus {path} is neither Parquet (.parquet) nor JSON Lines (.jsonl)", corpus=str(path)
    )


def check_columns(columns: list[str], corpus: Path) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidInput(
            f"corpus {corpus} lacks column(s) {', '.join(missing)}; it has {', '.join(columns)}",
            corpus=str(corpus),
            missing=missing,
        )


def check_stats(
    categories: list[tuple[str | None, int]],
    matched: list[tuple[bool, str, int]],
    spec: GateSpec,
    null_ids: int,
) -> tuple[dict[str, int], dict[str, int], int]:
    """Check the corpus's counts and turn them into manifest figures.

    ``categories`` are ``(category, rows)`` over the whole corpus; ``matched`` are
    ``(allowed, reason, rows)`` for the rows that a decision matched. Every other
    row gets the purpose's default.
    """
    if null_ids:
        raise InvalidInput(
            f"corpus {spec.corpus} has {null_ids} row(s) without item_id or subject_id",
            corpus=str(spec.corpus),
        )
    unknown = sorted({str(c) for c, _ in categories if c not in CATEGORIES})
    if unknown:
        raise InvalidInput(
            f"corpus {spec.corpus} has unknown categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(unknown)}; categories are: {', '.join(CATEGORIES)}",
            corpus=str(spec.corpus),
            unknown=unknown,
        )
    by_category = dict.fromkeys(CATEGORIES, 0)
    for category, count in categories:
        assert category is not None
        by_category[category] += count
    total = sum(by_category.values())
    unmatched = total - sum(count for _, _, count in matched)
    excluded: dict[str, int] = {}
    output = 0
    outcomes = [*matched, (spec.default_allowed, spec.default_reason, unmatched)]
    for allowed, reason, count in outcomes:
        if not count:
            continue
        if allowed:
            output += count
        else:
            excluded[str(reason)] = excluded.get(str(reason), 0) + count
    return by_category, dict(sorted(excluded.items())), output


Group = tuple[bool, str]  # (allowed, reason) of a decision


def counted_groups(spec: GateSpec, groups: Mapping[Group, int]) -> list[Group]:
    """The decision groups whose rows must be counted; the others follow from two totals.

    ``groups`` maps each ``(allowed, reason)`` of the decision list to its number
    of decisions. The write tells how many rows were allowed, the check how many
    there were: on the default's side the rows no decision matched are what is
    left after that side's other groups, and on the other side one group (the
    one with the most decisions, most likely the most rows) is what is left after
    the rest. Under legitimate interest with one kind of denial nothing is counted.
    """
    other = [g for g in groups if g[0] != spec.default_allowed]
    largest = max(other, key=lambda g: (groups[g], g)) if other else None
    return sorted(g for g in groups if g != largest)


def derive_counts(
    spec: GateSpec,
    groups: Mapping[Group, int],
    counted: Mapping[Group, int],
    total: int,
    written: int,
) -> list[tuple[bool, str, int]]:
    """Rows per decision group, ``(allowed, reason, rows)``: the counted ones and the one derived.

    ``total`` rows were read and ``written`` were allowed. A derived count below
    zero, or a side whose groups are all counted but do not add up, means the
    corpus changed between the passes: refused.
    """
    side_rows = {True: written, False: total - written}
    left = {
        side: side_rows[side] - sum(n for (allowed, _), n in counted.items() if allowed == side)
        for side in (True, False)
    }
    matched = [(allowed, reason, int(n)) for (allowed, reason), n in counted.items()]
    other_side = not spec.default_allowed
    # counted_groups leaves out one group at most, on the side that is not the default's:
    # it gets what is left of that side; without one, that side must add up exactly
    uncounted = [g for g in groups if g not in counted]
    if uncounted:
        (group,) = uncounted
        matched.append((group[0], group[1], left[other_side]))
        other_fits = left[other_side] >= 0
    else:
        other_fits = left[other_side] == 0
    if not other_fits or left[spec.default_allowed] < 0:
        raise InvalidInput(
            f"the gate's counts do not add up ({total} rows read, {written} written); the "
            "corpus changed while it was read?",
            corpus=str(spec.corpus),
        )
    return sorted(matched)


def get_engine(name: str) -> GateEngine:
    if name == "duckdb":
        from accord.jobs.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine()
    if name == "spark":
        from accord.jobs.engines.spark_engine import SparkEngine

        return SparkEngine()
    raise InvalidInput(f"unknown engine {name!r}; engines are: {', '.join(ENGINES)}", engine=name)


def manifest_of(spec: GateSpec, result: EngineResult) -> dict[str, Any]:
    """The manifest: engine-independent, so that both engines write the same bytes."""
    return {
        "version": MANIFEST_VERSION,
        "purpose": spec.purpose,
        "as_of": spec.as_of,
        "created_at": spec.created_at,
        "corpus": {"name": spec.corpus.name, "format": spec.format},
        "registry": dict(spec.registry),
        "input_count": sum(result.input_by_category.values()),
        "input_by_category": result.input_by_category,
        "output_count": result.output_count,
        "excluded_count": sum(result.excluded_by_reason.values()),
        "excluded_by_reason": result.excluded_by_reason,
        "merkle": {
            "hash": "RFC 9162 SHA-256: leaf H(0x00||block), node H(0x01||l||r)",
            "leaves": (
                "the included item_ids as UTF-8, in ascending byte order, cut into blocks of "
                "block_size consecutive ids (the last may be shorter); a block is encoded as "
                "u32 count, u32 byte length of each id, then the ids' bytes (u32: big-endian)"
            ),
            "block_size": BLOCK_SIZE,
            "items": result.output_count,
            "tree_size": result.merkle_leaves,
            "root": result.merkle_root,
        },
        "files": {"data": "data/"},
    }


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fsync_path(Path(folder) / name)
        fsync_path(Path(folder))


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_gate(
    spec: GateSpec,
    *,
    engine: str = "duckdb",
    before_publish: Callable[[Path], None] | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run the gate; return the manifest written to ``spec.out/manifest.json``.

    ``before_publish`` (tests, tools) is called with the finished temporary
    folder just before it is renamed into place; ``timings`` (benchmarks) receives
    the engine's seconds per phase.
    """
    out = spec.out
    if out.exists():
        raise Conflict(f"output folder {out} exists already; choose a new one", out=str(out))
    gate_engine = get_engine(engine)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        result = gate_engine.run(spec, work)
        if timings is not None:
            timings.update(result.timings)
        manifest = manifest_of(spec, result)
        (work / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        _fsync_tree(work)
        if before_publish is not None:
            before_publish(work)
        os.rename(work, out)
        fsync_path(out.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
        raise
    return manifest

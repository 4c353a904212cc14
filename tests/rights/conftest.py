"""Fixtures of the rights tests: a small corpus writer and one SparkSession per test session."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CATS = ["posts", "photos", "videos", "comments", "messages", "interaction_telemetry"]


def make_rows(subjects: list[str], per_subject: int = 6) -> list[dict[str, Any]]:
    rows = []
    for s_index, subject in enumerate(subjects):
        for i in range(per_subject):
            rows.append(
                {
                    "item_id": f"item-{s_index:02d}-{i:02d}",
                    "subject_id": subject,
                    "category": CATS[i % len(CATS)],
                    "text": f"{subject} says {i}",
                    "likes": s_index * 100 + i,
                }
            )
    return rows


@pytest.fixture
def write_corpus(tmp_path: Path) -> Callable[..., Path]:
    """Write rows as Parquet or JSON Lines; returns the path."""

    def write(rows: list[dict[str, Any]], name: str = "corpus.parquet") -> Path:
        path = tmp_path / name
        if name.endswith(".parquet"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), path)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for every Spark test of the run."""
    pytest.importorskip("pyspark")
    from accord.jobs.engines.spark_engine import spark_session

    session = spark_session()
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def read_output(out: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for part in sorted((out / "data").glob("*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    return sorted(rows, key=lambda r: r["item_id"])

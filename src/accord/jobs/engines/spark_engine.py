"""The gate on Apache Spark (``pip install accord[spark]``; local mode unless configured).

The same steps as the DuckDB engine, as DataFrame operations: a count per
category that checks the corpus, a count of the rows each decision matched, a
left-anti (or left-semi) join that writes the allowed rows, and the item ids of
the output sorted by Spark (range partitions written as Parquet files in order)
and streamed back to the driver as Arrow batches, in order, into the same block
hasher (:class:`accord.jobs.merkle.BlockHasher`), so that both
engines produce the same manifest. The session is shared per
process (``SparkSession.builder.getOrCreate``); its master is ``SPARK_MASTER``
(default ``local[2]``) unless ``PYSPARK_SUBMIT_ARGS`` configures one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from accord.errors import InvalidInput
from accord.jobs.gate import EngineResult, GateSpec, check_columns, check_stats
from accord.jobs.merkle import BlockHasher

__all__ = ["SparkEngine", "spark_session"]


def spark_session() -> Any:
    """The process's SparkSession (``SPARK_MASTER``, default local[2])."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise InvalidInput("the spark engine needs pyspark: pip install 'accord[spark]'") from exc
    builder = SparkSession.builder.appName("accord-gate")
    if not os.environ.get("PYSPARK_SUBMIT_ARGS"):
        builder = builder.master(os.environ.get("SPARK_MASTER") or "local[2]")
    return (
        builder.config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


class SparkEngine:
    name = "spark"

    def run(self, spec: GateSpec, work: Path) -> EngineResult:
        from pyspark.errors import PySparkException

        try:
            return self._run(spec, work)
        except PySparkException as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(
                f"could not read corpus {spec.corpus}: {first}", corpus=str(spec.corpus)
            ) from exc
        except Exception as exc:
            if type(exc).__name__ in ("Py4JJavaError", "SparkException"):
                raise InvalidInput(
                    f"could not read corpus {spec.corpus}: {str(exc).splitlines()[0]}",
                    corpus=str(spec.corpus),
                ) from exc
            raise

    def _run(self, spec: GateSpec, work: Path) -> EngineResult:
        from pyspark.sql import functions as F

        spark = spark_session()
        path = str(spec.corpus)
        if spec.format == "parquet":
            corpus = spark.read.parquet(path)
        else:
            corpus = spark.read.option("mode", "FAILFAST").json(path)
        check_columns(list(corpus.columns), spec.corpus)
        decisions = spark.read.parquet(str(spec.decisions)).select(
            F.col("subject").alias("_d_subject"),
            F.col("category").alias("_d_category"),
            F.col("allowed").alias("_d_allowed"),
            F.col("reason").alias("_d_reason"),
        )
        keyed = corpus.withColumn("_k_subject", F.col("subject_id").cast("string")).withColumn(
            "_k_category", F.col("category").cast("string")
        )
        cond = (keyed["_k_subject"] == decisions["_d_subject"]) & (
            keyed["_k_category"] == decisions["_d_category"]
        )
        rows = (
            keyed.groupBy("_k_category")
            .agg(
                F.count(F.lit(1)).alias("n"),
                F.sum(
                    F.when(F.col("item_id").isNull() | F.col("subject_id").isNull(), 1).otherwise(0)
                ).alias("nulls"),
            )
            .collect()
        )
        null_ids = sum(int(r["nulls"] or 0) for r in rows)
        matched = [
            (bool(r["_d_allowed"]), str(r["_d_reason"]), int(r["n"]))
            for r in keyed.join(decisions, cond, "inner")
            .groupBy("_d_allowed", "_d_reason")
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        ]
        by_category, excluded, output = check_stats(
            [(r["_k_category"], int(r["n"])) for r in rows], matched, spec, null_ids
        )
        wanted = ~F.col("_d_allowed") if spec.default_allowed else F.col("_d_allowed")
        how = "left_anti" if spec.default_allowed else "left_semi"
        kept = keyed.join(decisions.where(wanted), cond, how).drop("_k_subject", "_k_category")
        data = work / "data"
        kept.write.parquet(str(data))
        for p in data.iterdir():  # Spark's bookkeeping files are not part of the dataset
            if p.name.startswith(("_", ".")):
                p.unlink()
        written = spark.read.parquet(str(data))
        # Spark sorts the ids into range partitions written as files part-00000, part-00001...
        # in order, each sorted; the driver streams them back as Arrow batches (a Python
        # row per id through toLocalIterator cost 40 s a million ids here)
        ids = work.parent / f"{work.name}.ids"
        hasher = BlockHasher()
        try:
            written.select(F.col("item_id").cast("string").alias("id")).orderBy("id").write.parquet(
                str(ids)
            )
            for part in sorted(ids.glob("part-*.parquet")):
                for batch in pq.ParquetFile(part).iter_batches(batch_size=1 << 16, columns=["id"]):
                    hasher.add(batch.column(0))
        finally:
            shutil.rmtree(ids, ignore_errors=True)
        root = hasher.root()
        if hasher.items != output:
            raise InvalidInput("the gate wrote a different number of rows than it counted")
        return EngineResult(by_category, excluded, output, root.hex(), hasher.tree_size)

"""Gate engines: the same job over DuckDB (in-process) and Apache Spark (local or a cluster)."""

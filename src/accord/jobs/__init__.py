"""Batch jobs over Parquet: DuckDB in-process by default, Spark for corpora too big for one machine.

Jobs take plain files in and write plain files out (atomically); the services
that start them record what they did in the ledger.
"""

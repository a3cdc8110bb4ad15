"""Publish the result tables as a read-only copy that BI tools can open at any time.

DuckDB lets one process write a database file, and a reader holding the
working warehouse open would block the next build (and vice versa). So BI
tools never read the working file: the last step of a successful build copies
every published table into a *new* DuckDB file and Parquet directory beside
the warehouse, then swaps them into place with an atomic rename. A build that
fails earlier never reaches this step, so the previous published copy stays
untouched; a reader that has the old file open keeps a consistent snapshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

PUBLISHED_DATABASE_NAME = "rwe_results.duckdb"
PARQUET_DIRECTORY_NAME = "parquet"


def warehouse_path(connection: duckdb.DuckDBPyConnection) -> Path:
    """Path of the database file the connection is working in."""
    row = connection.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    if row is None or not row[0]:
        raise RuntimeError("the warehouse is in memory: there is no file to publish beside")
    return Path(row[0]).resolve()


def publish_tables(connection: duckdb.DuckDBPyConnection, tables: Sequence[str],
                   publish_dir: Path) -> pd.DataFrame:
    """Copy ``schema.table`` relations into a fresh published database and Parquet files.

    The copy is written under temporary names and moved into place with
    :func:`os.replace`, which is atomic on one filesystem: readers see the old
    copy or the new one, never a half-written file.

    Returns one row per table with its row count and where it was published.
    """
    publish_dir.mkdir(parents=True, exist_ok=True)
    final_database = publish_dir / PUBLISHED_DATABASE_NAME
    staging_database = publish_dir / f".{PUBLISHED_DATABASE_NAME}.{os.getpid()}.tmp"
    staging_parquet = publish_dir / f".{PARQUET_DIRECTORY_NAME}.{os.getpid()}.tmp"
    # Leftovers of a build killed while publishing. Only one build can hold
    # the working warehouse at a time, so no other build is writing these.
    for leftover in publish_dir.glob(".*.tmp"):
        _remove(leftover)
    staging_parquet.mkdir()

    alias = "published_copy"
    rows = []
    connection.execute(f"attach '{_sql_path(staging_database)}' as {alias}")
    try:
        for qualified in tables:
            schema, table = qualified.split(".")
            connection.execute(
                f'create table {alias}.main."{table}" as select * from "{schema}"."{table}"')
            parquet_path = staging_parquet / f"{table}.parquet"
            connection.execute(
                f'copy (select * from {alias}.main."{table}") to '
                f"'{_sql_path(parquet_path)}' (format parquet)")
            count = connection.execute(
                f'select count(*) from {alias}.main."{table}"').fetchone()[0]
            rows.append({"table_name": table, "row_count": int(count)})
    finally:
        connection.execute(f"detach {alias}")

    final_parquet = publish_dir / PARQUET_DIRECTORY_NAME
    previous_parquet = publish_dir / f".{PARQUET_DIRECTORY_NAME}.previous"
    _remove(previous_parquet)
    os.replace(staging_database, final_database)
    # A directory cannot be swapped in one rename over a non-empty one: move the
    # old one aside first; a reader listing files meanwhile sees either.
    if final_parquet.exists():
        os.replace(final_parquet, previous_parquet)
    os.replace(staging_parquet, final_parquet)
    _remove(previous_parquet)

    return pd.DataFrame(rows).assign(
        published_database=str(final_database),
        published_parquet=[str(final_parquet / f"{row['table_name']}.parquet") for row in rows],
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()

"""Publish the result tables as read-only versions that readers can open at any time.

DuckDB lets one process write a database file, and a reader holding the
working warehouse open would block the next build (and vice versa). So
readers never open the working file. The last step of a successful build
writes a complete new *version* beside the warehouse and then points one
symlink at it::

    <warehouse dir>/published/
        current -> versions/<run_id>          the only path readers use
        versions/<run_id>/
            rwe_results.duckdb                aggregate tables + run_info (BI)
            parquet/<table>.parquet           the same tables as Parquet
            report.html                       the study report of these tables
            restricted/                       mode 0700
                rwe_patient_level.duckdb      patient-level tables + run_info, mode 0600

A version is written under a temporary name, flushed to disk, and renamed to
``versions/<run_id>`` only when complete; ``current`` is then replaced with
one :func:`os.replace` of a new symlink. A reader resolves ``current`` once,
when it opens a file, so it sees the previous version or the new one, never
a mix and never a missing path, and a build killed at any point leaves
``current`` on a complete version. A failed build never reaches this step.
The newest versions are kept (a reader that has an old file open keeps its
snapshot in any case), older ones and leftovers of killed builds are removed.
Temporary names carry the warehouse's file name: two warehouses in one folder
share ``published/`` (``current`` is whichever published last) but never
remove each other's files in progress.

Files made from the version's tables (the study report) are written into
the version before it is renamed into place (``add_to_version``), so
``current/report.html`` always describes the tables beside it.

The DuckDB copies keep the working warehouse's table and column comments
(the model descriptions that persist_docs writes), which ``create table as``
alone would drop. They are written in an older storage format
(:data:`STORAGE_VERSION`) than the working warehouse's, so that the DuckDB 1.x
libraries inside today's BI drivers can open them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

PUBLISHED_DIRECTORY_NAME = "published"
VERSIONS_DIRECTORY_NAME = "versions"
CURRENT_LINK_NAME = "current"
AGGREGATE_DATABASE_NAME = "rwe_results.duckdb"
PARQUET_DIRECTORY_NAME = "parquet"
RESTRICTED_DIRECTORY_NAME = "restricted"
RESTRICTED_DATABASE_NAME = "rwe_patient_level.duckdb"
REPORT_NAME = "report.html"
#: Storage format of the published DuckDB files: DuckDB 2.x writes format 69
#: by default, which no 1.x client can read. 'v1.0.0' writes format 64, the
#: oldest DuckDB 2.0.1 writes (comments included), which every DuckDB from 1.0
#: on opens (checked with 1.0.0, 1.1.3, 1.2.2, 1.4.4 and 1.5.6; a test opens
#: the files with a 1.x client). Newer formats would shut out older clients
#: and add nothing these plain tables use.
STORAGE_VERSION = "v1.0.0"
RUN_INFO_TABLE_NAME = "run_info"
#: Complete versions kept (the one ``current`` points to is always kept too).
KEEP_VERSIONS = 3
RESTRICTED_DIRECTORY_MODE = 0o700
RESTRICTED_FILE_MODE = 0o600
#: Names of complete versions (see rwe_warehouse.provenance.RUN_ID_FORMAT).
VERSION_NAME = re.compile(r"run_\d{8}T\d{6}_\d{6}Z")

RUN_INFO_DESCRIPTION = ("One row per study (study_specs): the build that wrote this "
                        "published version (run id, dbt invocation, inputs) and the "
                        "study's window and cut-off.")
RUN_INFO_COLUMNS = {
    "run_id": "Id of the build (its start, UTC, to the microsecond); the version "
              "directory's name and audit.run_log.run_id.",
    "dbt_invocation_id": "dbt's invocation id of the build.",
    "built_at": "When this version was published (UTC, whole seconds).",
    "study_id": "The study (studies/<study_id>.yml; its spec: table study_specs).",
    "data_cutoff_date": "Data cut-off of the study (its spec).",
    "study_window_start_date": "First index-line start date in the study window.",
    "study_window_end_date": "Last index-line start date in the study window.",
    "input_fingerprint": "SHA-256 over every raw export file's path and SHA-256 "
                         "(audit.run_inputs).",
    "code_fingerprint": "SHA-256 over the project's seeds and code (audit.run_inputs).",
    "package_versions": "JSON of the package versions that shape the results.",
}


@dataclass(frozen=True)
class PublishedLayout:
    """Where the published versions of one warehouse file live."""

    publish_dir: Path
    warehouse_name: str  # file name of the working warehouse; scopes temporary names

    @classmethod
    def beside(cls, warehouse: Path) -> PublishedLayout:
        return cls(warehouse.parent / PUBLISHED_DIRECTORY_NAME, warehouse.name)

    @property
    def versions_dir(self) -> Path:
        return self.publish_dir / VERSIONS_DIRECTORY_NAME

    @property
    def current(self) -> Path:
        return self.publish_dir / CURRENT_LINK_NAME

    def version_dir(self, run_id: str) -> Path:
        return self.versions_dir / run_id

    def staging_dir(self, run_id: str) -> Path:
        return self.versions_dir / f".{self.warehouse_name}.{run_id}.tmp"

    def staging_link(self) -> Path:
        return self.publish_dir / f".{CURRENT_LINK_NAME}.{self.warehouse_name}.{os.getpid()}.tmp"

    def leftovers(self) -> list[Path]:
        """Temporary versions and links of this warehouse's killed builds."""
        return [*self.versions_dir.glob(f".{_glob_escape(self.warehouse_name)}.*.tmp"),
                *self.publish_dir.glob(
                    f".{CURRENT_LINK_NAME}.{_glob_escape(self.warehouse_name)}.*.tmp")]


def warehouse_path(connection: duckdb.DuckDBPyConnection) -> Path:
    """Path of the database file the connection is working in."""
    rows = connection.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    row = rows[0] if rows else None
    if row is None or not row[0]:
        raise RuntimeError("the warehouse is in memory: there is no file to publish beside")
    return Path(row[0]).resolve()


def current_version(publish_dir: Path) -> Path | None:
    """The complete version directory ``current`` points to, or None before the first one."""
    link = publish_dir / CURRENT_LINK_NAME
    if not link.is_symlink():
        return None
    return (publish_dir / os.readlink(link)).resolve()


def publish_version(connection: duckdb.DuckDBPyConnection, *,
                    aggregate_tables: Sequence[str], restricted_tables: Sequence[str],
                    run_info: pd.DataFrame, layout: PublishedLayout,
                    keep_versions: int = KEEP_VERSIONS,
                    add_to_version: Callable[[Path], object] | None = None) -> pd.DataFrame:
    """Write ``schema.table`` relations as a new published version and make it current.

    Parameters
    ----------
    connection : duckdb.DuckDBPyConnection
        Connection to the working warehouse.
    aggregate_tables : sequence of str
        ``schema.table`` names for BI: written to ``rwe_results.duckdb`` and
        ``parquet/<table>.parquet``.
    restricted_tables : sequence of str
        Patient-level ``schema.table`` names: written only to
        ``restricted/rwe_patient_level.duckdb`` (directory 0700, file 0600).
    run_info : DataFrame
        The ``run_info`` table (one row per study, one run id) written to both databases (and to
        Parquet); its ``run_id`` names the version.
    layout : PublishedLayout
        Where to publish.
    keep_versions : int
        Complete versions to keep; the current one is never removed.
    add_to_version : callable, optional
        Called with the (still temporary) version directory once its databases
        and Parquet files are written, before it is flushed, renamed and made
        current: it may add files made from them (the study report). An error
        there fails the publish and leaves ``current`` where it was.

    Returns
    -------
    DataFrame
        One row per published table and database: ``table_name``,
        ``access_level`` (aggregate or restricted), ``row_count``,
        ``published_version``, ``published_database``, ``published_parquet``.
    """
    if (run_info.empty or "run_id" not in run_info.columns
            or run_info["run_id"].nunique() != 1):
        raise ValueError("run_info must be one or more rows (one per study) with one run_id")
    run_id = str(run_info["run_id"].iloc[0])
    if not VERSION_NAME.fullmatch(run_id):
        raise ValueError(f"run_id {run_id!r} is not a version name ({VERSION_NAME.pattern})")
    if keep_versions < 1:
        raise ValueError("keep_versions must be at least 1")
    layout.versions_dir.mkdir(parents=True, exist_ok=True)
    # Leftovers of this warehouse's killed builds. Only one build can hold the
    # working warehouse at a time, so no other build is writing these; another
    # warehouse file in the same folder has its own names.
    for leftover in layout.leftovers():
        _remove(leftover)
    final = layout.version_dir(run_id)
    if final.exists():
        raise FileExistsError(f"{final} is already published")

    staging = layout.staging_dir(run_id)
    staging.mkdir()
    (staging / PARQUET_DIRECTORY_NAME).mkdir()
    restricted_dir = staging / RESTRICTED_DIRECTORY_NAME
    restricted_dir.mkdir(mode=RESTRICTED_DIRECTORY_MODE)
    os.chmod(restricted_dir, RESTRICTED_DIRECTORY_MODE)  # mkdir's mode is masked by umask

    rows = _write_database(connection, staging / AGGREGATE_DATABASE_NAME, aggregate_tables,
                           run_info, parquet_dir=staging / PARQUET_DIRECTORY_NAME)
    restricted_database = restricted_dir / RESTRICTED_DATABASE_NAME
    rows += _write_database(connection, restricted_database, restricted_tables, run_info)
    # The directory is 0700 from the start, so no one else could open the file meanwhile.
    os.chmod(restricted_database, RESTRICTED_FILE_MODE)
    if add_to_version is not None:
        add_to_version(staging)

    _fsync_tree(staging)
    os.rename(staging, final)
    _fsync(layout.versions_dir)
    _point_current_at(layout, final)
    _remove_old_versions(layout, keep_versions)

    published = pd.DataFrame(rows)
    in_final = {str(staging): str(final)}
    for column in ("published_database", "published_parquet"):
        published[column] = [None if value is None else _rebase(value, in_final)
                             for value in published[column]]
    return published.assign(published_version=run_id)[
        ["table_name", "access_level", "row_count", "published_version", "published_database",
         "published_parquet"]]


def _write_database(connection: duckdb.DuckDBPyConnection, database: Path,
                    tables: Sequence[str], run_info: pd.DataFrame,
                    parquet_dir: Path | None = None) -> list[dict]:
    """Copy tables (with their comments) and run_info into a new DuckDB file."""
    access_level = "aggregate" if parquet_dir is not None else "restricted"
    catalog = connection.execute("select current_database()").fetchall()[0][0]
    alias = f"published_{access_level}"
    rows = []
    _run(connection, f"attach {_literal(str(database))} as {alias} "
                     f"(storage_version {_literal(STORAGE_VERSION)})")
    try:
        # One transaction for the whole file: each statement of its own (a
        # table, then one comment per column) would commit and sync the new
        # file's log every time, which took most of the publication's wall time.
        _run(connection, "begin transaction")
        for qualified in tables:
            schema, table = qualified.split(".")
            target = f"{alias}.main.{_quote(table)}"
            _run(connection, f"create table {target} as select * from "
                               f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}")
            _copy_comments(connection, (catalog, schema, table), target)
            rows.append(_published_row(connection, table, target, access_level, database,
                                       parquet_dir))
        connection.register("published_run_info", run_info)
        try:
            target = f"{alias}.main.{RUN_INFO_TABLE_NAME}"
            _run(connection, f"create table {target} as select * from published_run_info")
        finally:
            connection.unregister("published_run_info")
        _comment(connection, target, RUN_INFO_DESCRIPTION,
                 {column: RUN_INFO_COLUMNS.get(column) for column in run_info.columns})
        rows.append(_published_row(connection, RUN_INFO_TABLE_NAME, target, access_level,
                                   database, parquet_dir))
        _run(connection, "commit")
        _run(connection, f"checkpoint {alias}")
    except BaseException:
        # An error aborts the transaction, and detach needs none open. The
        # failed version's staging directory is a leftover the next publish removes.
        try:
            _run(connection, "rollback")
        except duckdb.TransactionException:
            pass  # the error came before "begin" or after "commit"
        raise
    finally:
        _run(connection, f"detach {alias}")
    return rows


def _published_row(connection, table: str, target: str, access_level: str, database: Path,
                   parquet_dir: Path | None) -> dict:
    parquet = None
    if parquet_dir is not None:
        parquet = parquet_dir / f"{table}.parquet"
        _run(connection,
             f"copy (select * from {target}) to {_literal(str(parquet))} (format parquet)")
    count = connection.execute(f"select count(*) from {target}").fetchall()[0][0]
    return {"table_name": table, "access_level": access_level, "row_count": int(count),
            "published_database": str(database),
            "published_parquet": None if parquet is None else str(parquet)}


def _copy_comments(connection, source: tuple[str, str, str], target: str) -> None:
    """Copy a table's and its columns' comments (persist_docs) onto ``target``."""
    row = next(iter(connection.execute(
        "select comment from duckdb_tables() "
        "where database_name = ? and schema_name = ? and table_name = ?",
        list(source)).fetchall()), None)
    columns = dict(connection.execute(
        "select column_name, comment from duckdb_columns() "
        "where database_name = ? and schema_name = ? and table_name = ? "
        "and comment is not null", list(source)).fetchall())
    _comment(connection, target, row[0] if row else None, columns)


def _comment(connection, target: str, table_comment: str | None,
             column_comments: Mapping[str, str | None]) -> None:
    if table_comment:
        _run(connection, f"comment on table {target} is {_literal(table_comment)}")
    for column, comment in column_comments.items():
        if comment:
            _run(connection,
                 f"comment on column {target}.{_quote(column)} is {_literal(comment)}")


def _run(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run a statement to completion (DuckDB 2 refuses new work while a result is open)."""
    connection.execute(sql).fetchall()


def _point_current_at(layout: PublishedLayout, version: Path) -> None:
    """Replace the ``current`` symlink in one atomic rename (relative target)."""
    staging_link = layout.staging_link()
    _remove(staging_link)
    os.symlink(version.relative_to(layout.publish_dir), staging_link)
    os.replace(staging_link, layout.current)
    _fsync(layout.publish_dir)


def _remove_old_versions(layout: PublishedLayout, keep_versions: int) -> None:
    """Keep the newest complete versions and the current one; remove the rest.

    Also removes the single-copy layout of earlier releases
    (``published/rwe_results.duckdb`` and ``published/parquet/``), which held
    the patient-level tables beside the aggregates, and their
    ``published/report.html``, rendered after the build from whatever version
    was current by then (each version now has its own).
    """
    current = current_version(layout.publish_dir)
    versions = sorted(path for path in layout.versions_dir.iterdir()
                      if path.is_dir() and not path.is_symlink()
                      and VERSION_NAME.fullmatch(path.name))
    for version in versions[:-keep_versions]:
        if current is None or version.resolve() != current:
            _remove(version)
    for legacy in (layout.publish_dir / AGGREGATE_DATABASE_NAME,
                   layout.publish_dir / f"{AGGREGATE_DATABASE_NAME}.wal",
                   layout.publish_dir / PARQUET_DIRECTORY_NAME,
                   layout.publish_dir / f".{PARQUET_DIRECTORY_NAME}.previous",
                   layout.publish_dir / REPORT_NAME):
        if not legacy.is_symlink():
            _remove(legacy)


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (and ``root``) to disk."""
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            _fsync(Path(directory) / name)
        _fsync(Path(directory))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _rebase(path: str, moves: Mapping[str, str]) -> str:
    for old, new in moves.items():
        if path.startswith(old + os.sep):
            return new + path[len(old):]
    return path


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)

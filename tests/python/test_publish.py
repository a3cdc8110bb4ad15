"""Publishing versions (rwe_warehouse.publish) without dbt: layout, access modes,
comments, retention, and a publish interrupted at every step."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from rwe_warehouse import publish
from rwe_warehouse.fingerprint import code_fingerprint
from rwe_warehouse.provenance import run_id_for
from rwe_warehouse.publish import (
    PublishedLayout,
    current_version,
    publish_version,
)

AGGREGATE = ["marts.survival_summary"]
PATIENT_LEVEL = ["marts.analysis_cohort"]
START = datetime(2024, 6, 30, 12, 0, 0, 123456)


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "rwe.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("""
        create schema marts;
        create table marts.survival_summary as
            select * from (values ('all', 'ICI', 4.5), ('all', 'non-ICI', 2.8))
                as t(cohort, arm, median_months);
        create table marts.analysis_cohort as
            select 'p' || i as patient_id, i % 2 = 0 as is_ici from range(10) as r(i);
        comment on table marts.survival_summary is 'Medians by arm.';
        comment on column marts.survival_summary.median_months is 'Median PFS, it''s in months.';
        comment on column marts.analysis_cohort.patient_id is 'Pseudonymous patient id.';
    """)
    yield path, connection
    connection.close()


def _run_info(index: int) -> pd.DataFrame:
    run_id = run_id_for(START + timedelta(minutes=index))
    return pd.DataFrame([{"run_id": run_id, "dbt_invocation_id": f"invocation-{index}",
                          "input_fingerprint": "abc"}])


def _publish(connection, path: Path, index: int, keep_versions: int = 3) -> pd.DataFrame:
    return publish_version(connection, aggregate_tables=AGGREGATE,
                           restricted_tables=PATIENT_LEVEL, run_info=_run_info(index),
                           layout=PublishedLayout.beside(path), keep_versions=keep_versions)


def _assert_complete(version: Path, run_id: str) -> None:
    """Every file of a version is there and names the same run."""
    with duckdb.connect(str(version / "rwe_results.duckdb"), read_only=True) as reader:
        tables = {row[0] for row in reader.sql(
            "select table_name from duckdb_tables()").fetchall()}
        assert tables == {"survival_summary", "run_info"}
        assert reader.sql("select run_id from run_info").fetchall() == [(run_id,)]
        assert reader.sql("select count(*) from survival_summary").fetchall() == [(2,)]
    assert sorted(path.name for path in (version / "parquet").iterdir()) == [
        "run_info.parquet", "survival_summary.parquet"]
    assert duckdb.sql(f"select run_id from '{version}/parquet/run_info.parquet'").fetchall() == [
        (run_id,)]
    restricted = version / "restricted" / "rwe_patient_level.duckdb"
    with duckdb.connect(str(restricted), read_only=True) as reader:
        assert reader.sql("select count(*) from analysis_cohort").fetchall() == [(10,)]
        assert reader.sql("select run_id from run_info").fetchall() == [(run_id,)]


def test_a_version_holds_aggregates_for_bi_and_patient_level_tables_apart(warehouse):
    path, connection = warehouse
    published = _publish(connection, path, 0)
    run_id = _run_info(0)["run_id"].iloc[0]
    publish_dir = path.parent / "published"
    assert os.readlink(publish_dir / "current") == f"versions/{run_id}"  # relative: movable
    version = current_version(publish_dir)
    assert version == (publish_dir / "versions" / run_id).resolve()
    _assert_complete(version, run_id)
    # BI's copy has no patient-level table, in DuckDB or Parquet.
    assert not (version / "parquet" / "analysis_cohort.parquet").exists()
    # The patient-level file is the owner's only.
    restricted = version / "restricted"
    assert stat.S_IMODE(restricted.stat().st_mode) == 0o700
    assert stat.S_IMODE((restricted / "rwe_patient_level.duckdb").stat().st_mode) == 0o600
    assert sorted(os.listdir(restricted)) == ["rwe_patient_level.duckdb"]
    assert set(zip(published["access_level"], published["table_name"], strict=True)) == {
        ("aggregate", "survival_summary"), ("aggregate", "run_info"),
        ("restricted", "analysis_cohort"), ("restricted", "run_info")}
    assert all(str(version) in value for value in published["published_database"])


def test_published_tables_keep_their_table_and_column_comments(warehouse):
    path, connection = warehouse
    _publish(connection, path, 0)
    version = current_version(path.parent / "published")

    def comments(database: Path, table: str) -> dict:
        with duckdb.connect(str(database), read_only=True) as reader:
            found = {None: reader.sql("select comment from duckdb_tables() where table_name = ?",
                                      params=[table]).fetchall()[0][0]}
            found.update(reader.sql("select column_name, comment from duckdb_columns() "
                                    "where table_name = ?", params=[table]).fetchall())
        return found

    summary = comments(version / "rwe_results.duckdb", "survival_summary")
    assert summary[None] == "Medians by arm."
    assert summary["median_months"] == "Median PFS, it's in months."
    assert all(comments(version / "rwe_results.duckdb", "run_info").values())
    cohort = comments(version / "restricted" / "rwe_patient_level.duckdb", "analysis_cohort")
    assert cohort["patient_id"] == "Pseudonymous patient id."


def test_newest_versions_are_kept_and_older_ones_removed(warehouse):
    path, connection = warehouse
    for index in range(5):
        _publish(connection, path, index, keep_versions=3)
    versions_dir = path.parent / "published" / "versions"
    assert sorted(os.listdir(versions_dir)) == [_run_info(i)["run_id"].iloc[0] for i in (2, 3, 4)]
    assert current_version(path.parent / "published").name == _run_info(4)["run_id"].iloc[0]


def test_the_current_version_is_never_removed(warehouse):
    path, connection = warehouse
    layout = PublishedLayout.beside(path)
    for index in range(3):
        _publish(connection, path, index)
    oldest, _, newest = (_run_info(i)["run_id"].iloc[0] for i in range(3))
    # Someone rolled current back to the oldest version by hand.
    os.remove(layout.current)
    os.symlink(f"versions/{oldest}", layout.current)
    publish._remove_old_versions(layout, keep_versions=1)
    assert sorted(os.listdir(layout.versions_dir)) == [oldest, newest]
    assert current_version(layout.publish_dir).name == oldest


def test_leftovers_are_removed_but_not_those_of_another_warehouse_in_the_folder(warehouse):
    path, connection = warehouse
    versions_dir = path.parent / "published" / "versions"
    versions_dir.mkdir(parents=True)
    mine = [versions_dir / ".rwe.duckdb.run_20200101T000000_000000Z.tmp",
            path.parent / "published" / ".current.rwe.duckdb.999.tmp"]
    theirs = [versions_dir / ".other.duckdb.run_20200101T000000_000000Z.tmp",
              path.parent / "published" / ".current.other.duckdb.999.tmp"]
    for leftover in (mine[0], theirs[0]):
        leftover.mkdir()
    for leftover in (mine[1], theirs[1]):
        os.symlink("versions/nowhere", leftover)
    _publish(connection, path, 0)
    assert not any(os.path.lexists(leftover) for leftover in mine)
    assert all(os.path.lexists(leftover) for leftover in theirs)


def test_the_single_copy_layout_of_earlier_releases_is_removed(warehouse):
    path, connection = warehouse
    publish_dir = path.parent / "published"
    (publish_dir / "parquet").mkdir(parents=True)
    (publish_dir / "parquet" / "analysis_cohort.parquet").write_bytes(b"PAR1")
    (publish_dir / "rwe_results.duckdb").write_bytes(b"old")
    (publish_dir / "report.html").write_text("<p>rendered from some version</p>")
    _publish(connection, path, 0)
    assert sorted(os.listdir(publish_dir)) == ["current", "versions"]


def test_files_made_from_a_version_are_in_it_before_it_becomes_current(warehouse):
    path, connection = warehouse
    layout = PublishedLayout.beside(path)
    _publish(connection, path, 0)
    previous = current_version(layout.publish_dir)
    seen = []

    def add_summary(version: Path) -> None:
        # Made from the new version's own database, while current is still the old one.
        seen.append(current_version(layout.publish_dir))
        with duckdb.connect(str(version / "rwe_results.duckdb"), read_only=True) as reader:
            run_id = reader.sql("select run_id from run_info").fetchall()[0][0]
        (version / "summary.txt").write_text(run_id)

    publish_version(connection, aggregate_tables=AGGREGATE, restricted_tables=PATIENT_LEVEL,
                    run_info=_run_info(1), layout=layout, add_to_version=add_summary)
    assert seen == [previous]
    version = current_version(layout.publish_dir)
    assert (version / "summary.txt").read_text() == version.name == _run_info(1)["run_id"].iloc[0]

    def broken(version: Path) -> None:
        raise RuntimeError("the report could not be rendered")

    with pytest.raises(RuntimeError, match="could not be rendered"):
        publish_version(connection, aggregate_tables=AGGREGATE, restricted_tables=PATIENT_LEVEL,
                        run_info=_run_info(2), layout=layout, add_to_version=broken)
    assert current_version(layout.publish_dir) == version  # a failed addition publishes nothing
    assert not (layout.versions_dir / _run_info(2)["run_id"].iloc[0]).exists()


class Interrupted(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no cleanup in except blocks."""


def test_a_publish_interrupted_at_any_step_leaves_current_on_a_complete_version(
        warehouse, monkeypatch):
    path, connection = warehouse
    publish_dir = path.parent / "published"
    _publish(connection, path, 0)
    # Every step of a publish that touches the disk, in order.
    steps = {"_write_database": publish._write_database, "_fsync": publish._fsync,
             "rename": os.rename, "symlink": os.symlink, "replace": os.replace}
    calls: list[str] = []

    def counting(name, function, stop_at):
        def wrapper(*args, **kwargs):
            calls.append(name)
            if len(calls) == stop_at:
                raise Interrupted(name)
            return function(*args, **kwargs)
        return wrapper

    def run(index: int, stop_at: int | None) -> None:
        calls.clear()
        with monkeypatch.context() as patch:
            for name, function in steps.items():
                target = publish if name.startswith("_") else publish.os
                patch.setattr(target, name, counting(name, function, stop_at))
            _publish(connection, path, index)

    run(1, None)
    total = len(calls)
    assert {"_write_database", "_fsync", "rename", "symlink", "replace"} <= set(calls)
    published_ids = [_run_info(i)["run_id"].iloc[0] for i in (0, 1)]
    for stop_at in range(1, total + 1):
        index = 1 + stop_at
        try:
            connection.execute("detach if exists published_aggregate")
            connection.execute("detach if exists published_restricted")
            run(index, stop_at)
        except Interrupted:
            pass
        version = current_version(publish_dir)
        assert version is not None and version.name in published_ids + [
            _run_info(index)["run_id"].iloc[0]], stop_at
        _assert_complete(version, version.name)
        if version.name == _run_info(index)["run_id"].iloc[0]:
            published_ids.append(version.name)
    # The next publish clears what the interrupted ones left.
    connection.execute("detach if exists published_aggregate")
    connection.execute("detach if exists published_restricted")
    _publish(connection, path, 1000)
    assert not [name for name in os.listdir(publish_dir / "versions") if name.startswith(".")]
    assert not [name for name in os.listdir(publish_dir) if name.startswith(".")]


def test_run_ids_are_version_names_to_the_microsecond():
    run_id = run_id_for(START)
    assert run_id == "run_20240630T120000_123456Z"
    assert publish.VERSION_NAME.fullmatch(run_id)


def test_the_code_fingerprint_covers_seeds_and_code_but_not_caches(tmp_path):
    (tmp_path / "seeds" / "terminology").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    seed = tmp_path / "seeds" / "terminology" / "terminology__drugs.csv"
    seed.write_text("code,class\nA,ici\n")
    (tmp_path / "models" / "m.sql").write_text("select 1\n")
    before = code_fingerprint(tmp_path)
    (tmp_path / "models" / "__pycache__").mkdir()
    (tmp_path / "models" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "models" / ".m.sql.swp").write_bytes(b"\0")
    assert code_fingerprint(tmp_path) == before
    seed.write_text("code,class\nA,non-ici\n")
    assert code_fingerprint(tmp_path) != before


def test_a_table_that_fails_mid_file_leaves_current_and_the_connection_usable(warehouse):
    """Each published file is written in one transaction: a statement that fails
    inside it (here a missing table after a written one) rolls it back and
    detaches the file, so current stays where it was and the same connection
    publishes the next version."""
    path, connection = warehouse
    _publish(connection, path, 0)
    first = current_version(path.parent / "published")
    with pytest.raises(duckdb.CatalogException):
        publish_version(connection, aggregate_tables=[*AGGREGATE, "marts.no_such_table"],
                        restricted_tables=PATIENT_LEVEL, run_info=_run_info(1),
                        layout=PublishedLayout.beside(path))
    assert current_version(path.parent / "published") == first
    assert connection.sql("select count(*) from duckdb_databases() "
                          "where database_name like 'published_%'").fetchall() == [(0,)]
    _publish(connection, path, 2)
    version = current_version(path.parent / "published")
    _assert_complete(version, _run_info(2)["run_id"].iloc[0])

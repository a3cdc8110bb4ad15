"""How the build behaves as a scheduled job: reproducible, logged, and never leaves
readers with half-built or failed results (kill, failure, concurrent runs); every
attempt, killed or refused ones included, gets its audit.run_log row.

Readers open ``published/current/...``: a symlink to one complete version
directory (aggregate DuckDB file + Parquet for BI, the study report, an
owner-only patient-level file). Every check below resolves ``current`` once and
reads all of them; the BI files must open in DuckDB 1.x clients too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_harness import DBT, PROJECT_DIR, dbt_env, run_dbt
from rwe_report import write_report
from rwe_warehouse.publish import VERSION_NAME
from rwe_warehouse.warehouse_lock import Attempt, AttemptFiles, WarehouseLock

pytestmark = pytest.mark.slow

AGGREGATE_TABLES = {"covariate_balance", "km_estimates", "survival_summary", "cox_results",
                    "response_summary", "safety_summary", "subgroup_hr", "row_accounting",
                    "study_diagnostics", "rmst_estimates", "evalues", "weighting_estimates",
                    "weighted_balance", "weighted_km_estimates", "subgroup_balance",
                    "center_heterogeneity", "censoring_reasons", "line_derivation_agreement",
                    "study_specs", "run_info"}
PATIENT_LEVEL_TABLES = {"analysis_cohort", "matched_cohort", "adverse_events", "ps_scores",
                        "ps_weights", "matched_pairs", "quarantine", "dq_results", "run_info"}
# Columns that legitimately differ between two builds of the same inputs. The
# code fingerprint is not an input these tests hold fixed: the working tree
# may change between two builds of one test run.
RUN_SPECIFIC = {"built_at", "run_id", "dbt_invocation_id", "code_fingerprint"}


def _current(workdir: Path) -> Path:
    """The version directory ``published/current`` resolves to (complete, checked)."""
    link = workdir / "published" / "current"
    assert link.is_symlink(), f"{link} is not a symlink"
    version = link.resolve()
    assert version.parent == (workdir / "published" / "versions").resolve()
    assert VERSION_NAME.fullmatch(version.name), version
    restricted = version / "restricted"
    assert stat.S_IMODE(restricted.stat().st_mode) == 0o700
    assert stat.S_IMODE((restricted / "rwe_patient_level.duckdb").stat().st_mode) == 0o600
    return version


def _frames(connection, sources: dict[str, str]) -> dict[str, pd.DataFrame]:
    frames = {}
    for name, source in sources.items():
        frame = connection.sql(f"select * from {source}").df()
        frame = frame.drop(columns=[c for c in frame.columns if c in RUN_SPECIFIC])
        frames[name] = frame.sort_values(list(frame.columns), ignore_index=True)
    return frames


def _database_tables(database: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(database), read_only=True) as connection:
        names = [row[0] for row in connection.sql(
            "select table_name from information_schema.tables order by table_name").fetchall()]
        # one run_info row per study, every one naming the version's build
        run_ids = connection.sql("select distinct run_id from run_info").fetchall()
        assert run_ids == [(database.parent.name if database.parent.name != "restricted"
                            else database.parent.parent.name,)]
        return _frames(connection, {name: f'"{name}"' for name in names})


def _published(workdir: Path) -> dict[str, pd.DataFrame]:
    """Every published table of the current version: aggregate DuckDB (checked to
    equal its Parquet copy) and patient-level DuckDB (keys ``restricted.<table>``)."""
    version = _current(workdir)
    aggregate = _database_tables(version / "rwe_results.duckdb")
    assert aggregate.keys() == AGGREGATE_TABLES
    parquet_files = {path.stem: path for path in (version / "parquet").glob("*.parquet")}
    assert parquet_files.keys() == AGGREGATE_TABLES
    with duckdb.connect() as connection:
        parquet = _frames(connection, {name: f"read_parquet('{path}')"
                                       for name, path in parquet_files.items()})
    for name in aggregate:
        pd.testing.assert_frame_equal(parquet[name], aggregate[name], obj=f"{name}.parquet")
    restricted = _database_tables(version / "restricted" / "rwe_patient_level.duckdb")
    assert restricted.keys() == PATIENT_LEVEL_TABLES
    return {**aggregate, **{f"restricted.{name}": frame for name, frame in restricted.items()}}


def _assert_same(now: dict[str, pd.DataFrame], reference: dict[str, pd.DataFrame],
                 what: str) -> None:
    assert now.keys() == reference.keys(), what
    for name in reference:
        pd.testing.assert_frame_equal(now[name], reference[name], obj=f"{name} {what}")


def _digest(version: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(version.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(version)).encode() + path.read_bytes())
    return digest.hexdigest()


def _run_log(workdir: Path) -> pd.DataFrame:
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql("select * from audit.run_log order by run_started_at").df()


def _attempt_files(workdir: Path) -> AttemptFiles:
    return AttemptFiles((workdir / "warehouse.duckdb").resolve())


def _popen_build(workdir: Path, select: str | None = None) -> subprocess.Popen:
    env = dbt_env(workdir / "warehouse.duckdb", partial_parse=True)
    command = [str(DBT), "build", "--target-path", str(workdir / f"target-{time.monotonic_ns()}"),
               "--log-path", str(workdir / "logs")]
    if select:
        command += ["--select", select]
    return subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


@pytest.fixture(scope="module")
def good_build(tmp_path_factory, embedded_build) -> Path:
    """A warehouse with one good build and its published version: a copy of
    the session's embedded build (the published ``current`` link is relative)."""
    workdir = tmp_path_factory.mktemp("operations")
    source = embedded_build.warehouse.parent
    shutil.copy2(embedded_build.warehouse, workdir / "warehouse.duckdb")
    shutil.copytree(source / "published", workdir / "published", symlinks=True)
    _current(workdir)
    return workdir


def test_a_build_publishes_aggregates_for_bi_and_patient_level_tables_apart(good_build):
    published = _published(good_build)
    assert {"analysis_cohort", "matched_pairs", "quarantine"}.isdisjoint(
        name for name in published if not name.startswith("restricted."))
    # one row per study, all naming this build
    # (_database_tables checked that every row names this version's build)
    assert sorted(published["run_info"]["study_id"]) == sorted(published["study_specs"]["study_id"])
    assert published["run_info"]["input_fingerprint"].notna().all()
    assert len(published["restricted.analysis_cohort"]) > 0


def test_published_columns_keep_their_descriptions(good_build):
    version = _current(good_build)
    query = ("select comment from duckdb_columns() where table_name = ? and column_name = ?")
    with duckdb.connect(str(good_build / "warehouse.duckdb"), read_only=True) as connection:
        expected = connection.execute(
            "select comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'cox_results' and column_name = 'hr'").fetchall()
    assert expected and expected[0][0], "persist_docs wrote no comment to the warehouse"
    with duckdb.connect(str(version / "rwe_results.duckdb"), read_only=True) as connection:
        assert connection.execute(query, ["cox_results", "hr"]).fetchall() == expected
        table = connection.execute(
            "select comment from duckdb_tables() where table_name = 'cox_results'").fetchall()
        assert table[0][0]
    restricted = version / "restricted" / "rwe_patient_level.duckdb"
    with duckdb.connect(str(restricted), read_only=True) as connection:
        assert connection.execute(query, ["analysis_cohort", "patient_id"]).fetchall()[0][0]


def test_the_run_log_names_the_build_its_vars_row_counts_and_fingerprints(good_build):
    last = _run_log(good_build).iloc[-1]
    version = _current(good_build)
    assert last["status"] == "success" and pd.isna(last["failure_reason"])
    assert last["run_id"] == version.name  # the run id names the published version
    with duckdb.connect(str(version / "rwe_results.duckdb"), read_only=True) as connection:
        info = connection.sql("select * from run_info").df().iloc[0]
    assert info["dbt_invocation_id"] == last["dbt_invocation_id"]
    assert info["code_fingerprint"] == last["code_fingerprint"]
    assert info["input_fingerprint"] == last["input_fingerprint"]
    assert json.loads(last["study_vars"]).keys() == {
        "study_window_start_date", "study_window_end_date", "data_cutoff_date",
        "line_gap_days", "raw_data_dir", "raw_file_format"}
    counts = json.loads(last["published_row_counts"])
    assert counts.keys() == (AGGREGATE_TABLES | PATIENT_LEVEL_TABLES) - {"run_info"}
    # cohort_patients: the accounting study's; study_cohort_patients: every study's
    per_study = dict(part.split("=") for part in last["study_cohort_patients"].split("; "))
    patients = {study: int(text.split(" ")[0]) for study, text in per_study.items()}
    assert json.loads(last["studies"]).keys() == patients.keys()
    assert counts["analysis_cohort"] == sum(patients.values())
    assert last["cohort_patients"] == patients["zhang2025_second_line_ici"] > 0


def test_a_failed_build_leaves_the_published_results_untouched(good_build):
    version = _current(good_build)
    digest = _digest(version)
    # A cut-off before some second-line starts makes follow-up negative: a data
    # test fails, so nothing downstream (statistics, publication) may run.
    run = run_dbt(["build"], good_build, extra_vars={"data_cutoff_date": "2020-01-01"})
    assert run.returncode != 0
    assert "non_negative" in run.output
    assert _current(good_build) == version
    assert _digest(version) == digest
    last = _run_log(good_build).iloc[-1]
    assert last["status"] == "failed"
    assert "non_negative" in last["failure_reason"]
    # analysis_cohort was skipped: its table is the previous build's, not this one's.
    assert pd.isna(last["cohort_patients"])
    assert "analysis_cohort" not in json.loads(last["published_row_counts"] or "{}")
    assert json.loads(last["study_vars"])["data_cutoff_date"] == "2020-01-01"


def test_a_broken_export_stops_the_build_and_is_logged_with_the_reason(good_build, tmp_path):
    version = _current(good_build)
    raw = tmp_path / "raw"
    shutil.copytree(PROJECT_DIR / "data" / "raw", raw)
    (raw / "center_b" / "patients.csv").write_text("")
    logged = len(_run_log(good_build))
    run = run_dbt(["build"], good_build, raw_data_dir=raw)
    assert run.returncode != 0
    assert "the export is empty" in run.output
    assert _current(good_build) == version
    log = _run_log(good_build)
    assert len(log) == logged + 1
    last = log.iloc[-1]
    assert last["status"] == "failed"
    assert "center 'center_b', table 'patients'" in last["failure_reason"]
    assert "the export is empty" in last["failure_reason"]
    assert json.loads(last["study_vars"])["raw_data_dir"] == str(raw)
    assert pd.isna(last["input_fingerprint"]) and pd.isna(last["cohort_patients"])


def test_a_raw_data_dir_that_would_break_the_reader_sql_stops_the_build(good_build, tmp_path):
    raw = tmp_path / "center's exports"
    shutil.copytree(PROJECT_DIR / "data" / "raw", raw)
    run = run_dbt(["build"], good_build, raw_data_dir=raw)
    assert run.returncode != 0
    assert """var raw_data_dir contains "'\"""" in run.output, run.output[-3000:]
    last = _run_log(good_build).iloc[-1]
    assert last["status"] == "failed" and "raw_data_dir" in last["failure_reason"]


#: Kill points in the first phases of a build, as (seconds, counted from):
#: parsing (from the start), then the raw-export gate and the SQL models (from
#: the moment the build holds the warehouse, so a slow machine still kills it
#: there). A fourth kill lands in publication itself (see _kill_while_publishing).
KILL_POINTS = ((3.0, "start"), (1.0, "warehouse"), (6.0, "warehouse"))


def _wait_until_it_holds_the_warehouse(workdir: Path, process: subprocess.Popen) -> None:
    files, deadline = _attempt_files(workdir), time.monotonic() + 600
    while (holder := files.read()[0]) is None or holder.pid != process.pid:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.05)


def _kill_while_publishing(workdir: Path) -> str:
    """SIGKILL a build as soon as it starts writing the new version.

    Only the publication model is built (its inputs are the tables of the
    builds before), which reaches publication in a fraction of a full build.
    """
    versions = workdir / "published" / "versions"
    process = _popen_build(workdir, select="published_results")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and process.poll() is None:
        if any(path.name.startswith(".warehouse.duckdb.") for path in versions.iterdir()):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == -signal.SIGKILL, (
        f"the build ended ({process.returncode}) before it was killed in publication: "
        + output[-3000:])
    return output


def _holder_if_killed(workdir: Path, process: subprocess.Popen) -> Attempt | None:
    """The marker's holder if it is this killed build (it had opened the warehouse)."""
    holder = _attempt_files(workdir).read()[0]
    if process.returncode == -signal.SIGKILL and holder is not None and holder.pid == process.pid:
        return holder
    return None


def test_a_killed_build_leaves_published_results_readable_and_the_next_build_recovers(
        good_build):
    reference = _published(good_build)
    killed: list[Attempt] = []  # the builds killed after they had opened the warehouse
    for kill_after_seconds, counted_from in KILL_POINTS:
        process = _popen_build(good_build)
        if counted_from == "warehouse":
            _wait_until_it_holds_the_warehouse(good_build, process)
        time.sleep(kill_after_seconds)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        output = process.communicate(timeout=60)[0]
        # A build started over a killed one runs until it is killed (or ends well).
        assert process.returncode in (-signal.SIGKILL, 0), output[-4000:]
        killed += filter(None, [_holder_if_killed(good_build, process)])
        # Readers still get one complete version: the last good one, or a
        # complete new one.
        _assert_same(_published(good_build), reference,
                     f"after a kill {kill_after_seconds} s after its {counted_from}")
    output = _kill_while_publishing(good_build)
    killed.append(_attempt_files(good_build).read()[0])
    assert killed[-1].ended_at is None, output[-3000:]
    _assert_same(_published(good_build), reference, "after a kill in publication")
    versions = good_build / "published" / "versions"
    assert [path for path in versions.iterdir() if path.name.startswith(".")], (
        "the kill in publication left no partial version: it did not hit publication")
    # One build after all the kills (each killed where the one before left off)
    # recovers: it succeeds, clears the leftovers and publishes the same results.
    recovery = run_dbt(["build"], good_build)
    assert recovery.returncode == 0, recovery.output[-4000:]
    assert not [path for path in versions.iterdir() if path.name.startswith(".")]
    assert not [path for path in (good_build / "published").iterdir()
                if path.name.startswith(".")]
    assert len(list(versions.iterdir())) <= 3
    _assert_same(_published(good_build), reference, "after the recovery build")
    # Each killed attempt that had opened the warehouse has one run_log row
    # (written by the build after it, or by the recovery build), in start order.
    assert len(killed) >= 3, "the kills after the warehouse was held were not recorded"
    log = _run_log(good_build).set_index("run_id")
    for attempt in killed:
        assert log.index.tolist().count(attempt.run_id) == 1, attempt
        row = log.loc[attempt.run_id]
        assert row["status"] == "killed"
        assert f"dbt build, pid {attempt.pid} on " in row["failure_reason"]
        assert row["dbt_invocation_id"] == attempt.dbt_invocation_id
        assert row["run_started_at"] == pd.Timestamp(attempt.started_at)
        assert pd.isna(row["study_vars"]) and pd.isna(row["nodes_run"])


def test_a_second_build_is_refused_in_one_line_and_the_first_publishes(good_build):
    """Two builds of the same inputs at once: the second stops before it opens
    the warehouse, with one line naming the first; the first is undisturbed
    and publishes a new version whose tables equal the previous build's."""
    before_version = _current(good_build)
    reference = _published(good_build)
    files = _attempt_files(good_build)
    first = _popen_build(good_build)
    _wait_until_it_holds_the_warehouse(good_build, first)
    holder = files.read()[0]
    second = _popen_build(good_build)
    refused = second.communicate(timeout=600)[0]
    assert second.returncode != 0
    # dbt's error heading ("Database Error") is followed by exactly one line.
    lines = [line.strip() for line in refused.splitlines() if "holds the warehouse" in line]
    assert lines == [f"another build holds the warehouse {files.warehouse} "
                     f"({holder.describe()})"], refused[-3000:]
    for noise in ("Traceback", "IO Error", "Could not set lock", "Conflicting lock"):
        assert noise not in refused, refused[-3000:]
    assert first.poll() is None, "the first build ended before the second was refused"
    output = first.communicate(timeout=600)[0]
    assert first.returncode == 0, output[-4000:]
    assert _current(good_build) != before_version  # a new version ...
    assert _current(good_build).name == holder.run_id  # ... the first build's
    assert before_version.is_dir()  # ... and the previous one is kept
    _assert_same(_published(good_build), reference, "after two builds at once")


def test_attempts_that_wrote_no_row_are_recorded_by_the_next_build(good_build):
    """A build refused while another process holds the warehouse, and a build
    that stops on an error before its hooks run (no pseudonym key): neither can
    write its row, the next build writes both."""
    files = _attempt_files(good_build)
    other = WarehouseLock.acquire(files.warehouse, Attempt(
        run_id="run_20261205T000000_000000Z", dbt_invocation_id="not dbt", command="pytest",
        pid=os.getpid(), host="test", started_at="2026-12-05T00:00:00.000000",
        dbt_version="-", log_file="-"))
    try:
        refused = run_dbt(["build"], good_build, partial_parse=True)
    finally:
        other.release()
    assert refused.returncode != 0
    assert (f"another build holds the warehouse {files.warehouse} "
            f"(run run_20261205T000000_000000Z, pid {os.getpid()}, ") in refused.output, \
        refused.output[-3000:]
    [refused_file] = [path for path in files.refused_files()]
    refused_attempt = Attempt(**json.loads(refused_file.read_text()))

    keyless_env = {**dbt_env(good_build / "warehouse.duckdb", partial_parse=True),
                   "RWE_PSEUDONYM_KEY": ""}
    keyless = subprocess.run(
        [str(DBT), "build", "--target-path", str(good_build / "target"),
         "--log-path", str(good_build / "logs")],
        cwd=PROJECT_DIR, env=keyless_env, capture_output=True, text=True, timeout=900)
    assert keyless.returncode != 0
    assert "RWE_PSEUDONYM_KEY is missing" in keyless.stdout + keyless.stderr
    holder, to_record = files.read()
    assert holder.ended_at is not None  # it exited, it was not killed
    assert refused_attempt.run_id in {attempt.run_id for attempt in to_record}
    assert not files.refused_files()

    # The next build records both first; here it then stops at the raw-export gate.
    quoted = good_build / "center's exports"
    shutil.copytree(PROJECT_DIR / "data" / "raw", quoted)
    # It accepts a delivery change for itself: that is no earlier attempt's.
    accepted = ["example_check"]
    stopped = run_dbt(["build"], good_build, raw_data_dir=quoted,
                      extra_vars={"accept_delivery_changes": accepted}, partial_parse=True)
    assert stopped.returncode != 0
    log = _run_log(good_build).set_index("run_id")
    row = log.loc[refused_attempt.run_id]
    assert row["status"] == "refused"
    assert row["failure_reason"].startswith(
        "another build held the warehouse (run run_20261205T000000_000000Z, "
        f"pid {os.getpid()}, started 2026-12-05 00:00:00 UTC): this one (dbt build, pid ")
    row = log.loc[holder.run_id]
    assert row["status"] == "interrupted"
    assert "without recording its outcome" in row["failure_reason"]
    assert row["dbt_invocation_id"] == holder.dbt_invocation_id
    assert log.index.tolist().count(holder.run_id) == 1
    assert log.iloc[-1]["status"] == "failed"  # the gate's own row, last
    assert json.loads(log.iloc[-1]["accepted_delivery_changes"]) == accepted
    for run_id in (refused_attempt.run_id, holder.run_id):
        assert log.loc[run_id, ["accepted_delivery_changes", "delivery_profile",
                                "delivery_breaches"]].isna().all(), run_id
    assert "run_20261205T000000_000000Z" not in log.index  # not a build: no row


def test_the_report_is_part_of_the_version_and_describes_its_tables(embedded_build, tmp_path):
    version = (embedded_build.warehouse.parent / "published" / "current").resolve()
    rendered = write_report(version / "rwe_results.duckdb", tmp_path / "report.html")
    assert (version / "report.html").read_bytes() == rendered.read_bytes()
    assert not (embedded_build.warehouse.parent / "published" / "report.html").exists()


#: Run by each DuckDB client on a published file: what a BI tool would list and
#: read (tables, comments, every row), as JSON; values as Python reprs.
DESCRIBE_DATABASE = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1], read_only=True) as connection:
    mine = "where database_name = current_database() and schema_name = 'main'"
    tables = [row[0] for row in connection.execute(
        f"select table_name from duckdb_tables() {mine} order by table_name").fetchall()]
    print(json.dumps({
        "tables": {table: [repr(row) for row in connection.execute(
            f'select * from "{table}" order by all').fetchall()] for table in tables},
        "table_comments": dict(connection.execute(
            f"select table_name, comment from duckdb_tables() {mine}").fetchall()),
        "column_comments": [list(row) for row in connection.execute(
            f"select table_name, column_name, comment from duckdb_columns() {mine} "
            f"and table_name in (select table_name from duckdb_tables() {mine}) "
            "order by table_name, column_index").fetchall()],
    }))
"""


def _describe_database(python: Path, database: Path) -> dict:
    done = subprocess.run([str(python), "-c", DESCRIBE_DATABASE, str(database)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{python}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def _bi_clients() -> list[Path]:
    """The DuckDB 1.x clients of `make bi-clients` (each in its own cached venv)."""
    made = subprocess.run(["make", "--no-print-directory", "-s", "bi-clients"], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout + made.stderr
    return sorted(PROJECT_DIR.glob(".venv-bi-clients/duckdb-*/bin/python"))


def test_published_files_open_in_duckdb_1x_clients(embedded_build):
    version = (embedded_build.warehouse.parent / "published" / "current").resolve()
    clients = _bi_clients()
    versions = [subprocess.run([str(client), "-c", "import duckdb; print(duckdb.__version__)"],
                               capture_output=True, text=True).stdout.strip()
                for client in clients]
    assert versions and all(version.startswith("1.") for version in versions), versions
    for database in (version / "rwe_results.duckdb",
                     version / "restricted" / "rwe_patient_level.duckdb"):
        expected = _describe_database(Path(sys.executable), database)
        assert "run_info" in expected["tables"] and any(
            comment for _, _, comment in expected["column_comments"])
        for client, client_version in zip(clients, versions, strict=True):
            assert _describe_database(client, database) == expected, (client_version, database)

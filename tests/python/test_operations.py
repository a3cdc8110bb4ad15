"""How the build behaves as a scheduled job: reproducible, and never leaves
readers with half-built or failed results (kill, failure, concurrent runs)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_harness import DBT, PROJECT_DIR, TEST_PSEUDONYM_KEY, run_dbt

pytestmark = pytest.mark.slow

# Columns that legitimately differ between two builds of the same inputs.
RUN_SPECIFIC = {"built_at", "published_database", "published_parquet"}


def _published(workdir: Path) -> Path:
    return workdir / "published" / "rwe_results.duckdb"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(database: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(database), read_only=True) as connection:
        names = [row[0] for row in connection.sql(
            "select table_name from information_schema.tables order by table_name").fetchall()]
        frames = {}
        for name in names:
            frame = connection.sql(f'select * from "{name}"').df()
            frame = frame.drop(columns=[c for c in frame.columns if c in RUN_SPECIFIC])
            frames[name] = frame.sort_values(list(frame.columns), ignore_index=True)
        return frames


def _popen_build(workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "RWE_WAREHOUSE_PATH": str(workdir / "warehouse.duckdb"),
           "RWE_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.Popen(
        [str(DBT), "build", "--target-path", str(workdir / f"target-{time.monotonic_ns()}"),
         "--log-path", str(workdir / "logs")],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


@pytest.fixture(scope="module")
def good_build(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("operations")
    run = run_dbt(["build"], workdir)
    assert run.returncode == 0, run.output[-4000:]
    assert _published(workdir).exists()
    return workdir


def test_rebuilding_the_same_inputs_gives_identical_result_tables(good_build):
    before = _tables(_published(good_build))
    assert run_dbt(["build"], good_build).returncode == 0
    after = _tables(_published(good_build))
    assert before.keys() == after.keys()
    assert {"analysis_cohort", "matched_pairs", "cox_results", "km_estimates"} <= before.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


def test_a_failed_build_leaves_the_published_results_untouched(good_build):
    digest = _digest(_published(good_build))
    # A cut-off before some second-line starts makes follow-up negative: a data
    # test fails, so nothing downstream (statistics, publication) may run.
    run = run_dbt(["build"], good_build, extra_vars={"data_cutoff_date": "2020-01-01"})
    assert run.returncode != 0
    assert "non_negative" in run.output
    assert _digest(_published(good_build)) == digest
    with duckdb.connect(str(good_build / "warehouse.duckdb"), read_only=True) as connection:
        last = connection.sql(
            "select status from audit.run_log order by run_started_at desc limit 1").fetchall()
    assert last == [("failed",)]


#: Kill points in seconds after start, one per phase of a ~20 s build: parsing
#: and the raw-export gate, the SQL models, the Python models and publication.
KILL_POINTS = (3.0, 9.0, 15.0)


def test_a_killed_build_leaves_published_results_readable_and_the_next_build_recovers(
        good_build):
    published = _published(good_build)
    reference = _tables(published)
    for kill_after_seconds in KILL_POINTS:
        process = _popen_build(good_build)
        time.sleep(kill_after_seconds)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        output = process.communicate(timeout=60)[0]
        # A build started over a killed one runs until it is killed (or ends well).
        assert process.returncode in (-signal.SIGKILL, 0), output[-4000:]
        # Readers still get a complete, consistent copy: the last good one or a
        # complete new one (a rename is atomic), never a torn file.
        now = _tables(published)
        assert now.keys() == reference.keys(), kill_after_seconds
        for name in reference:
            pd.testing.assert_frame_equal(now[name], reference[name],
                                          obj=f"{name} after a kill at {kill_after_seconds} s")
    # One build after all the kills (each killed where the one before left off)
    # recovers: it succeeds, clears the leftovers and publishes the same results.
    recovery = run_dbt(["build"], good_build)
    assert recovery.returncode == 0, recovery.output[-4000:]
    assert not list(published.parent.glob(".*.tmp"))
    recovered = _tables(published)
    for name in reference:
        pd.testing.assert_frame_equal(recovered[name], reference[name], obj=name)


def test_two_builds_at_once_do_not_corrupt_anything(good_build):
    reference = _tables(_published(good_build))
    first, second = _popen_build(good_build), _popen_build(good_build)
    outputs = [process.communicate(timeout=600)[0] for process in (first, second)]
    codes = [first.returncode, second.returncode]
    assert 0 in codes, outputs
    for code, output in zip(codes, outputs, strict=True):
        if code != 0:  # the loser fails loudly on the warehouse lock
            assert "lock" in output.lower(), output[-3000:]
    now = _tables(_published(good_build))
    for name in reference:
        pd.testing.assert_frame_equal(now[name], reference[name], obj=name)
    assert json.dumps(sorted(now)) == json.dumps(sorted(reference))

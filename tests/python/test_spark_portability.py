"""Portability: the SQL layer built on Apache Spark equals the one built on DuckDB.

Spark (dbt-spark, method: session, from the separate .venv-spark) builds the seeds,
the staging, intermediate and marts SQL models and their data tests from the raw
exports loaded as tables (portability/spark_check.py). DuckDB builds the same
selection from the files in place. With the same pseudonym key, the published
SQL marts must be equal row for row (floats within 1e-9).

Marked ``spark``: not part of the default run (``pytest -m "not spark"``); run it
with ``make test-spark`` or ``portability/run_spark_check.sh``. Selected that way,
a Spark that cannot start is a failure, not a skip. Run without a marker
expression that selects ``spark`` (a bare ``pytest``), it skips, so a default run
never spends minutes setting up Spark.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from study_harness import REFERENCE_STUDY

from dbt_harness import PROJECT_DIR, TEST_PSEUDONYM_KEY, run_dbt

pytestmark = pytest.mark.spark

RUN_SCRIPT = PROJECT_DIR / "portability" / "run_spark_check.sh"


def _spark_check_module():
    """portability/spark_check.py (it imports nothing outside this venv at load time)."""
    path = PROJECT_DIR / "portability" / "spark_check.py"
    spec = importlib.util.spec_from_file_location("spark_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The selection Spark builds: DuckDB builds the same one here.
SQL_LAYER = _spark_check_module().BUILD_SELECTION
TABLES = {
    # published table: columns that identify a row
    "analysis_cohort": ["patient_id"],
    "adverse_events": ["patient_id", "ae_term"],
    "quarantine": ["center_id", "source_table", "source_row_number"],
    "row_accounting": ["center_id", "source_table", "row_status", "reason"],
}
FLOAT_TOLERANCE = 1e-9


def _spark_selected(config: pytest.Config) -> bool:
    expression = config.getoption("markexpr") or ""
    selected = "spark" in expression.replace("not spark", "")
    return selected or os.environ.get("RWE_SPARK_CHECK") == "1"


@pytest.fixture(scope="module")
def spark_build(request, tmp_path_factory) -> dict:
    if not _spark_selected(request.config):
        pytest.skip("the Spark check runs only when selected: pytest -m spark (make test-spark)")
    work_dir = tmp_path_factory.mktemp("spark")
    env = {**os.environ, "RWE_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY}
    completed = subprocess.run(
        [str(RUN_SCRIPT), "--build-only", str(work_dir)], cwd=PROJECT_DIR, env=env,
        capture_output=True, text=True, timeout=1800)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"Spark build failed:\n{output[-8000:]}"
    summary = json.loads((work_dir / "summary.json").read_text(encoding="utf-8"))
    summary["results_dir"] = work_dir / "results"
    return summary


@pytest.fixture(scope="module")
def duckdb_build(spark_build, tmp_path_factory):
    run = run_dbt(["build", *SQL_LAYER], tmp_path_factory.mktemp("duckdb"))
    assert run.returncode == 0, run.output[-6000:]
    return run


def _spark_table(summary: dict, table: str) -> pd.DataFrame:
    files = Path(summary["results_dir"]) / table / "*.parquet"
    with duckdb.connect() as connection:
        return connection.sql(f"select * from read_parquet('{files}')").df()


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    order = keys + [column for column in frame.columns if column not in keys]
    return frame.sort_values(order, na_position="first", kind="mergesort").reset_index(drop=True)


def test_every_sql_node_passes_on_spark(spark_build):
    assert spark_build["success"], spark_build
    statuses = spark_build["dbt_build"]["statuses"]
    # an exposure (a declared reader of the marts) runs no SQL: dbt reports it as no-op
    assert set(statuses.pop("exposure", {})) <= {"no-op"}, statuses
    assert {status for of_type in statuses.values() for status in of_type} <= {"success", "pass"}, (
        statuses)
    assert statuses["model"].get("success", 0) > 0 and statuses["test"].get("pass", 0) > 0, (
        statuses)


def test_spark_cohort_has_the_study_counts(spark_build):
    cohort = _spark_table(spark_build, "analysis_cohort")
    reference = cohort[cohort["study_id"] == REFERENCE_STUDY]
    assert len(reference) == 496
    assert reference["arm"].value_counts().to_dict() == {"non-ICI": 296, "ICI": 200}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_spark_table_equals_duckdb_table(spark_build, duckdb_build, table):
    keys = TABLES[table]
    on_spark = _sorted(_spark_table(spark_build, table), keys)
    on_duckdb = _sorted(duckdb_build.frame(f"select * from marts.{table}"), keys)
    assert list(on_spark.columns) == list(on_duckdb.columns)
    assert len(on_spark) == len(on_duckdb) > 0
    # Types are compared by kind (Spark int vs DuckDB integer may differ in width
    # once in pandas); values exactly, floats within FLOAT_TOLERANCE.
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, check_exact=False,
                                  rtol=0, atol=FLOAT_TOLERANCE)
    for column in on_duckdb.columns:
        kinds = {on_spark[column].dtype.kind, on_duckdb[column].dtype.kind}
        assert len(kinds) == 1 or kinds <= {"i", "u", "f"}, (
            f"{table}.{column}: {on_spark[column].dtype} on Spark, "
            f"{on_duckdb[column].dtype} on DuckDB")

"""The project's generic data tests (tests/dbt/generic) on column names the
embedded project does not have: quoted, mixed-case, with quotes inside, a
reserved word. A small fixture project uses the project's own test file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import duckdb

from dbt_harness import DBT, PROJECT_DIR

GENERIC = PROJECT_DIR / "tests" / "dbt" / "generic" / "not_null_columns.sql"

#: Columns as the fixture's model names them (DuckDB keeps their case) and as
#: the test lists them (quoted where the engine needs it); MixedCase twice,
#: quoted and not, both naming one column.
COLUMNS = ['"Patient ID"', '"MixedCase"', "MixedCase", '"it\'s"', '"order"', '"Line""No"',
           "lower_name"]
MODEL = """
select 1 as "Patient ID", cast(null as integer) as "MixedCase", cast(null as integer) as "it's",
       2 as "order", cast(null as integer) as "Line""No", 3 as lower_name
union all
select 2, 5, null, null, null, null
"""


def _fixture(root, model_sql: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "tests" / "generic").mkdir(parents=True)
    shutil.copy2(GENERIC, root / "tests" / "generic" / GENERIC.name)
    (root / "dbt_project.yml").write_text(
        "name: generic_fixture\nversion: '1.0'\nconfig-version: 2\nprofile: generic_fixture\n"
        "model-paths: [models]\ntest-paths: [tests]\n")
    (root / "profiles.yml").write_text(
        "generic_fixture:\n  target: dev\n  outputs:\n"
        f"    dev: {{type: duckdb, path: '{root / 'fixture.duckdb'}', threads: 1}}\n")
    (root / "models" / "odd_names.sql").write_text(model_sql)
    (root / "models" / "odd_names.yml").write_text(
        "version: 2\nmodels:\n  - name: odd_names\n    data_tests:\n"
        "      - not_null_columns:\n          arguments:\n"
        f"            columns: {json.dumps(COLUMNS)}\n")


def _build(root) -> tuple[int, dict, str]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run([str(DBT), "build", "--store-failures", "--project-dir", str(root),
                           "--profiles-dir", str(root)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    results = json.loads((root / "target" / "run_results.json").read_text())
    [test] = [result for result in results["results"]
              if result["unique_id"].startswith("test.generic_fixture.not_null_columns_")]
    return done.returncode, test, done.stdout + done.stderr


def test_not_null_columns_counts_nulls_of_quoted_and_mixed_case_columns(tmp_path):
    _fixture(tmp_path, MODEL)
    returncode, test, output = _build(tmp_path)
    # What the test must report, counted here column by column.
    with duckdb.connect() as connection:
        connection.execute(f"create table odd_names as {MODEL}")
        expected = {column: connection.sql(
            f"select count(*) - count({column}) from odd_names").fetchall()[0][0]
            for column in COLUMNS}
    expected = {column: rows for column, rows in expected.items() if rows}
    assert returncode != 0 and test["status"] == "fail", output[-4000:]
    assert test["failures"] == sum(expected.values()), output[-4000:]
    with duckdb.connect(str(tmp_path / "fixture.duckdb"), read_only=True) as connection:
        [(schema, table)] = connection.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_name like 'not_null_columns%'").fetchall()
        reported = dict(connection.sql(
            f'select column_name, null_rows from "{schema}"."{table}"').fetchall())
    assert reported == expected


def test_not_null_columns_passes_when_those_columns_are_filled(tmp_path):
    _fixture(tmp_path, MODEL.split("union all")[0].replace("cast(null as integer)", "7"))
    returncode, test, output = _build(tmp_path)
    assert returncode == 0 and test["status"] == "pass", output[-4000:]

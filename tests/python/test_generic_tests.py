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


def test_a_direct_identifier_column_in_any_built_relation_fails_the_identifier_check(tmp_path):
    """assert_no_direct_identifiers_in_the_warehouse (tests/dbt/singular) finds a
    column a center's mapping lists as a direct identifier (center A: mrn) in
    any relation the project builds, whatever its case, and names the
    relation and column. The clean relations beside it are not named."""
    from dbt_harness import copy_project, dbt_env

    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    (project / "models" / "marts" / "leaky_table.sql").write_text(
        'select 1 as patient_count, \'x\' as "MRN"\n')
    (project / "models" / "marts" / "clean_table.sql").write_text("select 1 as patient_count\n")
    warehouse = tmp_path / "warehouse.duckdb"
    common = ["--project-dir", str(project), "--profiles-dir", str(project),
              "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
              "--vars", json.dumps({"raw_data_dir": str(PROJECT_DIR / "data" / "raw")})]
    outputs = []
    for command in (["run", "--select", "leaky_table", "clean_table"],
                    ["test", "--select", "assert_no_direct_identifiers_in_the_warehouse",
                     "--store-failures"]):
        done = subprocess.run([str(DBT), *command, *common], cwd=project, env=dbt_env(warehouse),
                              capture_output=True, text=True, timeout=900)
        outputs.append((done.returncode, done.stdout + done.stderr))
    assert outputs[0][0] == 0, outputs[0][1][-4000:]
    assert outputs[1][0] != 0, outputs[1][1][-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(schema,)] = connection.sql(
            "select table_schema from information_schema.tables "
            "where table_name = 'assert_no_direct_identifiers_in_the_warehouse'").fetchall()
        offenders = connection.sql(
            f'select model_name, column_name from "{schema}".'
            "assert_no_direct_identifiers_in_the_warehouse").fetchall()
    assert offenders == [("leaky_table", "MRN")]

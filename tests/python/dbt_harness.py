"""Run the project's dbt commands in isolation for tests.

Every call builds into its own DuckDB file and target directory, so tests never
touch ``warehouse/`` and can run while a developer's build is open.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
# A fixed test key: pseudonyms are reproducible within the test run only.
TEST_PSEUDONYM_KEY = "pytest-pseudonym-key-0123456789abcdef"


@dataclass
class DbtRun:
    returncode: int
    output: str
    warehouse: Path

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.sql(sql).fetchall()

    def frame(self, sql: str):
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.sql(sql).df()


def dbt_env(warehouse: Path, unit_tests: bool = False, partial_parse: bool = False) -> dict:
    """The environment of a test's dbt process: its own warehouse file, the
    test key, no telemetry. dbt unit tests test the SQL logic, not the data:
    they run in one build (test_warehouse_build) and are left out of the
    others, as out of the scheduler's build."""
    env = {
        **os.environ,
        "RWE_WAREHOUSE_PATH": str(warehouse),
        "RWE_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true" if partial_parse else "false",
    }
    if not unit_tests:
        env["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test"
    return env


def run_dbt(args: list[str], workdir: Path, raw_data_dir: Path | None = None,
            extra_vars: dict | None = None, unit_tests: bool = False,
            partial_parse: bool = False) -> DbtRun:
    """Run ``dbt <args>`` from the project directory into ``workdir``.

    ``partial_parse`` lets a later command in the same ``workdir`` (same
    target, warehouse and vars) reuse this one's parse."""
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "warehouse.duckdb"
    dbt_vars = dict(extra_vars or {})
    if raw_data_dir is not None:
        dbt_vars["raw_data_dir"] = str(raw_data_dir)
    command = [str(DBT), *args, "--target-path", str(workdir / "target"),
               "--log-path", str(workdir / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    completed = subprocess.run(command, cwd=PROJECT_DIR,
                               env=dbt_env(warehouse, unit_tests, partial_parse),
                               capture_output=True, text=True, timeout=900)
    return DbtRun(completed.returncode, completed.stdout + completed.stderr, warehouse)


#: What a dbt build of the project reads: a test that edits the project works
#: on a copy of these (raw data linked or copied by the test).
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "macros", "models", "python_models", "seeds",
                 "tests", "src", "expectations", "studies")


def copy_project(root: Path) -> Path:
    """Copy the project's dbt parts (PROJECT_PARTS) under ``root``; returns ``root``."""
    for name in PROJECT_PARTS:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    return root

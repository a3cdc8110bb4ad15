"""profiles.yml: DuckDB is capped and spills to disk (RWE_DUCKDB_MEMORY_LIMIT,
RWE_DUCKDB_TEMP_DIRECTORY), on the connection dbt's models run on; a
warehouse path DuckDB would give another catalog name is refused."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_harness import DBT, PROJECT_DIR, dbt_env, run_dbt
from rwe_warehouse.attempts import RESERVED_CATALOG_NAMES

SETTINGS_SQL = ("select current_setting('memory_limit') as memory_limit, "
                "current_setting('temp_directory') as temp_directory")


def _settings(tmp_path) -> dict[str, str]:
    run = run_dbt(["show", "--inline", SETTINGS_SQL, "--output", "json"], tmp_path)
    assert run.returncode == 0, run.output[-2000:]
    shown = re.search(r'\{\s*"show":.*?\]\s*\}', run.output, re.S)
    assert shown, run.output[-2000:]
    return json.loads(shown.group(0))["show"][0]


def test_duckdb_memory_limit_and_spill_directory_come_from_the_environment(
        tmp_path, monkeypatch):
    monkeypatch.setenv("RWE_DUCKDB_MEMORY_LIMIT", "5GB")
    monkeypatch.setenv("RWE_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    assert _settings(tmp_path / "set") == {"memory_limit": "4.6 GiB",
                                           "temp_directory": str(tmp_path / "spill")}


def test_by_default_duckdb_takes_3_gb_whatever_the_machine_and_spills_beside_the_warehouse(
        tmp_path, monkeypatch):
    monkeypatch.delenv("RWE_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("RWE_DUCKDB_TEMP_DIRECTORY", raising=False)
    warehouse = tmp_path / "default" / "warehouse.duckdb"  # run_dbt's warehouse file
    # DuckDB shows 3 GB (10^9 bytes) in GiB
    assert _settings(tmp_path / "default") == {"memory_limit": "2.7 GiB",
                                               "temp_directory": f"{warehouse}.tmp"}


def test_memory_limit_and_spill_directory_are_set_once_per_connection():
    """Not under `settings`: dbt-duckdb runs those as SET on every new cursor,
    and DuckDB refuses to set temp_directory again once a query has spilled
    into it, so a memory-capped large build stopped at its next model (seen at
    1,000,000 patients with a 4 GB cap; benchmarks/NOTES.md)."""
    profile = yaml.safe_load((Path(__file__).resolve().parents[2] / "profiles.yml").read_text())
    duckdb_output = profile["rwe_warehouse"]["outputs"]["duckdb"]
    assert {"memory_limit", "temp_directory"} <= set(duckdb_output["config_options"])
    assert not {"memory_limit", "temp_directory"} & set(duckdb_output.get("settings") or {})


@pytest.mark.parametrize("name", RESERVED_CATALOG_NAMES)
def test_duckdb_renames_the_catalog_of_a_file_named_after_one_of_its_own(tmp_path, name):
    """Why the names below are refused: DuckDB calls such a file's catalog
    <name>_db, dbt-duckdb takes the file stem; an ordinary name is kept."""
    for stem, renamed in ((name, True), (name.upper(), True), ("rwe", False)):
        with duckdb.connect(str(tmp_path / f"{stem}.v1.duckdb")) as connection:
            catalog = connection.sql("select current_database()").fetchall()[0][0]
        assert (catalog != stem) is renamed, (stem, catalog)


def test_a_warehouse_file_named_main_is_refused_before_it_is_created(tmp_path):
    """A second `dbt run` into main.duckdb failed in every table model (its
    new table could not be renamed over the old one: dbt looked for the old
    one in catalog main, DuckDB had called it main_db). The build now stops
    at once, naming the problem, and creates no file."""
    warehouse = tmp_path / "main.duckdb"
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [str(DBT), "run", "--select", "study_specs", "--target-path", str(tmp_path / "target"),
             "--log-path", str(tmp_path / "logs")],
            cwd=PROJECT_DIR, env=dbt_env(warehouse), capture_output=True, text=True, timeout=600)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode != 0, outputs[-1][-3000:]
    assert all("a catalog name DuckDB keeps for itself" in output for output in outputs), \
        outputs[-1][-3000:]
    assert not warehouse.exists()

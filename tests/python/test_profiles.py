"""profiles.yml: DuckDB is capped and spills to disk (RWE_DUCKDB_MEMORY_LIMIT,
RWE_DUCKDB_TEMP_DIRECTORY), on the connection dbt's models run on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import yaml

from dbt_harness import run_dbt

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
    monkeypatch.setenv("RWE_DUCKDB_MEMORY_LIMIT", "3GB")
    monkeypatch.setenv("RWE_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    assert _settings(tmp_path / "set") == {"memory_limit": "2.7 GiB",
                                           "temp_directory": str(tmp_path / "spill")}


def test_by_default_duckdb_takes_half_the_memory_and_spills_beside_the_warehouse(
        tmp_path, monkeypatch):
    monkeypatch.delenv("RWE_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("RWE_DUCKDB_TEMP_DIRECTORY", raising=False)
    with duckdb.connect() as connection:
        connection.execute("set memory_limit = '50%'")
        half = connection.sql("select current_setting('memory_limit')").fetchall()[0][0]
    warehouse = tmp_path / "default" / "warehouse.duckdb"  # run_dbt's warehouse file
    assert _settings(tmp_path / "default") == {"memory_limit": half,
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

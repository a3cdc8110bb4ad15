"""The data-quality gate end to end: a failed critical expectation stops a real build.

In a copy of the project, the analysis_cohort suite gets a critical row-count
maximum the cohort cannot meet and a warning-level age bound it cannot meet
either. One ``dbt build`` (about 40 s on an idle machine) must then fail at
the gate: dq_results is built and records both failures,
assert_no_critical_data_quality_failures fails with one row, the critical one
(the failed warning is not part of the gate), and every statistics model and
published_results is skipped, so nothing is published.

That a warning alone leaves the gate green is shown on the gate's own SQL in
tests/python/test_quality.py (test_gate_passes_warnings_and_counts_gx_errors_as_failures):
a second build here would cost another 15 to 25 s for the same query.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_harness import DBT, PROJECT_DIR, dbt_env

pytestmark = pytest.mark.slow

#: What dbt reads: the project and profile, every path in dbt_project.yml,
#: the suites, src/ (the profile's module_paths) and the raw exports.
COPIED = ("dbt_project.yml", "profiles.yml", "models", "python_models", "macros", "seeds",
          "expectations", "tests/dbt", "src", "data/raw", "studies")
STATISTICS_MODELS = sorted(path.stem for path in (PROJECT_DIR / "python_models" /
                                                  "statistics").glob("*.py"))
GATE = "test.rwe_warehouse.assert_no_critical_data_quality_failures"
#: The suite edits: (severity, how to find the entry, kwargs it gets). The
#: generator's cohort has 496 patients, all older than 30 (35 to 86).
CRITICAL_BREAK = ("critical", {"type": "expect_table_row_count_to_be_between"},
                  {"min_value": 1, "max_value": 100})
WARNING_BREAK = ("warning", {"type": "expect_column_values_to_be_between",
                             "column": "age_years"},
                 {"column": "age_years", "min_value": 18, "max_value": 30})


@dataclass
class Build:
    returncode: int
    output: str
    statuses: dict[str, str]
    failures: dict[str, Any]


def copy_project(destination: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in COPIED:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=ignore)
        else:
            (destination / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / part)
    return destination


def break_expectation(project: Path, severity: str, match: dict[str, str],
                      kwargs: dict[str, Any]) -> int:
    """Give the one analysis_cohort expectation ``match`` finds new kwargs; its index."""
    path = project / "expectations" / "analysis_cohort.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    [index] = [index for index, entry in enumerate(suite["expectations"])
               if entry["severity"] == severity and entry["type"] == match["type"]
               and entry["kwargs"].get("column") == match.get("column")]
    suite["expectations"][index]["kwargs"] = kwargs
    path.write_text(json.dumps(suite, indent=2), encoding="utf-8")
    return index


def run_build(project: Path, warehouse: Path, *args: str) -> Build:
    env = dbt_env(warehouse)
    command = [str(DBT), "build", *args, "--project-dir", str(project),
               "--profiles-dir", str(project), "--target-path", str(project / "target"),
               "--log-path", str(project / "logs")]
    completed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                               timeout=900)
    results = json.loads((project / "target" / "run_results.json").read_text(encoding="utf-8"))
    return Build(completed.returncode, completed.stdout + completed.stderr,
                 {r["unique_id"]: r["status"] for r in results["results"]},
                 {r["unique_id"]: r["failures"] for r in results["results"]})


def dq_row(warehouse: Path, index: int) -> tuple:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(
            "select severity, success, observed_value from marts.dq_results "
            "where table_name = 'analysis_cohort' and expectation_index = ?", [index],
        ).fetchone()


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """The full build with a critical and a warning expectation broken."""
    root = tmp_path_factory.mktemp("quality_gate")
    project = copy_project(root / "project")
    warehouse = root / "warehouse" / "rwe.duckdb"
    warehouse.parent.mkdir()
    critical = break_expectation(project, *CRITICAL_BREAK)
    warning = break_expectation(project, *WARNING_BREAK)
    build = run_build(project, warehouse)
    return {"build": build, "warehouse": warehouse,
            "rows": {"critical": dq_row(warehouse, critical),
                     "warning": dq_row(warehouse, warning)}}


def test_a_failed_critical_expectation_fails_the_build(gated):
    build = gated["build"]
    assert build.returncode != 0, build.output[-4000:]
    assert build.statuses[GATE] == "fail", build.output[-4000:]
    # One row: the critical failure. The failed warning is not part of the gate.
    assert build.failures[GATE] == 1
    assert build.statuses["model.rwe_warehouse.dq_results"] == "success"
    # The gate is the only thing that failed: the build broke where it should.
    broken = {node for node, status in build.statuses.items() if status in ("error", "fail")}
    assert broken == {GATE}, build.output[-4000:]


def test_dq_results_records_both_failures(gated):
    severity, success, observed = gated["rows"]["critical"]
    assert (severity, success) == ("critical", False)
    assert json.loads(observed) > 100          # the cohort's row count
    severity, success, observed = gated["rows"]["warning"]
    assert (severity, success) == ("warning", False)
    assert json.loads(observed)["partial_unexpected_list"]   # ages over 30


def test_statistics_and_publication_are_skipped(gated):
    statuses = gated["build"].statuses
    assert len(STATISTICS_MODELS) >= 10
    for name in [*STATISTICS_MODELS, "published_results"]:
        assert statuses[f"model.rwe_warehouse.{name}"] == "skipped", name


def test_nothing_is_published_after_a_failed_gate(gated):
    """published_results writes <warehouse dir>/published/ (rwe_warehouse.publish)."""
    warehouse_dir = gated["warehouse"].parent
    assert not (warehouse_dir / "published").exists()
    assert not [path for path in warehouse_dir.rglob("*") if path != gated["warehouse"]
                and path.suffix in (".duckdb", ".parquet", ".tmp")]

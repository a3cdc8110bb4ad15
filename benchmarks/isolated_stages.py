"""Time the study's Python stages alone, one after another, on a built warehouse.

Inside ``dbt build`` two threads run Python models side by side in one
process, so a node's time includes waiting for the other thread (the GIL,
the two cores): the same ``cox_results`` took 113 s in one 1,000,000-patient
build and 165 s in the next. For the growth check, this script reruns the
functions the Python models call (``rwe_study.tables``) on the build's own
``analysis_cohort``, in one process with nothing beside it, and prints
JSON: seconds per function and per stage (PSM, KM, Cox), wall and CPU, plus
the time to load the cohort. Each function runs ``REPEATS`` times and its
median counts: at 100,000 patients a KM or PSM step takes well under a
second, and one timing of it varied by 2x between calls.

Usage: ``python benchmarks/isolated_stages.py <warehouse.duckdb> [<project dir>]``
(the project whose ``dbt_project.yml`` holds the study parameters; default:
this repository).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import duckdb
import yaml

from rwe_study import tables

PROJECT_DIR = Path(__file__).resolve().parents[1]
REPEATS = 3
STAGE_FUNCTIONS = {
    "psm": ("propensity_scores", "matched_pairs", "matched_cohort", "covariate_balance"),
    "km": ("km_estimates", "survival_summary"),
    "cox": ("cox_results", "subgroup_hr"),
}


def main(database: str, project_dir: Path = PROJECT_DIR) -> dict:
    params = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))[
        "models"]["rwe_warehouse"]["statistics"]["+meta"]
    alpha, k = params["alpha"], params["min_cell_count"]
    start = time.perf_counter()
    with duckdb.connect(database, read_only=True) as con:
        cohort = con.sql("select * from marts.analysis_cohort").df()
    load_s = time.perf_counter() - start
    made: dict = {}
    steps = {
        "propensity_scores": lambda: tables.propensity_scores(
            cohort, params["propensity_covariates"]),
        "matched_pairs": lambda: tables.matched_pairs(
            made["propensity_scores"], params["matching_caliper_sd"], params["random_seed"]),
        "matched_cohort": lambda: tables.matched_cohort(cohort, made["matched_pairs"]),
        "covariate_balance": lambda: tables.covariate_balance(
            cohort, made["matched_cohort"], params["propensity_covariates"], k),
        "km_estimates": lambda: tables.km_estimates(cohort, made["matched_cohort"], alpha, k),
        "survival_summary": lambda: tables.survival_summary(
            cohort, made["matched_cohort"], alpha, params["landmark_months"]),
        "cox_results": lambda: tables.cox_results(
            cohort, made["matched_cohort"], params["cox_terms"], alpha),
        "subgroup_hr": lambda: tables.subgroup_table(cohort, params["subgroups"], alpha, k),
    }
    functions = {}
    for name, step in steps.items():
        walls, cpus = [], []
        for _ in range(REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            made[name] = step()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        functions[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                           "walls_s": walls}
    stages = {stage: {measure: sum(functions[f][measure] for f in names)
                      for measure in ("wall_s", "cpu_s")}
              for stage, names in STAGE_FUNCTIONS.items()}
    return {"rows": len(cohort), "load_s": load_s, "repeats": REPEATS, "functions": functions,
            "stages": stages}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], *map(Path, sys.argv[2:3]))))

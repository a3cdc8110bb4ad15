"""Time the diagnostics and sensitivity tables (issue 21) alone, on built warehouses.

For each warehouse given (built by ``run_benchmarks.py`` or ``dbt build`` at
one size, e.g. 100,000 and 1,000,000 patients), rerun the function each new
Python model calls (``rwe_study.diagnostics``) on the tables and columns its
model reads, one after another in this process with nothing beside it (as
``isolated_stages.py`` does for the PSM, KM and Cox stages), and print
Markdown rows for benchmarks/RESULTS.md plus JSON: seconds per table
(median of ``REPEATS`` calls; reading the inputs is not counted) and, with
two sizes or more, the log-log slope of time against n beside the slope n
log n would give.

``ps_weights`` (the weights computed once) is timed first; the three
weighting tables then read the weights it made, as their models read the
table. ``weighting_estimates`` includes the matched and weighted Cox HRs,
``center_heterogeneity`` the center-stratified Cox model.

Usage: ``python benchmarks/diagnostics_scale.py <warehouse.duckdb> [...]
[--study <study_id>]`` (the study's rows, with the parameters of its spec,
``studies/<study_id>.yml``; default: the reference study), or
``--generated 100000 1000000`` to time cohorts made by the generator instead
of builds (:func:`isolated_stages.generated_warehouse`, plus the
``survival_summary``, ``cox_results`` and ``subgroup_hr`` the E-values read,
computed by ``rwe_study.tables`` as the build does). Run it on a quiet
machine: with other processes on the two cores the times say more about
them than about the code.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import duckdb
from isolated_stages import REFERENCE_STUDY, read_study_table
from isolated_stages import generated_warehouse as statistics_inputs

from rwe_study import diagnostics as wiring
from rwe_study import tables
from rwe_study.studies import STUDY_COLUMN, file_parameters

PROJECT_DIR = Path(__file__).resolve().parents[1]
REPEATS = 3


def _timed(function, inputs) -> tuple[float, object]:
    """Median seconds of ``REPEATS`` calls, and the last call's result."""
    walls = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function(*inputs)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), result


def generated_warehouse(patients: int, params: dict,
                        study_id: str) -> duckdb.DuckDBPyConnection:
    """A generated cohort's warehouse with every table the diagnostics models read."""
    con = statistics_inputs(patients, 1, params, study_id)
    cohort = read_study_table(con, study_id, "analysis_cohort")
    matched = read_study_table(con, study_id, "matched_cohort")
    alpha = params["alpha"]
    made = {
        "survival_summary": tables.survival_summary(cohort, matched, alpha,
                                                    params["landmark_months"]),
        "cox_results": tables.cox_results(cohort, matched, params["cox_terms"], alpha),
        "subgroup_hr": tables.subgroup_table(cohort, params["subgroups"], alpha,
                                             params["min_cell_count"]),
    }
    for name, frame in made.items():
        con.register("frame", frame)
        con.execute(f"create table marts.{name} as select ? as {STUDY_COLUMN}, * from frame",
                    [study_id])
        con.unregister("frame")
    return con


def time_tables(database: str | duckdb.DuckDBPyConnection, study_id: str) -> dict:
    """Seconds per new table on one warehouse (the inputs read first, not timed)."""
    params = file_parameters(PROJECT_DIR, study_id)
    cutoff = params["data_cutoff_date"]
    config = wiring.diagnostics_config(params)
    alpha, k = params["alpha"], params["min_cell_count"]
    covariates = params["propensity_covariates"]
    connection = (duckdb.connect(database, read_only=True) if isinstance(database, str)
                  else database)
    with connection as con:
        def read(table: str, model: str | None = None, source: str = "analysis_cohort"):
            columns = None if model is None else wiring.columns_read(model, params, source)
            return read_study_table(con, study_id, table, columns)

        rows = con.execute(f"select count(*) from marts.analysis_cohort where {STUDY_COLUMN} = ?",
                           [study_id]).fetchall()[0][0]
        scores = read("ps_scores")
        pairs = read("matched_pairs")
        seconds = {}
        seconds["ps_weights"], weights = _timed(wiring.propensity_weight_table, (
            scores[["patient_id", "is_treated", "propensity_score"]],
            config["weight_methods"]))
        weights = weights[["patient_id", "weighting", "weight"]]
        steps = {
            "study_diagnostics": (wiring.study_diagnostics_table, (
                scores, pairs, read("matched_cohort", "study_diagnostics", "matched_cohort"),
                covariates, config, alpha)),
            "rmst_estimates": (wiring.rmst_table, (
                read("analysis_cohort", "rmst_estimates"),
                read("matched_cohort", "rmst_estimates", "matched_cohort"),
                config["rmst_taus_months"], params["landmark_months"], alpha, k)),
            "evalues": (wiring.evalue_table, (
                read("survival_summary"), read("cox_results"), read("subgroup_hr"),
                read("analysis_cohort", "evalues"),
                read("matched_cohort", "evalues", "matched_cohort"), params["subgroups"],
                config["rare_outcome_threshold"])),
            "weighting_estimates": (wiring.weighting_summary, (
                read("analysis_cohort", "weighting_estimates"),
                read("matched_cohort", "weighting_estimates", "matched_cohort"), weights,
                covariates, config["weight_methods"], alpha)),
            "weighted_balance": (wiring.weighted_balance_table, (
                read("analysis_cohort", "weighting_estimates"), weights, covariates,
                config["weight_methods"], k)),
            "weighted_km_estimates": (wiring.weighted_km_table, (
                read("analysis_cohort", "weighting_estimates"), weights,
                config["weight_methods"], alpha, k)),
            "subgroup_balance": (wiring.subgroup_balance_table, (
                read("analysis_cohort", "subgroup_balance"), params["subgroups"], covariates,
                k)),
            "center_heterogeneity": (wiring.center_heterogeneity_table, (
                read("analysis_cohort", "center_heterogeneity"), alpha, k)),
            "censoring_reasons": (wiring.censoring_table, (
                read("analysis_cohort", "censoring_reasons"), cutoff,
                config["lost_to_follow_up_days"], config["censoring_interval_months"], k)),
        }
        for name, (function, inputs) in steps.items():
            seconds[name], _ = _timed(function, inputs)
    label = database if isinstance(database, str) else "generated"
    return {"database": label, "rows": rows, "seconds": seconds}


def slopes(results: list[dict]) -> dict:
    """log-log slope of time against n between the smallest and largest size, and n log n's."""
    small, large = min(results, key=lambda r: r["rows"]), max(results, key=lambda r: r["rows"])
    n0, n1 = small["rows"], large["rows"]
    reference = math.log(n1 * math.log(n1) / (n0 * math.log(n0))) / math.log(n1 / n0)
    return {name: {"slope": math.log(large["seconds"][name] / small["seconds"][name])
                   / math.log(n1 / n0), "n_log_n_slope": reference}
            for name in small["seconds"]}


def markdown(results: list[dict]) -> str:
    sizes = sorted(results, key=lambda r: r["rows"])
    head = "| table | " + " | ".join(f"{r['rows']:,} patients" for r in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for name in sizes[0]["seconds"]:
        lines.append(f"| `{name}` | " + " | ".join(f"{r['seconds'][name]:.2f} s"
                                                   for r in sizes) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouses", nargs="*", help="built warehouses (DuckDB files)")
    parser.add_argument("--generated", type=int, nargs="+", metavar="PATIENTS", default=[],
                        help="time generated cohorts of these sizes instead")
    parser.add_argument("--study", default=REFERENCE_STUDY, help="the study_id to time")
    args = parser.parse_args()
    measured = [time_tables(database, args.study) for database in args.warehouses]
    parameters = file_parameters(PROJECT_DIR, args.study)
    measured += [time_tables(generated_warehouse(patients, parameters, args.study), args.study)
                 for patients in args.generated]
    print(markdown(measured))
    print(json.dumps({"sizes": measured,
                      "slopes": slopes(measured) if len(measured) > 1 else None}))

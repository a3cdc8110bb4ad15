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

Usage: ``python benchmarks/diagnostics_scale.py <warehouse.duckdb> [...]``.
Run it on a quiet machine: with other processes on the two cores the times
say more about them than about the code.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import duckdb
import yaml

from rwe_study import diagnostics as wiring

PROJECT_DIR = Path(__file__).resolve().parents[1]
REPEATS = 3


def _params() -> tuple[dict, str]:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project["models"]["rwe_warehouse"]["statistics"]["+meta"], project["vars"][
        "data_cutoff_date"]


def time_tables(database: str) -> dict:
    """Seconds per new table on one warehouse (the inputs read first, not timed)."""
    params, cutoff = _params()
    config = wiring.diagnostics_config(params)
    alpha, k = params["alpha"], params["min_cell_count"]
    covariates = params["propensity_covariates"]
    with duckdb.connect(database, read_only=True) as con:
        def read(table: str, model: str | None = None, source: str = "analysis_cohort"):
            columns = "*" if model is None else ", ".join(
                f'"{column}"' for column in wiring.columns_read(model, params, source))
            return con.sql(f"select {columns} from marts.{table}").df()

        rows = con.execute("select count(*) from marts.analysis_cohort").fetchall()[0][0]
        scores = read("ps_scores")
        pairs = read("matched_pairs")
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
                read("matched_cohort", "weighting_estimates", "matched_cohort"), scores,
                covariates, config["weight_methods"])),
            "weighted_balance": (wiring.weighted_balance_table, (
                read("analysis_cohort", "weighting_estimates"), scores, covariates,
                config["weight_methods"], k)),
            "weighted_km_estimates": (wiring.weighted_km_table, (
                read("analysis_cohort", "weighting_estimates"), scores,
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
        seconds = {}
        for name, (function, inputs) in steps.items():
            walls = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                function(*inputs)
                walls.append(time.perf_counter() - start)
            seconds[name] = statistics.median(walls)
    return {"database": database, "rows": rows, "seconds": seconds}


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
    measured = [time_tables(database) for database in sys.argv[1:]]
    print(markdown(measured))
    print(json.dumps({"sizes": measured,
                      "slopes": slopes(measured) if len(measured) > 1 else None}))

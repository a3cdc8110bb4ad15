"""Time the study's Python stages alone, one after another, on a built warehouse.

Inside ``dbt build`` two threads run Python models side by side in one
process, so a node's time includes waiting for the other thread (the GIL,
the two cores): the same ``cox_results`` took 113 s in one 1,000,000-patient
build and 165 s in the next. For the growth check, this script reruns the
functions the Python models call (``rwe_study.tables``) in one process with
nothing beside it, and prints JSON: seconds per function and per stage
(PSM, KM, Cox), wall and CPU, plus the time to load the inputs. Each
function gets what its dbt model reads, from the build's own warehouse:
the same tables (``ps_scores`` for ``matched_pairs``, not the frame the
previous function returned) and the same columns (``columns_read``), read
before the clock starts, by the models' own readers (``rwe_study.inputs``:
the cohorts' text as categoricals; ``--plain-reads``: all text as one string
object per row, as this script read every input until 2026-12-07). Each
function runs at least ``MIN_REPEATS`` times, and again until its calls add
up to ``MIN_SECONDS`` or it has run ``MAX_REPEATS`` times; the median
counts. At 100,000 patients a PSM or KM step takes ~0.1 s, and one timing of
it varied by 2x between calls.

Usage: ``python benchmarks/isolated_stages.py <warehouse.duckdb> [<project dir>]
[--study <study_id>]`` (the study's rows of the warehouse, with the parameters of
its spec, ``<project dir>/studies/<study_id>.yml``; defaults: this repository and
the reference study), or ``--generated <patients> [--seed <seed>]`` to time a
cohort made by the generator instead of a build (:func:`generated_warehouse`);
``--stages psm`` times one stage only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd

from rwe_study import tables
from rwe_study.inputs import read_columns, read_compact_columns
from rwe_study.studies import STUDY_COLUMN, file_parameters, study_rows
from rwe_synth import truth_frame

PROJECT_DIR = Path(__file__).resolve().parents[1]
# the study the generator's cohort is made for (its covariates, its terms)
REFERENCE_STUDY = "zhang2025_second_line_ici"
MIN_REPEATS, MAX_REPEATS, MIN_SECONDS = 3, 9, 5.0
# columns of the generator's truth frame that no analysis_cohort has
GENERATOR_ONLY_COLUMNS = ["patient_index", "patient_key", "pfs_event_type", "latent_pfs_months",
                          "latent_os_months", "true_propensity_score"]
# a SQL model: the benchmark runs the model's own file, not a copy of its join
MATCHED_COHORT_MODEL = PROJECT_DIR / "models" / "marts" / "study" / "matched_cohort.sql"


def matched_cohort_sql() -> str:
    """``models/marts/study/matched_cohort.sql`` rendered for a warehouse's ``marts`` tables."""
    template = jinja2.Template(MATCHED_COHORT_MODEL.read_text(encoding="utf-8"))
    return template.render(ref="marts.{}".format, run_started_at=datetime.now(UTC))


STAGE_FUNCTIONS = {
    "psm": ("propensity_scores", "matched_pairs", "matched_cohort", "covariate_balance"),
    "km": ("km_estimates", "survival_summary"),
    "cox": ("cox_results", "subgroup_hr"),
}


def read_study_table(con: duckdb.DuckDBPyConnection, study_id: str, table: str,
                     columns: list[str] | None = None, compact: bool = True) -> pd.DataFrame:
    """One study's rows of ``marts.<table>`` (``columns``, else all), without ``study_id``,
    as its model hands them to the function it calls (``compact``: text but ``patient_id``
    as categoricals, :func:`rwe_study.inputs.read_compact_columns`)."""
    relation = con.table(f"marts.{table}").filter(
        f"{STUDY_COLUMN} = '{study_id}'")  # a study id from a spec file name, no quote
    wanted = [STUDY_COLUMN, *(relation.columns if columns is None else columns)]
    read = read_compact_columns if compact else read_columns
    return study_rows(read("isolated_stages", table, relation, wanted), study_id)


def _inputs(con: duckdb.DuckDBPyConnection, params: dict, study_id: str,
            plain: bool = False) -> dict:
    """Per function, a loader of the frames its dbt model reads (python_models/statistics)."""
    def read(table: str, model: str | None = None, source: str = "analysis_cohort",
             compact: bool = True):
        columns = None if model is None else tables.columns_read(model, params, source)
        return read_study_table(con, study_id, table, columns, compact and not plain)

    def both(model: str):
        return (read("analysis_cohort", model),
                read("matched_cohort", model, "matched_cohort"))

    return {
        "propensity_scores": lambda: (read("analysis_cohort", "ps_scores"),),
        "matched_pairs": lambda: (read("ps_scores", compact=False),),
        "matched_cohort": lambda: (con, study_id, matched_cohort_sql()),
        "covariate_balance": lambda: both("covariate_balance"),
        "km_estimates": lambda: both("km_estimates"),
        "survival_summary": lambda: both("survival_summary"),
        "cox_results": lambda: both("cox_results"),
        "subgroup_hr": lambda: (read("analysis_cohort", "subgroup_hr"),),
    }


def time_stages(con: duckdb.DuckDBPyConnection, params: dict, study_id: str,
                stages: tuple[str, ...] = tuple(STAGE_FUNCTIONS), plain: bool = False) -> dict:
    """Per function of ``stages``, and per stage, the median wall and CPU seconds of its calls
    (``plain``: inputs read as ``--plain-reads``)."""
    alpha, k = params["alpha"], params["min_cell_count"]
    steps = {
        "propensity_scores": lambda cohort: tables.propensity_scores(
            cohort, params["propensity_covariates"]),
        "matched_pairs": lambda scores: tables.matched_pairs(
            scores, params["matching_caliper_sd"], params["random_seed"]),
        # a SQL model: the join in DuckDB, its rows fetched as Arrow (the whole result made)
        "matched_cohort": lambda connection, study, join: connection.sql(
            f"select * from ({join}) where {STUDY_COLUMN} = ?",
            params=[study]).to_arrow_table(),
        "covariate_balance": lambda cohort, matched: tables.covariate_balance(
            cohort, matched, params["propensity_covariates"], k),
        "km_estimates": lambda cohort, matched: tables.km_estimates(cohort, matched, alpha, k),
        "survival_summary": lambda cohort, matched: tables.survival_summary(
            cohort, matched, alpha, params["landmark_months"]),
        "cox_results": lambda cohort, matched: tables.cox_results(
            cohort, matched, params["cox_terms"], alpha),
        "subgroup_hr": lambda cohort: tables.subgroup_table(cohort, params["subgroups"], alpha, k),
    }
    functions, load_s = {}, 0.0
    rows = con.execute(f"select count(*) from marts.analysis_cohort where {STUDY_COLUMN} = ?",
                       [study_id]).fetchall()[0][0]
    loaders = _inputs(con, params, study_id, plain)
    timed = [name for stage in stages for name in STAGE_FUNCTIONS[stage]]
    for name, step in ((name, steps[name]) for name in timed):
        start = time.perf_counter()
        inputs = loaders[name]()
        load_s += time.perf_counter() - start
        walls, cpus = [], []
        while len(walls) < MIN_REPEATS or (sum(walls) < MIN_SECONDS
                                            and len(walls) < MAX_REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            step(*inputs)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        functions[name] = {"wall_s": statistics.median(walls),
                           "cpu_s": statistics.median(cpus), "walls_s": walls}
        del inputs
    stages = {stage: {measure: sum(functions[f][measure] for f in names)
                      for measure in ("wall_s", "cpu_s")}
              for stage, names in STAGE_FUNCTIONS.items() if stage in stages}
    repeats = {name: len(function["walls_s"]) for name, function in functions.items()}
    return {"rows": rows, "load_s": load_s, "repeats": repeats, "functions": functions,
            "stages": stages}


def main(database: str, project_dir: Path = PROJECT_DIR, study_id: str = REFERENCE_STUDY,
         stages: tuple[str, ...] = tuple(STAGE_FUNCTIONS), plain: bool = False) -> dict:
    with duckdb.connect(database, read_only=True) as con:
        return time_stages(con, file_parameters(project_dir, study_id), study_id, stages, plain)


def generated_warehouse(patients: int, seed: int, params: dict,
                        study_id: str = REFERENCE_STUDY) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the statistics' inputs for a generated cohort.

    ``marts.analysis_cohort`` is ``rwe_synth.truth_frame`` (the clean
    cohort a build derives from the generator's exports) with its columns,
    random pseudonyms and the provenance of the tie-break (export by center,
    shuffled row numbers); ``ps_scores``, ``matched_pairs`` and
    ``matched_cohort`` are computed from it by ``rwe_study.tables`` and the
    join of ``models/marts/study/matched_cohort.sql``, as the
    build's models do. Every table is ``study_id``'s, as in a build.
    """
    rng = np.random.default_rng(seed)
    cohort = truth_frame(patients, 3, seed).drop(columns=GENERATOR_ONLY_COLUMNS)
    cohort = cohort.assign(
        patient_id=[f"pid_{value:08d}" for value in rng.permutation(len(cohort))],
        second_line_source_table=np.where(cohort["center_id"] == "center_b",
                                          "drug_administrations", "lines"),
        second_line_source_file_name=np.where(cohort["center_id"] == "center_b",
                                              "drug_administrations", "lines"),
        is_second_line_source_split=False,
        second_line_source_row_number=rng.permutation(len(cohort)) + 2)
    scores = tables.propensity_scores(cohort, params["propensity_covariates"])
    pairs = tables.matched_pairs(scores, params["matching_caliper_sd"], params["random_seed"])
    con = duckdb.connect()
    con.execute("create schema marts")
    for name, frame in (("analysis_cohort", cohort), ("ps_scores", scores),
                        ("matched_pairs", pairs)):
        con.register("frame", frame)
        con.execute(f"create table marts.{name} as select ? as {STUDY_COLUMN}, * from frame",
                    [study_id])
        con.unregister("frame")
    con.execute(f"create table marts.matched_cohort as {matched_cohort_sql()}")
    return con


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", nargs="?", help="a built warehouse (DuckDB file)")
    parser.add_argument("project_dir", nargs="?", type=Path, default=PROJECT_DIR)
    parser.add_argument("--generated", type=int, metavar="PATIENTS",
                        help="time a generated cohort of this many patients instead")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--study", default=REFERENCE_STUDY, help="the study_id to time")
    parser.add_argument("--plain-reads", action="store_true",
                        help="read every input's text as strings (the reads before 2026-12-07)")
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGE_FUNCTIONS),
                        default=list(STAGE_FUNCTIONS), help="time only these stages")
    args = parser.parse_args()
    if args.generated:
        parameters = file_parameters(args.project_dir, args.study)
        with generated_warehouse(args.generated, args.seed, parameters,
                                 args.study) as connection:
            print(json.dumps(time_stages(connection, parameters, args.study,
                                         tuple(args.stages), args.plain_reads)))
    else:
        print(json.dumps(main(args.warehouse, args.project_dir, args.study, tuple(args.stages),
                              args.plain_reads)))

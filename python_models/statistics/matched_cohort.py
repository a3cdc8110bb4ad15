"""matched_cohort: the matched patients of each study with their analysis columns and pair."""

from rwe_study.inputs import read_columns, read_every_column
from rwe_study.studies import STUDY_COLUMN, per_study, read_parameters, study_rows
from rwe_study.tables import MATCHED_PAIR_COLUMNS, matched_cohort
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    # every column: each matched patient carries all their analysis columns (text as
    # categoricals while matching; matched_cohort writes it back as text)
    cohort = read_every_column(name, "analysis_cohort", dbt.ref("analysis_cohort"), compact=True)
    pairs = read_columns(name, "matched_pairs", dbt.ref("matched_pairs"),
                         [STUDY_COLUMN, *MATCHED_PAIR_COLUMNS])
    return with_run_stamp(per_study(params, lambda study_id, study: matched_cohort(
        study_rows(cohort, study_id), study_rows(pairs, study_id))))

"""matched_cohort: the matched patients of each study with their analysis columns and pair."""

from rwe_study.studies import parameters_by_study, per_study, study_rows
from rwe_study.tables import matched_cohort
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").df()
    pairs = dbt.ref("matched_pairs").df()
    return with_run_stamp(per_study(params, lambda study_id, study: matched_cohort(
        study_rows(cohort, study_id), study_rows(pairs, study_id))))

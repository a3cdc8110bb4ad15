"""km_estimates: Kaplan-Meier curves per study, cohort, endpoint and arm."""

from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_study.tables import columns_read, km_estimates
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "km_estimates", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_for_every_study(columns_read, "km_estimates", params, "matched_cohort")).df()
    return with_run_stamp(per_study(params, lambda study_id, study: km_estimates(
        study_rows(cohort, study_id), study_rows(matched, study_id), study["alpha"],
        study["min_cell_count"])))

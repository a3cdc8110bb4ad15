"""covariate_balance: Table 1 and SMDs before and after matching, per study."""

from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_study.tables import columns_read, covariate_balance
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "covariate_balance", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_for_every_study(columns_read, "covariate_balance", params, "matched_cohort")).df()
    return with_run_stamp(per_study(params, lambda study_id, study: covariate_balance(
        study_rows(cohort, study_id), study_rows(matched, study_id),
        study["propensity_covariates"], study["min_cell_count"])))

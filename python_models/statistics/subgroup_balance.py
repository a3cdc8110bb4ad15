"""subgroup_balance: covariate balance within each subgroup level, per study."""

from rwe_study.diagnostics import columns_read, subgroup_balance_table
from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "subgroup_balance", params)).df()
    return with_run_stamp(per_study(params, lambda study_id, study: subgroup_balance_table(
        study_rows(cohort, study_id), study["subgroups"], study["propensity_covariates"],
        study["min_cell_count"])))

"""weighted_balance: covariate balance under each weighting, per study."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighted_balance_table
from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "weighting_estimates", params)).df()
    weights = dbt.ref("ps_weights").select("study_id", "patient_id", "weighting", "weight").df()
    return with_run_stamp(per_study(params, lambda study_id, study: weighted_balance_table(
        study_rows(cohort, study_id), study_rows(weights, study_id),
        study["propensity_covariates"], diagnostics_config(study)["weight_methods"],
        study["min_cell_count"])))

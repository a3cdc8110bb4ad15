"""ps_scores: propensity score of the exposure for every cohort patient of every study."""

from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_study.tables import columns_read, propensity_scores
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    # Downstream of the data-quality gate: a critical failure skips this model.
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "ps_scores", params)).df()
    return with_run_stamp(per_study(params, lambda study_id, study: propensity_scores(
        study_rows(cohort, study_id), study["propensity_covariates"])))

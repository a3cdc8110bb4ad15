"""ps_scores: propensity score of second-line ICI for every cohort patient."""

from rwe_study.tables import columns_read, propensity_scores
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    # Downstream of the data-quality gate: a critical failure skips this model.
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("ps_scores", params)).df()
    return with_run_stamp(propensity_scores(cohort, params["propensity_covariates"]))

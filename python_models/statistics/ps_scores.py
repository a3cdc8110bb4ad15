"""ps_scores: propensity score of second-line ICI for every cohort patient."""

from rwe_study.tables import propensity_scores
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    # Downstream of the data-quality gate: a critical failure skips this model.
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    params = dbt.config.get("meta")
    return with_run_stamp(propensity_scores(cohort, params["propensity_covariates"]))

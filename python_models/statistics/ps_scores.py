"""ps_scores: propensity score of the exposure for every cohort patient of every study."""

from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_study.tables import columns_read, propensity_scores
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    # Downstream of the data-quality gate: a critical failure skips this model.
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "ps_scores", cohort=dbt.ref("analysis_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: propensity_scores(
        study_rows(inputs.cohort, study_id), study["propensity_covariates"])))

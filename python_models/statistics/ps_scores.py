"""ps_scores: propensity score of the exposure for every cohort patient of every study."""

from rwe_study.inputs import read_columns
from rwe_study.studies import columns_for_every_study, per_study, read_parameters, study_rows
from rwe_study.tables import columns_read, propensity_scores
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    # Downstream of the data-quality gate: a critical failure skips this model.
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "ps_scores", params))
    return with_run_stamp(per_study(params, lambda study_id, study: propensity_scores(
        study_rows(cohort, study_id), study["propensity_covariates"])))

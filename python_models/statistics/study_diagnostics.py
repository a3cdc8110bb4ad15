"""study_diagnostics: balance, overlap, power, PH and events of each study's primary comparison."""

from rwe_study.diagnostics import columns_read, diagnostics_config, study_diagnostics_table
from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    scores = dbt.ref("ps_scores").select("study_id", "is_treated", "propensity_score").df()
    pairs = dbt.ref("matched_pairs").select("study_id", "pair_id").df()
    matched = dbt.ref("matched_cohort").select(
        *columns_for_every_study(columns_read, "study_diagnostics", params, "matched_cohort")).df()
    return with_run_stamp(per_study(params, lambda study_id, study: study_diagnostics_table(
        study_rows(scores, study_id), study_rows(pairs, study_id), study_rows(matched, study_id),
        study["propensity_covariates"], diagnostics_config(study), study["alpha"])))

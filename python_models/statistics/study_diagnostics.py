"""study_diagnostics: balance, overlap, power, PH and events of the primary comparison."""

from rwe_study.diagnostics import columns_read, diagnostics_config, study_diagnostics_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    scores = dbt.ref("ps_scores").select("is_treated", "propensity_score").df()
    pairs = dbt.ref("matched_pairs").select("pair_id").df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("study_diagnostics", params, "matched_cohort")).df()
    return with_run_stamp(study_diagnostics_table(
        scores, pairs, matched, params["propensity_covariates"], diagnostics_config(params),
        params["alpha"]))

"""weighting_estimates: ATT and overlap weighting beside 1:1 matching (ESS, balance)."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighting_summary
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("weighting_estimates", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("weighting_estimates", params, "matched_cohort")).df()
    scores = dbt.ref("ps_scores").select("patient_id", "is_treated", "propensity_score").df()
    return with_run_stamp(weighting_summary(cohort, matched, scores,
                                            params["propensity_covariates"],
                                            diagnostics_config(params)["weight_methods"]))

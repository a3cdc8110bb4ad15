"""weighting_estimates: ATT and overlap weighting beside 1:1 matching (ESS, balance, HR)."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighting_summary
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("weighting_estimates", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("weighting_estimates", params, "matched_cohort")).df()
    weights = dbt.ref("ps_weights").select("patient_id", "weighting", "weight").df()
    return with_run_stamp(weighting_summary(cohort, matched, weights,
                                            params["propensity_covariates"],
                                            diagnostics_config(params)["weight_methods"],
                                            params["alpha"]))

"""weighted_balance: standardised mean differences under ATT and overlap weights."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighted_balance_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("weighting_estimates", params)).df()
    weights = dbt.ref("ps_weights").select("patient_id", "weighting", "weight").df()
    return with_run_stamp(weighted_balance_table(
        cohort, weights, params["propensity_covariates"],
        diagnostics_config(params)["weight_methods"], params["min_cell_count"]))

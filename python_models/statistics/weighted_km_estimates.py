"""weighted_km_estimates: Kaplan-Meier curves under ATT and overlap weights."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighted_km_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("weighting_estimates", params)).df()
    weights = dbt.ref("ps_weights").select("patient_id", "weighting", "weight").df()
    return with_run_stamp(weighted_km_table(cohort, weights,
                                            diagnostics_config(params)["weight_methods"],
                                            params["alpha"], params["min_cell_count"]))

"""rmst_estimates: RMST per arm, RMST difference and ratio, milestone survival differences."""

from rwe_study.diagnostics import columns_read, diagnostics_config, rmst_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("rmst_estimates", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("rmst_estimates", params, "matched_cohort")).df()
    return with_run_stamp(rmst_table(cohort, matched,
                                     diagnostics_config(params)["rmst_taus_months"],
                                     params["landmark_months"], params["alpha"],
                                     params["min_cell_count"]))

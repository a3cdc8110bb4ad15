"""km_estimates: Kaplan-Meier step functions for PFS and OS, by cohort and arm."""

from rwe_study.tables import columns_read, km_estimates
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("km_estimates", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("km_estimates", params, "matched_cohort")).df()
    return with_run_stamp(km_estimates(cohort, matched, params["alpha"], params["min_cell_count"]))

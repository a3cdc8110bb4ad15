"""km_estimates: Kaplan-Meier step functions for PFS and OS, by cohort and arm."""

from rwe_study.tables import km_estimates
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    matched = dbt.ref("matched_cohort").df()
    params = dbt.config.get("meta")
    return with_run_stamp(km_estimates(cohort, matched, params["alpha"], params["min_cell_count"]))

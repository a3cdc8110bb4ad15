"""survival_summary: medians, landmark rates, log-rank tests and HRs."""

from rwe_study.diagnostics import diagnostics_config, flag_primary_estimates
from rwe_study.tables import columns_read, survival_summary
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("survival_summary", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("survival_summary", params, "matched_cohort")).df()
    summary = survival_summary(cohort, matched, params["alpha"], params["landmark_months"])
    diagnostics = dbt.ref("study_diagnostics").df()
    return with_run_stamp(flag_primary_estimates(
        summary, diagnostics, diagnostics_config(params)["primary_endpoint"]))

"""cox_results: univariate and multivariate Cox models for PFS and OS."""

from rwe_study.diagnostics import diagnostics_config, flag_primary_estimates
from rwe_study.tables import columns_read, cox_results
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("cox_results", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("cox_results", params, "matched_cohort")).df()
    table = cox_results(cohort, matched, params["cox_terms"], params["alpha"])
    diagnostics = dbt.ref("study_diagnostics").df()
    return with_run_stamp(flag_primary_estimates(
        table, diagnostics, diagnostics_config(params)["primary_endpoint"], term_col="term"))

"""cox_results: univariate and multivariate Cox models for PFS and OS."""

from rwe_study.tables import cox_results
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    matched = dbt.ref("matched_cohort").df()
    params = dbt.config.get("meta")
    return with_run_stamp(cox_results(cohort, matched, params["cox_terms"], params["alpha"]))

"""survival_summary: medians, landmark rates, log-rank tests and HRs."""

from rwe_study.tables import survival_summary
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    matched = dbt.ref("matched_cohort").df()
    params = dbt.config.get("meta")
    summary = survival_summary(cohort, matched, params["alpha"], params["landmark_months"])
    return with_run_stamp(summary)

"""safety_summary: patients with each second-line AE by grade band and arm."""

from rwe_study.tables import safety_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    adverse_events = dbt.ref("adverse_events").df()
    params = dbt.config.get("meta")
    return with_run_stamp(safety_table(adverse_events, cohort, params["min_cell_count"]))

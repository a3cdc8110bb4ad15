"""censoring_reasons: censored patients per endpoint, arm, time interval and reason."""

from rwe_study.diagnostics import censoring_table, columns_read, diagnostics_config
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    config = diagnostics_config(params)
    cohort = dbt.ref("analysis_cohort").select(*columns_read("censoring_reasons", params)).df()
    return with_run_stamp(censoring_table(cohort, params["data_cutoff_date"],
                                          config["lost_to_follow_up_days"],
                                          config["censoring_interval_months"],
                                          params["min_cell_count"]))

"""center_heterogeneity: per-center HR of ICI, Cochran's Q, I^2 and pooled HRs."""

from rwe_study.diagnostics import center_heterogeneity_table, columns_read
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("center_heterogeneity",
                                                              params)).df()
    return with_run_stamp(center_heterogeneity_table(cohort, params["alpha"],
                                                     params["min_cell_count"]))

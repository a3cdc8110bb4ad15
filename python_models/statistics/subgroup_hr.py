"""subgroup_hr: PFS hazard ratios within subgroups, with interaction tests."""

from rwe_study.tables import columns_read, subgroup_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("subgroup_hr", params)).df()
    return with_run_stamp(subgroup_table(cohort, params["subgroups"], params["alpha"],
                                         params["min_cell_count"]))

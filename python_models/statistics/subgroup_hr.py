"""subgroup_hr: PFS hazard ratios within subgroups, with interaction tests."""

from rwe_study.tables import subgroup_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    params = dbt.config.get("meta")
    return with_run_stamp(subgroup_table(cohort, params["subgroups"], params["alpha"],
                                         params["min_cell_count"]))

"""subgroup_balance: largest |SMD| of the baseline covariates within each subgroup level."""

from rwe_study.diagnostics import columns_read, subgroup_balance_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("subgroup_balance", params)).df()
    return with_run_stamp(subgroup_balance_table(cohort, params["subgroups"],
                                                 params["propensity_covariates"],
                                                 params["min_cell_count"]))

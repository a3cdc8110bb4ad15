"""covariate_balance: standardised mean differences before and after matching."""

from rwe_study.tables import columns_read, covariate_balance
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("covariate_balance", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("covariate_balance", params, "matched_cohort")).df()
    return with_run_stamp(covariate_balance(cohort, matched, params["propensity_covariates"],
                                            params["min_cell_count"]))

"""covariate_balance: standardised mean differences before and after matching."""

from rwe_study.tables import covariate_balance
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    cohort = dbt.ref("analysis_cohort").df()
    matched = dbt.ref("matched_cohort").df()
    params = dbt.config.get("meta")
    return with_run_stamp(covariate_balance(cohort, matched, params["propensity_covariates"],
                                            params["min_cell_count"]))

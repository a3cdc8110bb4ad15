"""covariate_balance: Table 1 and SMDs before and after matching, per study."""

from rwe_study.inputs import read_columns
from rwe_study.studies import columns_for_every_study, per_study, read_parameters, study_rows
from rwe_study.tables import columns_read, covariate_balance
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "covariate_balance", params))
    matched = read_columns(name, "matched_cohort", dbt.ref("matched_cohort"),
                           columns_for_every_study(columns_read, "covariate_balance", params,
                                                   "matched_cohort"))
    return with_run_stamp(per_study(params, lambda study_id, study: covariate_balance(
        study_rows(cohort, study_id), study_rows(matched, study_id),
        study["propensity_covariates"], study["min_cell_count"])))

"""subgroup_balance: covariate balance within each subgroup level, per study."""

from rwe_study.diagnostics import columns_read, subgroup_balance_table
from rwe_study.inputs import read_columns
from rwe_study.studies import columns_for_every_study, per_study, read_parameters, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "subgroup_balance", params))
    return with_run_stamp(per_study(params, lambda study_id, study: subgroup_balance_table(
        study_rows(cohort, study_id), study["subgroups"], study["propensity_covariates"],
        study["min_cell_count"])))

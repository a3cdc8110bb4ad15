"""rmst_estimates: restricted mean survival time per study, arm and tau."""

from rwe_study.diagnostics import columns_read, diagnostics_config, rmst_table
from rwe_study.inputs import read_columns
from rwe_study.studies import columns_for_every_study, per_study, read_parameters, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "rmst_estimates", params))
    matched = read_columns(name, "matched_cohort", dbt.ref("matched_cohort"),
                           columns_for_every_study(columns_read, "rmst_estimates", params,
                                                   "matched_cohort"))
    return with_run_stamp(per_study(params, lambda study_id, study: rmst_table(
        study_rows(cohort, study_id), study_rows(matched, study_id),
        diagnostics_config(study)["rmst_taus_months"], study["landmark_months"],
        study["alpha"], study["min_cell_count"])))

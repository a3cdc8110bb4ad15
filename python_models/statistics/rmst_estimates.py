"""rmst_estimates: restricted mean survival time per study, arm and tau."""

from rwe_study.diagnostics import columns_read, diagnostics_config, rmst_table
from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "rmst_estimates", cohort=dbt.ref("analysis_cohort"),
                          matched=dbt.ref("matched_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: rmst_table(
        study_rows(inputs.cohort, study_id), study_rows(inputs.matched, study_id),
        diagnostics_config(study)["rmst_taus_months"], study["landmark_months"],
        study["alpha"], study["min_cell_count"])))

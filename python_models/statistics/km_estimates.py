"""km_estimates: Kaplan-Meier curves per study, cohort, endpoint and arm."""

from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_study.tables import columns_read, km_estimates
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "km_estimates", cohort=dbt.ref("analysis_cohort"),
                          matched=dbt.ref("matched_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: km_estimates(
        study_rows(inputs.cohort, study_id), study_rows(inputs.matched, study_id),
        study["alpha"], study["min_cell_count"])))

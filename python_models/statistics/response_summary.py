"""response_summary: ORR and DCR per study, cohort and arm."""

from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_study.tables import columns_read, response_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "response_summary", cohort=dbt.ref("analysis_cohort"),
                          matched=dbt.ref("matched_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: response_table(
        study_rows(inputs.cohort, study_id), study_rows(inputs.matched, study_id),
        study["alpha"], study["min_cell_count"])))

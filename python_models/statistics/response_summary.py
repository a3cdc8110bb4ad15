"""response_summary: ORR and DCR per study, cohort and arm."""

from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_study.tables import columns_read, response_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "response_summary", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_for_every_study(columns_read, "response_summary", params, "matched_cohort")).df()
    return with_run_stamp(per_study(params, lambda study_id, study: response_table(
        study_rows(cohort, study_id), study_rows(matched, study_id), study["alpha"],
        study["min_cell_count"])))

"""safety_summary: patients with each second-line AE by study, grade band and arm."""

from rwe_study.studies import parameters_by_study, per_study, study_rows
from rwe_study.tables import safety_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").df()
    adverse_events = dbt.ref("adverse_events").df()
    return with_run_stamp(per_study(params, lambda study_id, study: safety_table(
        study_rows(adverse_events, study_id), study_rows(cohort, study_id),
        study["min_cell_count"])))

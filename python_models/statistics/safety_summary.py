"""safety_summary: patients with each second-line AE by study, grade band and arm."""

from rwe_study.inputs import read_compact_columns
from rwe_study.studies import STUDY_COLUMN, per_study, read_parameters, study_rows
from rwe_study.tables import SAFETY_COHORT_COLUMNS, SAFETY_EVENT_COLUMNS, safety_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_compact_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                                  [STUDY_COLUMN, *SAFETY_COHORT_COLUMNS])
    adverse_events = read_compact_columns(name, "adverse_events", dbt.ref("adverse_events"),
                                          [STUDY_COLUMN, *SAFETY_EVENT_COLUMNS],
                                          encode_patients=True)
    return with_run_stamp(per_study(params, lambda study_id, study: safety_table(
        study_rows(adverse_events, study_id), study_rows(cohort, study_id),
        study["min_cell_count"])))

"""safety_summary: patients with each second-line AE by study, grade band and arm."""

from functools import partial

from rwe_study.inputs import read_compact_columns
from rwe_study.studies import per_study, read_parameters, study_rows, study_table
from rwe_study.tables import SAFETY_COHORT_COLUMNS, SAFETY_EVENT_COLUMNS, safety_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    # each read one study at a time; an event table's ids encoded (several rows a patient)
    cohort = study_table(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                         SAFETY_COHORT_COLUMNS)
    adverse_events = study_table(name, "adverse_events", dbt.ref("adverse_events"),
                                 SAFETY_EVENT_COLUMNS,
                                 read=partial(read_compact_columns, encode_patients=True))
    return with_run_stamp(per_study(params, lambda study_id, study: safety_table(
        study_rows(adverse_events, study_id), study_rows(cohort, study_id),
        study["min_cell_count"])))

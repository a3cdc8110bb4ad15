"""survival_summary: medians, landmarks, log-rank and HR per study, cohort, endpoint and arm."""

from rwe_study.diagnostics import VERDICT_COLUMNS, diagnostics_config, flag_primary_estimates
from rwe_study.inputs import read_columns
from rwe_study.studies import STUDY_COLUMN, per_study, read_cohorts, study_rows
from rwe_study.tables import columns_read, survival_summary
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    inputs = read_cohorts(name, dbt.ref("study_specs"), columns_read, "survival_summary",
                          cohort=dbt.ref("analysis_cohort"), matched=dbt.ref("matched_cohort"))
    diagnostics = read_columns(name, "study_diagnostics", dbt.ref("study_diagnostics"),
                               [STUDY_COLUMN, *VERDICT_COLUMNS])

    def study_table(study_id, study):
        summary = survival_summary(study_rows(inputs.cohort, study_id),
                                   study_rows(inputs.matched, study_id), study["alpha"],
                                   study["landmark_months"])
        return flag_primary_estimates(summary, study_rows(diagnostics, study_id),
                                      diagnostics_config(study)["primary_endpoint"])

    return with_run_stamp(per_study(inputs.params, study_table))

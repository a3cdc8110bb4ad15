"""evalues: E-values of every hazard ratio of the treatment term, per study."""

from rwe_study.diagnostics import (
    EVALUE_SOURCE_COLUMNS,
    columns_read,
    diagnostics_config,
    evalue_table,
)
from rwe_study.inputs import read_columns
from rwe_study.studies import STUDY_COLUMN, per_study, read_cohorts, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    name = dbt.this.identifier
    survival = read_columns(name, "survival_summary", dbt.ref("survival_summary"),
                            [STUDY_COLUMN, *EVALUE_SOURCE_COLUMNS["survival_summary"]])
    cox = read_columns(name, "cox_results", dbt.ref("cox_results"),
                       [STUDY_COLUMN, *EVALUE_SOURCE_COLUMNS["cox_results"]])
    subgroups = read_columns(name, "subgroup_hr", dbt.ref("subgroup_hr"),
                             [STUDY_COLUMN, *EVALUE_SOURCE_COLUMNS["subgroup_hr"]])
    inputs = read_cohorts(name, dbt.ref("study_specs"), columns_read, "evalues",
                          cohort=dbt.ref("analysis_cohort"), matched=dbt.ref("matched_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: evalue_table(
        study_rows(survival, study_id), study_rows(cox, study_id),
        study_rows(subgroups, study_id), study_rows(inputs.cohort, study_id),
        study_rows(inputs.matched, study_id), study["subgroups"],
        diagnostics_config(study)["rare_outcome_threshold"])))

"""evalues: E-values of every hazard ratio of the treatment term, per study."""

from rwe_study.diagnostics import (
    EVALUE_SOURCE_COLUMNS,
    columns_read,
    diagnostics_config,
    evalue_table,
)
from rwe_study.inputs import read_columns
from rwe_study.studies import (
    STUDY_COLUMN,
    columns_for_every_study,
    per_study,
    read_parameters,
    study_rows,
)
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    survival = read_columns(name, "survival_summary", dbt.ref("survival_summary"),
                            [STUDY_COLUMN, *EVALUE_SOURCE_COLUMNS["survival_summary"]])
    cox = read_columns(name, "cox_results", dbt.ref("cox_results"),
                       [STUDY_COLUMN, *EVALUE_SOURCE_COLUMNS["cox_results"]])
    subgroups = read_columns(name, "subgroup_hr", dbt.ref("subgroup_hr"),
                             [STUDY_COLUMN, *EVALUE_SOURCE_COLUMNS["subgroup_hr"]])
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "evalues", params))
    matched = read_columns(name, "matched_cohort", dbt.ref("matched_cohort"),
                           columns_for_every_study(columns_read, "evalues", params,
                                                   "matched_cohort"))
    return with_run_stamp(per_study(params, lambda study_id, study: evalue_table(
        study_rows(survival, study_id), study_rows(cox, study_id),
        study_rows(subgroups, study_id), study_rows(cohort, study_id),
        study_rows(matched, study_id), study["subgroups"],
        diagnostics_config(study)["rare_outcome_threshold"])))

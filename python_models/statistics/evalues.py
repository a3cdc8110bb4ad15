"""evalues: E-values of every hazard ratio of the treatment term, per study."""

from rwe_study.diagnostics import columns_read, diagnostics_config, evalue_table
from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    params = parameters_by_study(dbt.ref("study_specs").df())
    survival = dbt.ref("survival_summary").df()
    cox = dbt.ref("cox_results").df()
    subgroups = dbt.ref("subgroup_hr").df()
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "evalues", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_for_every_study(columns_read, "evalues", params, "matched_cohort")).df()
    return with_run_stamp(per_study(params, lambda study_id, study: evalue_table(
        study_rows(survival, study_id), study_rows(cox, study_id),
        study_rows(subgroups, study_id), study_rows(cohort, study_id),
        study_rows(matched, study_id), study["subgroups"],
        diagnostics_config(study)["rare_outcome_threshold"])))

"""subgroup_hr: hazard ratio of the exposure within subgroups (forest plot), per study."""

from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_study.tables import columns_read, subgroup_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "subgroup_hr", params)).df()
    return with_run_stamp(per_study(params, lambda study_id, study: subgroup_table(
        study_rows(cohort, study_id), study["subgroups"], study["alpha"],
        study["min_cell_count"])))

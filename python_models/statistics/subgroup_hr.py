"""subgroup_hr: hazard ratio of the exposure within subgroups (forest plot), per study."""

from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_study.tables import columns_read, subgroup_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "subgroup_hr", cohort=dbt.ref("analysis_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: subgroup_table(
        study_rows(inputs.cohort, study_id), study["subgroups"], study["alpha"],
        study["min_cell_count"])))

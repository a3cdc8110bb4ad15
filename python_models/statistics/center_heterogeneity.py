"""center_heterogeneity: per-center hazard ratios, heterogeneity and pooled HRs, per study."""

from rwe_study.diagnostics import center_heterogeneity_table, columns_read
from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "center_heterogeneity", cohort=dbt.ref("analysis_cohort"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: (
        center_heterogeneity_table(study_rows(inputs.cohort, study_id), study["alpha"],
                                   study["min_cell_count"]))))

"""censoring_reasons: censored patients per study, endpoint, arm, time interval and reason."""

from rwe_study.diagnostics import censoring_table, columns_read, diagnostics_config
from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "censoring_reasons", cohort=dbt.ref("analysis_cohort"))

    def study_table(study_id, study):
        config = diagnostics_config(study)
        return censoring_table(study_rows(inputs.cohort, study_id), study["data_cutoff_date"],
                               config["lost_to_follow_up_days"],
                               config["censoring_interval_months"], study["min_cell_count"])

    return with_run_stamp(per_study(inputs.params, study_table))

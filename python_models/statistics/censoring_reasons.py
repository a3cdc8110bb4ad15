"""censoring_reasons: censored patients per study, endpoint, arm, time interval and reason."""

from rwe_study.diagnostics import censoring_table, columns_read, diagnostics_config
from rwe_study.inputs import read_columns
from rwe_study.studies import columns_for_every_study, per_study, read_parameters, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "censoring_reasons", params))

    def study_table(study_id, study):
        config = diagnostics_config(study)
        return censoring_table(study_rows(cohort, study_id), study["data_cutoff_date"],
                               config["lost_to_follow_up_days"],
                               config["censoring_interval_months"], study["min_cell_count"])

    return with_run_stamp(per_study(params, study_table))

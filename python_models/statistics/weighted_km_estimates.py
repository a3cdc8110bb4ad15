"""weighted_km_estimates: weighted Kaplan-Meier curves per study and weighting."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighted_km_table
from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "weighting_estimates", cohort=dbt.ref("analysis_cohort"),
                          weights=dbt.ref("ps_weights"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: weighted_km_table(
        study_rows(inputs.cohort, study_id), study_rows(inputs.weights, study_id),
        diagnostics_config(study)["weight_methods"], study["alpha"], study["min_cell_count"])))

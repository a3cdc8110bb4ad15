"""weighted_km_estimates: weighted Kaplan-Meier curves per study and weighting."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighted_km_table
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
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    cohort = read_columns(name, "analysis_cohort", dbt.ref("analysis_cohort"),
                          columns_for_every_study(columns_read, "weighting_estimates", params))
    weights = read_columns(name, "ps_weights", dbt.ref("ps_weights"),
                           [STUDY_COLUMN, "patient_id", "weighting", "weight"])
    return with_run_stamp(per_study(params, lambda study_id, study: weighted_km_table(
        study_rows(cohort, study_id), study_rows(weights, study_id),
        diagnostics_config(study)["weight_methods"], study["alpha"], study["min_cell_count"])))

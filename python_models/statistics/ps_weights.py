"""ps_weights: each patient's ATT and overlap weight per study, computed once for the weighting
tables."""

from rwe_study.diagnostics import diagnostics_config, propensity_weight_table
from rwe_study.inputs import read_columns
from rwe_study.studies import STUDY_COLUMN, per_study, read_parameters, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    scores = read_columns(name, "ps_scores", dbt.ref("ps_scores"),
                          [STUDY_COLUMN, "patient_id", "is_treated", "propensity_score"])
    return with_run_stamp(per_study(params, lambda study_id, study: propensity_weight_table(
        study_rows(scores, study_id), diagnostics_config(study)["weight_methods"])))

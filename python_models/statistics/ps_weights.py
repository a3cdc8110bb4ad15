"""ps_weights: each patient's ATT and overlap weight per study, computed once for the weighting
tables."""

from rwe_study.diagnostics import diagnostics_config, propensity_weight_table
from rwe_study.studies import parameters_by_study, per_study, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    scores = dbt.ref("ps_scores").select(
        "study_id", "patient_id", "is_treated", "propensity_score").df()
    return with_run_stamp(per_study(params, lambda study_id, study: propensity_weight_table(
        study_rows(scores, study_id), diagnostics_config(study)["weight_methods"])))

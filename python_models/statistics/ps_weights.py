"""ps_weights: each patient's ATT and overlap weight, computed once for the weighting tables."""

from rwe_study.diagnostics import diagnostics_config, propensity_weight_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    scores = dbt.ref("ps_scores").select("patient_id", "is_treated", "propensity_score").df()
    return with_run_stamp(propensity_weight_table(
        scores, diagnostics_config(params)["weight_methods"]))

"""ps_weights: each patient's ATT and overlap weight per study, computed once for the weighting
tables."""

from rwe_study.diagnostics import diagnostics_config, propensity_weight_table
from rwe_study.inputs import read_columns
from rwe_study.studies import per_study, read_parameters, study_rows, study_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    # read one study at a time, the ids as text (written back with the weights)
    scores = study_table(name, "ps_scores", dbt.ref("ps_scores"),
                         ["patient_id", "is_treated", "propensity_score"], read=read_columns)
    return with_run_stamp(per_study(params, lambda study_id, study: propensity_weight_table(
        study_rows(scores, study_id), diagnostics_config(study)["weight_methods"])))

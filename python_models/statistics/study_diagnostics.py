"""study_diagnostics: balance, overlap, power, PH and events of each study's primary comparison."""

from rwe_study.diagnostics import columns_read, diagnostics_config, study_diagnostics_table
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
    scores = read_columns(name, "ps_scores", dbt.ref("ps_scores"),
                          [STUDY_COLUMN, "is_treated", "propensity_score"])
    pairs = read_columns(name, "matched_pairs", dbt.ref("matched_pairs"),
                         [STUDY_COLUMN, "pair_id"])
    matched = read_columns(name, "matched_cohort", dbt.ref("matched_cohort"),
                           columns_for_every_study(columns_read, "study_diagnostics", params,
                                                   "matched_cohort"))
    return with_run_stamp(per_study(params, lambda study_id, study: study_diagnostics_table(
        study_rows(scores, study_id), study_rows(pairs, study_id), study_rows(matched, study_id),
        study["propensity_covariates"], diagnostics_config(study), study["alpha"])))

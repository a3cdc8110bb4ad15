"""matched_pairs: 1:1 nearest-neighbour matching on the propensity score, per study."""

from rwe_study.inputs import read_columns
from rwe_study.studies import STUDY_COLUMN, per_study, read_parameters, study_rows
from rwe_study.tables import MATCHING_SCORE_COLUMNS, matched_pairs
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    scores = read_columns(name, "ps_scores", dbt.ref("ps_scores"),
                          [STUDY_COLUMN, *MATCHING_SCORE_COLUMNS])
    return with_run_stamp(per_study(params, lambda study_id, study: matched_pairs(
        study_rows(scores, study_id), study["matching_caliper_sd"], study["random_seed"])))

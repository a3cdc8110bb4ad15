"""matched_pairs: 1:1 nearest-neighbour matching on the propensity score, per study."""

from rwe_study.studies import parameters_by_study, per_study, study_rows
from rwe_study.tables import matched_pairs
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    params = parameters_by_study(dbt.ref("study_specs").df())
    scores = dbt.ref("ps_scores").df()
    return with_run_stamp(per_study(params, lambda study_id, study: matched_pairs(
        study_rows(scores, study_id), study["matching_caliper_sd"], study["random_seed"])))

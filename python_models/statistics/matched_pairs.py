"""matched_pairs: 1:1 greedy nearest-neighbour matching on the logit PS."""

from rwe_study.tables import matched_pairs
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    scores = dbt.ref("ps_scores").df()
    params = dbt.config.get("meta")
    pairs = matched_pairs(scores, params["matching_caliper_sd"], params["random_seed"])
    return with_run_stamp(pairs)

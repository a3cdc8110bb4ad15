"""matched_pairs: 1:1 nearest-neighbour matching on the propensity score, per study."""

from rwe_study.inputs import read_columns
from rwe_study.studies import per_study, read_parameters, study_rows, study_table
from rwe_study.tables import MATCHING_SCORE_COLUMNS, matched_pairs
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    name = dbt.this.identifier
    params = read_parameters(name, dbt.ref("study_specs"))
    # read one study at a time, the ids and keys as text (written back in the pairs)
    scores = study_table(name, "ps_scores", dbt.ref("ps_scores"), MATCHING_SCORE_COLUMNS,
                         read=read_columns)
    return with_run_stamp(per_study(params, lambda study_id, study: matched_pairs(
        study_rows(scores, study_id), study["matching_caliper_sd"], study["random_seed"])))

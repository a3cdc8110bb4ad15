"""study_diagnostics: balance, overlap, power, PH and events of each study's primary comparison."""

from rwe_study.diagnostics import columns_read, diagnostics_config, study_diagnostics_table
from rwe_study.inputs import read_columns
from rwe_study.studies import per_study, read_cohorts, study_rows, study_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    inputs = read_cohorts(name, dbt.ref("study_specs"), columns_read, "study_diagnostics",
                          matched=dbt.ref("matched_cohort"))
    # each read one study at a time, as they were read whole before (text as strings)
    scores = study_table(name, "ps_scores", dbt.ref("ps_scores"),
                         ["is_treated", "propensity_score"], read=read_columns)
    pairs = study_table(name, "matched_pairs", dbt.ref("matched_pairs"), ["pair_id"],
                        read=read_columns)
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: (
        study_diagnostics_table(study_rows(scores, study_id), study_rows(pairs, study_id),
                                study_rows(inputs.matched, study_id),
                                study["propensity_covariates"], diagnostics_config(study),
                                study["alpha"]))))

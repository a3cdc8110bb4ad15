"""weighted_balance: covariate balance under each weighting, per study."""

from rwe_study.diagnostics import columns_read, diagnostics_config, weighted_balance_table
from rwe_study.studies import per_study, read_cohorts, study_rows
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    inputs = read_cohorts(dbt.this.identifier, dbt.ref("study_specs"), columns_read,
                          "weighting_estimates", cohort=dbt.ref("analysis_cohort"),
                          weights=dbt.ref("ps_weights"))
    return with_run_stamp(per_study(inputs.params, lambda study_id, study: (
        weighted_balance_table(study_rows(inputs.cohort, study_id),
                               study_rows(inputs.weights, study_id),
                               study["propensity_covariates"],
                               diagnostics_config(study)["weight_methods"],
                               study["min_cell_count"]))))

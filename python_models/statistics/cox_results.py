"""cox_results: univariate and multivariate Cox models for PFS and OS, per study."""

from rwe_study.diagnostics import VERDICT_COLUMNS, diagnostics_config, flag_primary_estimates
from rwe_study.inputs import read_columns
from rwe_study.studies import STUDY_COLUMN, per_study, read_cohorts, study_rows
from rwe_study.tables import columns_read, cox_results
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    name = dbt.this.identifier
    inputs = read_cohorts(name, dbt.ref("study_specs"), columns_read, "cox_results",
                          cohort=dbt.ref("analysis_cohort"), matched=dbt.ref("matched_cohort"))
    diagnostics = read_columns(name, "study_diagnostics", dbt.ref("study_diagnostics"),
                               [STUDY_COLUMN, *VERDICT_COLUMNS])

    def study_table(study_id, study):
        table = cox_results(study_rows(inputs.cohort, study_id),
                            study_rows(inputs.matched, study_id), study["cox_terms"],
                            study["alpha"])
        return flag_primary_estimates(table, study_rows(diagnostics, study_id),
                                      diagnostics_config(study)["primary_endpoint"],
                                      term_col="term")

    return with_run_stamp(per_study(inputs.params, study_table))

"""cox_results: univariate and multivariate Cox models for PFS and OS, per study."""

from rwe_study.diagnostics import diagnostics_config, flag_primary_estimates
from rwe_study.studies import columns_for_every_study, parameters_by_study, per_study, study_rows
from rwe_study.tables import columns_read, cox_results
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = parameters_by_study(dbt.ref("study_specs").df())
    cohort = dbt.ref("analysis_cohort").select(
        *columns_for_every_study(columns_read, "cox_results", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_for_every_study(columns_read, "cox_results", params, "matched_cohort")).df()
    diagnostics = dbt.ref("study_diagnostics").df()

    def study_table(study_id, study):
        table = cox_results(study_rows(cohort, study_id), study_rows(matched, study_id),
                            study["cox_terms"], study["alpha"])
        return flag_primary_estimates(table, study_rows(diagnostics, study_id),
                                      diagnostics_config(study)["primary_endpoint"],
                                      term_col="term")

    return with_run_stamp(per_study(params, study_table))

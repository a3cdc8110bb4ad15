"""evalues: E-values of every hazard ratio of the treatment term."""

from rwe_study.diagnostics import columns_read, diagnostics_config, evalue_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    params = dbt.config.get("meta")
    survival = dbt.ref("survival_summary").df()
    cox = dbt.ref("cox_results").df()
    subgroups = dbt.ref("subgroup_hr").df()
    cohort = dbt.ref("analysis_cohort").select(*columns_read("evalues", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("evalues", params, "matched_cohort")).df()
    return with_run_stamp(evalue_table(
        survival, cox, subgroups, cohort, matched, params["subgroups"],
        diagnostics_config(params)["rare_outcome_threshold"]))

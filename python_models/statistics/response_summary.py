"""response_summary: best overall response, ORR and DCR by cohort and arm."""

from rwe_study.tables import columns_read, response_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("dq_results")
    params = dbt.config.get("meta")
    cohort = dbt.ref("analysis_cohort").select(*columns_read("response_summary", params)).df()
    matched = dbt.ref("matched_cohort").select(
        *columns_read("response_summary", params, "matched_cohort")).df()
    return with_run_stamp(response_table(cohort, matched, params["alpha"],
                                         params["min_cell_count"]))

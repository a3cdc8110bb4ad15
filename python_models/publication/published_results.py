"""published_results: copy every result table to the read-only published copy.

This model depends on every published table, so dbt build runs it last, and
only if each of them and their tests passed: a failed build never publishes.
"""

from rwe_warehouse.provenance import with_run_stamp
from rwe_warehouse.publish import publish_tables, warehouse_path


def model(dbt, session):
    dbt.config(materialized="table")
    published = [
        # The literal refs make dbt order this model after every table it copies.
        ("analysis_cohort", dbt.ref("analysis_cohort")),
        ("adverse_events", dbt.ref("adverse_events")),
        ("quarantine", dbt.ref("quarantine")),
        ("row_accounting", dbt.ref("row_accounting")),
        ("dq_results", dbt.ref("dq_results")),
        ("ps_scores", dbt.ref("ps_scores")),
        ("matched_pairs", dbt.ref("matched_pairs")),
        ("matched_cohort", dbt.ref("matched_cohort")),
        ("covariate_balance", dbt.ref("covariate_balance")),
        ("km_estimates", dbt.ref("km_estimates")),
        ("survival_summary", dbt.ref("survival_summary")),
        ("cox_results", dbt.ref("cox_results")),
        ("response_summary", dbt.ref("response_summary")),
        ("safety_summary", dbt.ref("safety_summary")),
        ("subgroup_hr", dbt.ref("subgroup_hr")),
    ]
    schema = dbt.config.get("meta")["published_schema"]
    publish_dir = warehouse_path(session).parent / "published"
    tables = [f"{schema}.{name}" for name, _ in published]
    return with_run_stamp(publish_tables(session, tables, publish_dir))

"""published_results: publish a new read-only version of the result tables.

This model depends on every published table, so dbt build runs it last, and
only if each of them and their tests passed: a failed build never publishes.
Aggregate tables (the ones BI may read, small cells suppressed) go to the
version's rwe_results.duckdb and parquet/; patient-level tables only to its
restricted/rwe_patient_level.duckdb (owner-only). The study report is rendered
from the version's rwe_results.duckdb into the version, before it becomes
current, so the report always describes the tables beside it. See
rwe_warehouse.publish and rwe_report.
"""

from datetime import UTC, datetime

import pandas as pd

from rwe_report import write_report
from rwe_study.inputs import read_columns
from rwe_warehouse.provenance import current_dbt_run, with_run_stamp
from rwe_warehouse.publish import (
    AGGREGATE_DATABASE_NAME,
    REPORT_NAME,
    PublishedLayout,
    publish_version,
    warehouse_path,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # The literal refs make dbt order this model after every table it copies.
    aggregate = [
        ("covariate_balance", dbt.ref("covariate_balance")),
        ("km_estimates", dbt.ref("km_estimates")),
        ("survival_summary", dbt.ref("survival_summary")),
        ("cox_results", dbt.ref("cox_results")),
        ("response_summary", dbt.ref("response_summary")),
        ("safety_summary", dbt.ref("safety_summary")),
        ("subgroup_hr", dbt.ref("subgroup_hr")),
        ("study_diagnostics", dbt.ref("study_diagnostics")),
        ("rmst_estimates", dbt.ref("rmst_estimates")),
        ("evalues", dbt.ref("evalues")),
        ("weighting_estimates", dbt.ref("weighting_estimates")),
        ("weighted_balance", dbt.ref("weighted_balance")),
        ("weighted_km_estimates", dbt.ref("weighted_km_estimates")),
        ("subgroup_balance", dbt.ref("subgroup_balance")),
        ("center_heterogeneity", dbt.ref("center_heterogeneity")),
        ("censoring_reasons", dbt.ref("censoring_reasons")),
        ("row_accounting", dbt.ref("row_accounting")),
        ("line_derivation_agreement", dbt.ref("line_derivation_agreement")),
        # what each study_id of the tables above is (its spec, as JSON)
        ("study_specs", dbt.ref("study_specs")),
    ]
    patient_level = [
        ("analysis_cohort", dbt.ref("analysis_cohort")),
        ("matched_cohort", dbt.ref("matched_cohort")),
        ("adverse_events", dbt.ref("adverse_events")),
        ("ps_scores", dbt.ref("ps_scores")),
        ("ps_weights", dbt.ref("ps_weights")),
        ("matched_pairs", dbt.ref("matched_pairs")),
        ("quarantine", dbt.ref("quarantine")),
        # observed_value can list up to 20 offending row values (ages, ids)
        ("dq_results", dbt.ref("dq_results")),
    ]
    # Not published: the delivery checks must pass (or be accepted) first.
    dbt.ref("delivery_gate")
    name = dbt.this.identifier
    inputs = read_columns(name, "run_inputs", dbt.ref("run_inputs"), [
        "input_fingerprint", "code_fingerprint", "package_versions"]).iloc[0]
    params = dbt.config.get("meta")
    schema = params["published_schema"]
    run = current_dbt_run()
    built_at = datetime.now(UTC)
    # one row per study of this version: the build, and the study's window and cut-off
    studies = read_columns(name, "study_specs", dbt.ref("study_specs"), [
        "study_id", "data_cutoff_date", "study_window_start_date", "study_window_end_date"
    ]).sort_values("study_id", ignore_index=True)
    run_info = with_run_stamp(pd.DataFrame({
        "run_id": run.run_id,
        "dbt_invocation_id": run.invocation_id,
        "study_id": studies["study_id"],
        "data_cutoff_date": studies["data_cutoff_date"],
        "study_window_start_date": studies["study_window_start_date"],
        "study_window_end_date": studies["study_window_end_date"],
        "input_fingerprint": inputs["input_fingerprint"],
        "code_fingerprint": inputs["code_fingerprint"],
        "package_versions": inputs["package_versions"],
    }), built_at)
    published = publish_version(
        session,
        aggregate_tables=[f"{schema}.{name}" for name, _ in aggregate],
        restricted_tables=[f"{schema}.{name}" for name, _ in patient_level],
        run_info=run_info,
        layout=PublishedLayout.beside(warehouse_path(session)),
        keep_versions=params["keep_versions"],
        add_to_version=lambda version: write_report(version / AGGREGATE_DATABASE_NAME,
                                                    version / REPORT_NAME),
    )
    return with_run_stamp(published, built_at)

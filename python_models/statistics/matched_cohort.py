"""matched_cohort: the matched patients with their analysis columns and pair."""

from rwe_study.tables import matched_cohort
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    cohort = dbt.ref("analysis_cohort").df()
    pairs = dbt.ref("matched_pairs").df()
    return with_run_stamp(matched_cohort(cohort, pairs))

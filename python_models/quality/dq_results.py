"""dq_results: Great Expectations results for the published tables, one row per expectation.

Validates analysis_cohort, adverse_events, quarantine and row_accounting, each
against expectations/<table>.json (rwe_quality.validate_tables), reading each
table in batches of rows so memory does not grow with the tables. Always
materialises: a failed expectation is a row with success = false, and the
singular test assert_no_critical_data_quality_failures turns critical
failures into a build failure, so the statistics models downstream of this
one are skipped. Only a broken suite file (GX dropped or rejected an
expectation), or a suite file without a table here, raises.
"""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

# The model's `dbt` argument shadows the dbt package: import from it at module level.
from dbt.flags import get_flags

from rwe_quality import validate_tables


def model(dbt, session):
    dbt.config(materialized="table")
    # Literal refs: dbt reads them to build this model after each table. The
    # order here is the row order of dq_results.
    relations = {
        "analysis_cohort": dbt.ref("analysis_cohort"),
        "adverse_events": dbt.ref("adverse_events"),
        "quarantine": dbt.ref("quarantine"),
        "row_accounting": dbt.ref("row_accounting"),
    }
    expectations_dir = Path(get_flags().PROJECT_DIR).resolve() / "expectations"
    # read in batches of rows (rwe_study.inputs.read_batches), never whole
    results = validate_tables(relations, expectations_dir, model=dbt.this.identifier)
    built_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    return results.assign(built_at=pd.Series(built_at, index=results.index,
                                             dtype="datetime64[us]"))

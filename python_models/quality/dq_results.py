"""dq_results: Great Expectations results for the published tables, one row per expectation.

Validates analysis_cohort, adverse_events, quarantine and row_accounting, each
against expectations/<table>.json (rwe_quality.validate_tables). Always
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
from rwe_study.inputs import read_every_column


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
    # every column: a suite may check any column and the set of columns
    frames = {table: read_every_column(dbt.this.identifier, table, relation)
              for table, relation in relations.items()}
    results = validate_tables(frames, expectations_dir)
    built_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    return results.assign(built_at=pd.Series(built_at, index=results.index,
                                             dtype="datetime64[us]"))

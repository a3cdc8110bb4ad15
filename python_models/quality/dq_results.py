"""dq_results: Great Expectations results for the study tables, one row per expectation.

Validates analysis_cohort and adverse_events against expectations/<table>.json
(rwe_quality.validate_frame). Always materialises: a failed expectation is a
row with success = false, and the singular test
assert_no_critical_data_quality_failures turns critical failures into a build
failure, so the statistics models downstream of this one are skipped. Only a
broken suite file (GX dropped or rejected an expectation) raises here.
"""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

# The model's `dbt` argument shadows the dbt package: import from it at module level.
from dbt.flags import get_flags

from rwe_quality import validate_frame


def model(dbt, session):
    dbt.config(materialized="table")
    cohort = dbt.ref("analysis_cohort").df()
    adverse_events = dbt.ref("adverse_events").df()
    expectations_dir = Path(get_flags().PROJECT_DIR).resolve() / "expectations"
    results = pd.concat(
        [
            validate_frame(cohort, expectations_dir / "analysis_cohort.json", "analysis_cohort"),
            validate_frame(adverse_events, expectations_dir / "adverse_events.json",
                           "adverse_events"),
        ],
        ignore_index=True,
    )
    built_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    return results.assign(built_at=pd.Series(built_at, index=results.index,
                                             dtype="datetime64[us]"))

"""Data-quality gate of the study: Great Expectations suites run on pandas frames.

Pure Python (no dbt import), so the same code runs under pytest and inside
the dbt Python model ``python_models/quality/dq_results.py``.

- :func:`load_suite` loads ``expectations/<table>.json`` and refuses a suite
  that Great Expectations would load only partially.
- :func:`validate_frame` returns one row per expectation (see
  :data:`RESULT_DTYPES`); failed expectations are rows, never exceptions.
- :func:`validate_table` gives the same rows for a table read in batches
  (what ``dbt.ref`` returns), in memory that does not grow with its rows.
- :func:`validate_tables` validates every table against its suite and refuses
  a suite file without a table (or a table without a suite).
"""

from rwe_quality.suites import SEVERITIES, SuiteLoadError, load_suite
from rwe_quality.validation import (
    BATCH_ROWS,
    RESULT_COLUMNS,
    RESULT_DTYPES,
    validate_frame,
    validate_table,
    validate_tables,
)

__all__ = [
    "BATCH_ROWS",
    "RESULT_COLUMNS",
    "RESULT_DTYPES",
    "SEVERITIES",
    "SuiteLoadError",
    "load_suite",
    "validate_frame",
    "validate_table",
    "validate_tables",
]

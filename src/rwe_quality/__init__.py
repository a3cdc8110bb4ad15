"""Data-quality gate of the study: Great Expectations suites run on pandas frames.

Pure Python (no dbt import), so the same code runs under pytest and inside
the dbt Python model ``python_models/quality/dq_results.py``.

- :func:`load_suite` loads ``expectations/<table>.json`` and refuses a suite
  that Great Expectations would load only partially.
- :func:`validate_frame` returns one row per expectation (see
  :data:`RESULT_DTYPES`); failed expectations are rows, never exceptions.
"""

from rwe_quality.suites import SEVERITIES, SuiteLoadError, load_suite
from rwe_quality.validation import RESULT_COLUMNS, RESULT_DTYPES, validate_frame

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_DTYPES",
    "SEVERITIES",
    "SuiteLoadError",
    "load_suite",
    "validate_frame",
]

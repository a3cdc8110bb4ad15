"""The study report: one self-contained HTML file built from the published result tables.

Usage::

    python -m rwe_report --database warehouse/published/current/rwe_results.duckdb --out report.html

Modules: :mod:`rwe_report.figures` (DataFrames in, PNG bytes out),
:mod:`rwe_report.tables` (DataFrames in, HTML tables out) and
:mod:`rwe_report.build` (load, render, write).
"""

from rwe_report.build import (
    RESULT_COLUMNS,
    ReportInputError,
    load_results,
    render_report,
    write_report,
)

__all__ = ["RESULT_COLUMNS", "ReportInputError", "load_results", "render_report", "write_report"]

"""Command line: ``python -m rwe_report --database <duckdb file> --out <report.html>``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import duckdb

from rwe_report.build import ReportInputError, write_report

# The aggregate tables of the current published version (never the patient-level file).
DEFAULT_DATABASE = "warehouse/published/current/rwe_results.duckdb"


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        ``database``, ``out`` and ``schema``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m rwe_report",
        description="Write the study report (one self-contained HTML file) from the "
                    "published result tables.")
    parser.add_argument("--database", default=DEFAULT_DATABASE,
                        help=f"DuckDB file with the result tables (default: {DEFAULT_DATABASE})")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--schema", default="main",
                        help="schema of the result tables (default: main, as in the published "
                             "copy; the working warehouse uses marts)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 written, 2 unusable input)."""
    arguments = parse_arguments(argv)
    try:
        written = write_report(arguments.database, arguments.out, arguments.schema)
    except (FileNotFoundError, ReportInputError, duckdb.Error) as error:
        print(f"rwe_report: {error}", file=sys.stderr)
        return 2
    print(f"rwe_report: wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

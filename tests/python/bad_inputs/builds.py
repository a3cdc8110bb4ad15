"""Run the bad-input suite's dbt invocations two at a time.

The suite's builds are independent (own raw copy, DuckDB file and target
directory), so the session fixture submits them all at once and each test
waits only for the build it reads. Two workers match the two cores the suite
is sized for. The file-level failures run one after another in one lane that
reuses dbt's parse (``run_in_one_lane``): most of a failing build's time is
starting dbt and parsing the project.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from dbt_harness import DbtRun, run_dbt

#: The SQL layer, the audit marts, the data-quality gate, the delivery checks
#: and run_inputs, whose independent recount of the raw files
#: assert_row_accounting_balances compares with row_accounting. The statistics
#: models (python_models/statistics) are not needed to judge inputs, and
#: "cautious" keeps out the tests of their tables.
STUDY_BUILD = ["build", "--select", "+dq_results", "+quarantine", "+row_accounting",
               "+delivery_gate", "+run_inputs", "--indirect-selection", "cautious"]
#: Seeds and the staging views: enough to pass (or fail) the raw-export gate
#: and to read every raw row through its center's staging model.
STAGING_BUILD = ["build", "--select", "+tag:staging", "--indirect-selection", "cautious"]


class BuildPool:
    """Jobs (dbt invocations) run in the background, looked up by name."""

    def __init__(self, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers)
        self._futures: dict[str, Future] = {}

    def submit(self, name: str, args: list[str], workdir: Path, raw_data_dir: Path) -> None:
        """One dbt invocation on its own raw copy."""
        self.submit_job(name, run_dbt, args, workdir, raw_data_dir=raw_data_dir)

    def submit_job(self, name: str, job: Callable, *args, **kwargs) -> None:
        self._futures[name] = self._executor.submit(job, *args, **kwargs)

    def result(self, name: str):
        return self._futures[name].result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def run_in_one_lane(cases: list, lane: Path, args: list[str],
                    prepare: Callable[[object, Path], dict],
                    extra_vars: dict | None = None) -> dict[str, tuple[DbtRun, dict]]:
    """Run ``args`` once per case, one after the other, each time on a fresh
    raw copy that ``prepare(case, raw_dir)`` breaks. All runs share the raw
    path, the vars and the target directory, so dbt parses the project once
    and every later run uses partial parsing (about 2 s less each). Only for
    runs that the raw-export gate stops: they leave nothing behind that the
    next case could read. Returns case kind -> (run, what ``prepare`` returned)."""
    raw = lane / "raw"
    results = {}
    for case in cases:
        _remove(raw)
        info = prepare(case, raw)
        results[case.kind] = (run_dbt([*args, "--partial-parse"], lane / "work",
                                      raw_data_dir=raw, extra_vars=extra_vars), info)
    return results


def _remove(raw: Path) -> None:
    """Remove a raw copy, and a folder a case moved out of it (links are removed, not followed)."""
    for outside in raw.parent.glob("outside_*"):
        shutil.rmtree(outside)
    shutil.rmtree(raw, ignore_errors=True)


def query(run: DbtRun, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(run.warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def published_text_columns(run: DbtRun, schema: str = "marts") -> list[tuple[str, str]]:
    """(table, column) of every text column of the published schema."""
    return query(run, "select table_name, column_name from information_schema.columns "
                      "where table_schema = ? and data_type = 'VARCHAR' "
                      "order by table_name, column_name", [schema])


def tables_containing(run: DbtRun, text: str, schema: str = "marts") -> list[str]:
    """'table.column' of every published text column holding ``text``."""
    found = []
    for table, column in published_text_columns(run, schema):
        hits = query(run, f'select count(*) from "{schema}"."{table}" '
                          f'where contains("{column}", ?)', [text])[0][0]
        if hits:
            found.append(f"{table}.{column}")
    return found

"""Validate a table against a suite file: one result row per expectation.

GX runs in an ephemeral (in-memory) data context with a pandas datasource, so
nothing is written to disk and no GX project directory is needed. A failed
expectation is data, not an error: :func:`validate_frame` and
:func:`validate_table` only raise when the suite file itself is broken
(:class:`~rwe_quality.suites.SuiteLoadError`). :func:`validate_frame` hands GX
the whole frame; :func:`validate_table` reads the table in batches of rows and
gives the same rows in memory bounded by a batch.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.expectation import _format_map_output, _mostly_success
from great_expectations.expectations.expectation_configuration import parse_result_format

import rwe_quality.metrics  # noqa: F401  (registers the vectorised metrics)
from rwe_quality.suites import LoadedSuite, SuiteLoadError, load_suite_with_entries
from rwe_study.inputs import column_names, read_batches, read_every_column, repeated_keys

#: Column name -> pandas dtype of the frame :func:`validate_frame` returns. The
#: nullable extension dtypes keep the warehouse types stable (VARCHAR, BIGINT,
#: DOUBLE, BOOLEAN) even when every value of a column is null.
RESULT_DTYPES: dict[str, str] = {
    "table_name": "string",
    "suite_name": "string",
    "expectation_index": "int64",
    "expectation_type": "string",
    "column_name": "string",
    "kwargs_json": "string",
    "severity": "string",
    "success": "bool",
    "unexpected_count": "Int64",
    "unexpected_percent": "Float64",
    "observed_value": "string",
    "reason": "string",
    "exception_message": "string",
}
RESULT_COLUMNS: tuple[str, ...] = tuple(RESULT_DTYPES)

_PARTIAL_LIST_LIMIT = 20


#: rows GX validates at a time: one batch of analysis_cohort (37 columns, text as Python
#: strings) is some 100-200 MB in pandas with GX's copies, and each batch costs GX a fixed
#: setup (building the metrics graph), so much smaller batches spend time on setup while
#: larger ones only add memory. Tests pass their own ``batch_rows``.
BATCH_ROWS = 200_000

#: Expectations whose result over a table is the sum of their results over its rows in
#: batches: the map expectations (one yes/no per row: counts add up, the partial list is
#: the first unexpected values in row order) and the ones that look only at column names
#: or dtypes, which every batch shares (:func:`rwe_study.inputs.read_batches` keeps the
#: whole column's dtype).
BATCHWISE = frozenset({
    "expect_column_to_exist",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_in_set",
    "expect_select_column_values_to_be_unique_within_record",
})
#: Table-wide: validated by GX on a frame of the table's row count and no column.
ROW_COUNT = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
#: Across rows: the engine finds the repeated keys, the batches the rows that hold them.
#: Any other expectation (an aggregate such as a mean) is validated by GX on every column
#: of the table read in one go, as its result cannot be added up from batches.
UNIQUE_ACROSS_ROWS = frozenset({"expect_compound_columns_to_be_unique"})


@dataclass(frozen=True)
class _Outcome:
    """What the result rows need of one GX result (or of several, combined)."""

    success: bool
    detail: Mapping[str, Any]
    message: str | None


def validate_frame(df: pd.DataFrame, suite_path: str | Path, table_name: str) -> pd.DataFrame:
    """Validate ``df`` against the suite in ``suite_path``, all of it in one GX run.

    Parameters
    ----------
    df
        The table to check, as pandas (e.g. ``dbt.ref("analysis_cohort").df()``).
    suite_path
        A GX ExpectationSuite JSON file, loaded with the count guard of
        :func:`rwe_quality.suites.load_suite`.
    table_name
        Written to every result row.

    Returns
    -------
    pandas.DataFrame
        One row per expectation, ordered by ``expectation_index`` (its position
        in the JSON file), with the columns and dtypes of :data:`RESULT_DTYPES`.
        ``unexpected_count``/``unexpected_percent`` are null for table-level and
        aggregate expectations. ``observed_value`` is a JSON string: GX's
        ``observed_value`` when it reports one, otherwise
        ``{"element_count", "missing_count", "partial_unexpected_list"}`` (the
        list sorted, so the text does not depend on row order); null when GX
        raised. If GX raised while evaluating an expectation (a missing column,
        an unsupported metric), that row has ``success = False`` and the message
        in ``exception_message``. :func:`validate_table` gives the same rows
        without holding the table in memory.

    Raises
    ------
    SuiteLoadError
        Only when the suite file is broken. Failed expectations never raise.
    """
    loaded = load_suite_with_entries(suite_path)
    try:
        outcomes = _run_gx(_Validator(), df, _sub_suite(loaded, range(len(loaded.entries))))
    except _RunFailed as failed:
        return _result_rows(loaded, table_name, {}, str(failed))
    return _result_rows(loaded, table_name, outcomes, None)


def validate_table(table: Any, suite_path: str | Path, table_name: str, *,
                   model: str = "dq_results", batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """:func:`validate_frame`'s rows for ``table``, read ``batch_rows`` rows at a time.

    ``table`` is what ``dbt.ref`` hands a Python model (read through
    :mod:`rwe_study.inputs`). Memory is bounded by one batch, whatever the
    table's length: the row-wise expectations (:data:`BATCHWISE`) run on each
    batch and their results are added up; the row count is validated on a
    frame of that many rows and no column; compound uniqueness
    (:data:`UNIQUE_ACROSS_ROWS`) asks the engine for the repeated keys, so only
    the rows holding one are kept (none on a clean table). Any other kind of
    expectation is validated on the whole table read in one go.
    ``model`` names the reading model in input errors.
    """
    loaded = load_suite_with_entries(suite_path)
    columns = column_names(model, table_name, table)
    groups: dict[str, list[int]] = {"batchwise": [], "row_count": [], "unique": [], "whole": []}
    for index, entry in enumerate(loaded.entries):
        groups[_group(entry, columns)].append(index)
    validator = _Validator()
    try:
        outcomes = _validate_in_batches(validator, loaded, table, table_name, model, columns,
                                        batch_rows, groups)
        if groups["whole"]:
            # every column: such an expectation may read any of them
            frame = read_every_column(model, table_name, table)
            outcomes.update(_run_gx(validator, frame, _sub_suite(loaded, groups["whole"])))
    except _RunFailed as failed:
        return _result_rows(loaded, table_name, {}, str(failed))
    return _result_rows(loaded, table_name, outcomes, None)


def validate_tables(tables: Mapping[str, Any], expectations_dir: str | Path, *,
                    model: str = "dq_results", batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """Validate every table against ``expectations_dir/<table>.json``, all suites at once.

    Parameters
    ----------
    tables
        Table name -> the table (a pandas DataFrame, or what ``dbt.ref``
        returns: see :func:`validate_table`), in the order the rows should come out.
    expectations_dir
        The directory of suite files. It must hold exactly one ``<table>.json``
        per table and nothing else: a suite without a table would silently go
        unchecked, and a table without a suite would be published unvalidated.
    model, batch_rows
        Passed to :func:`validate_table`.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`validate_table` for each table, concatenated in the
        order of ``tables`` (each ordered by ``expectation_index``).

    Raises
    ------
    SuiteLoadError
        If a suite file is broken (see :func:`rwe_quality.suites.load_suite`),
        if the suite files and the tables do not match one to one, or if a
        suite's ``name`` is not its table's name. The message names the file.
    """
    expectations_dir = Path(expectations_dir)
    suite_paths = {path.stem: path for path in sorted(expectations_dir.glob("*.json"))}
    unvalidated = [str(suite_paths[name]) for name in suite_paths if name not in tables]
    if unvalidated:
        raise SuiteLoadError(
            f"{', '.join(unvalidated)}: a suite file with no table to validate; add the "
            "table to dq_results (python_models/quality/dq_results.py) or remove the file."
        )
    missing = [str(expectations_dir / f"{name}.json") for name in tables
               if name not in suite_paths]
    if missing:
        raise SuiteLoadError(f"{', '.join(missing)}: no suite file for a validated table.")
    results = []
    for table_name, table in tables.items():
        result = validate_table(table, suite_paths[table_name], table_name, model=model,
                                batch_rows=batch_rows)
        suite_name = result["suite_name"].iloc[0]
        if suite_name != table_name:
            raise SuiteLoadError(
                f"{suite_paths[table_name]}: the suite is named {suite_name!r} but "
                f"validates the table {table_name!r}; name it after its table."
            )
        results.append(result)
    return _typed_frame([]) if not results else pd.concat(results, ignore_index=True)


def _group(entry: Mapping[str, Any], columns: list[str]) -> str:
    kind = entry["type"]
    if kind in BATCHWISE:
        return "batchwise"
    if kind in ROW_COUNT:
        return "row_count"
    key = entry["kwargs"].get("column_list") or []
    if (kind in UNIQUE_ACROSS_ROWS and "row_condition" not in entry["kwargs"]
            and all(column in columns for column in key)):
        return "unique"
    if kind in UNIQUE_ACROSS_ROWS:  # GX reports a missing column the same on any batch
        return "batchwise"
    return "whole"


def _validate_in_batches(validator: _Validator, loaded: LoadedSuite, table: Any,
                         table_name: str, model: str, columns: list[str], batch_rows: int,
                         groups: Mapping[str, list[int]]) -> dict[int, _Outcome]:
    """Outcomes of every expectation but the ``whole`` group, reading one batch at a time."""
    batchwise = _sub_suite(loaded, groups["batchwise"]) if groups["batchwise"] else None
    unique = {index: _UniqueKey(loaded.entries[index]["kwargs"], model, table_name, table)
              for index in groups["unique"]}
    per_batch: dict[int, list[_Outcome]] = {index: [] for index in groups["batchwise"]}
    rows = 0
    for batch in read_batches(model, table_name, table, columns, batch_rows):
        rows += len(batch)
        if batchwise is not None:
            for index, outcome in _run_gx(validator, batch, batchwise).items():
                per_batch[index].append(outcome)
        for key in unique.values():
            key.add(batch)
    outcomes = {index: _combined(loaded, index, found) for index, found in per_batch.items()}
    if groups["row_count"]:
        outcomes.update(_run_gx(validator, pd.DataFrame(index=pd.RangeIndex(rows)),
                                _sub_suite(loaded, groups["row_count"])))
    for index, key in unique.items():
        outcomes[index] = key.outcome(validator, loaded, index, rows)
    return outcomes


class _UniqueKey:
    """expect_compound_columns_to_be_unique over batches, with the engine's repeated keys.

    GX flags every row whose key (all of ``column_list``) occurs more than once
    among the rows it does not ignore (``ignore_row_if``). The engine lists the
    keys that occur more than once; the batches give the ignored rows' count
    and, in row order, the rows holding a repeated key: GX on just those rows
    flags each of them (every row of a repeated key is there) and lists the
    first of them, so its counts and list are those of the whole table.
    """

    def __init__(self, kwargs: Mapping[str, Any], model: str, table_name: str, table: Any):
        self.columns = list(kwargs["column_list"])
        self.ignore = kwargs.get("ignore_row_if", "all_values_are_missing")
        repeated = repeated_keys(model, table_name, table, self.columns)
        self.repeated = {key for key in _key_tuples(repeated, self.columns)
                         if not self._ignored_key(key)}
        self.ignored_rows = 0
        self.holding: list[pd.DataFrame] = []

    def _ignored_key(self, key: tuple) -> bool:
        if self.ignore == "all_values_are_missing":
            return all(value is None for value in key)
        if self.ignore == "any_value_is_missing":
            return any(value is None for value in key)
        return False

    def add(self, batch: pd.DataFrame) -> None:
        missing = batch[self.columns].isna()
        if self.ignore == "all_values_are_missing":
            self.ignored_rows += int(missing.all(axis=1).sum())
        elif self.ignore == "any_value_is_missing":
            self.ignored_rows += int(missing.any(axis=1).sum())
        if self.repeated:
            keys = _key_tuples(batch, self.columns)
            held = np.fromiter((key in self.repeated for key in keys), dtype=bool,
                               count=len(batch))
            if held.any():
                self.holding.append(batch.loc[held, self.columns])

    def outcome(self, validator: _Validator, loaded: LoadedSuite, index: int,
                rows: int) -> _Outcome:
        suite = _sub_suite(loaded, [index])
        if not self.holding:
            flagged = _Outcome(True, {"unexpected_count": 0, "partial_unexpected_list": []}, None)
        else:
            frame = pd.concat(self.holding, ignore_index=True)
            flagged = _run_gx(validator, frame, suite)[index]
            if flagged.message is not None:
                return flagged
        partial = list(flagged.detail.get("partial_unexpected_list") or [])
        return _map_outcome(loaded, index, rows, rows - self.ignored_rows,
                            int(flagged.detail["unexpected_count"]), partial)


def _key_tuples(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Each row's key as a tuple of Python values, a missing value as None."""
    values = [frame[column].astype(object).where(frame[column].notna(), None).tolist()
              for column in columns]
    return list(zip(*values, strict=True)) if values else []


def _combined(loaded: LoadedSuite, index: int, outcomes: list[_Outcome]) -> _Outcome:
    """One expectation's outcome over the table from its outcomes over the batches, in order."""
    for outcome in outcomes:
        if outcome.message is not None:
            return outcome
    first = outcomes[0]
    if "unexpected_count" not in first.detail:  # names or dtypes: the same on every batch
        if any(outcome != first for outcome in outcomes[1:]):
            kind = loaded.entries[index]["type"]
            raise RuntimeError(f"{loaded.path}: expectation {index} ({kind}) gave different "
                               "results on different batches of the table")
        return first
    elements = sum(int(outcome.detail["element_count"]) for outcome in outcomes)
    nonnull = (None if "missing_count" not in first.detail else
               elements - sum(int(outcome.detail["missing_count"]) for outcome in outcomes))
    unexpected = sum(int(outcome.detail["unexpected_count"]) for outcome in outcomes)
    partial: list[Any] = []
    for outcome in outcomes:
        partial.extend(outcome.detail.get("partial_unexpected_list") or [])
    return _map_outcome(loaded, index, elements, nonnull, unexpected, partial)


def _map_outcome(loaded: LoadedSuite, index: int, elements: int, nonnull: int | None,
                 unexpected: int, partial: list[Any]) -> _Outcome:
    """GX's own verdict and BASIC result for a map expectation from its counts."""
    mostly = loaded.suite.expectations[index].mostly if hasattr(
        loaded.suite.expectations[index], "mostly") else 1
    # GX's rule: the share of the rows considered that pass is at least ``mostly``, vacuously
    # true with none. Considered: the non-missing rows, or every row for the expectations
    # that report no missing count (the null checks, where a missing value is the point).
    considered = elements if nonnull is None else nonnull
    success = True if elements == 0 or considered == 0 else _mostly_success(considered, unexpected,
                                                                            mostly)
    result = _format_map_output(result_format=parse_result_format("BASIC"), success=success,
                                element_count=elements, nonnull_count=nonnull,
                                unexpected_count=unexpected, unexpected_list=partial,
                                unexpected_index_list=None)
    return _Outcome(bool(result["success"]), result["result"], None)


def _sub_suite(loaded: LoadedSuite, indices: Any) -> ExpectationSuite:
    """The suite's expectations at ``indices``, each tagged with its index (GX's id)."""
    indices = list(indices)
    suite = ExpectationSuite(name=loaded.suite.name,
                             expectations=copy.deepcopy([dict(loaded.entries[index])
                                                         for index in indices]))
    if len(suite.expectations) != len(indices):  # the file's own count guard passed already
        raise SuiteLoadError(f"{loaded.path}: Great Expectations dropped expectations it had "
                             "loaded from the same entries before")
    # Results come back in GX's own order, not the suite's: match them by this id.
    for expectation, index in zip(suite.expectations, indices, strict=True):
        expectation.id = str(uuid.UUID(int=index))
    return suite


class _Validator:
    """One ephemeral GX context and pandas asset, reused for every frame of a run."""

    def __init__(self) -> None:
        # In-memory stores, no temporary data-docs site, no tqdm bars in the dbt log.
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        self.batch_definition = (
            context.data_sources.add_pandas("rwe_quality")
            .add_dataframe_asset("frame")
            .add_batch_definition_whole_dataframe("whole_frame")
        )


class _RunFailed(Exception):
    """GX itself raised (not an expectation): every row of the table reports the message."""


def _run_gx(validator: _Validator, df: pd.DataFrame, suite: ExpectationSuite,
            ) -> dict[int, _Outcome]:
    try:
        batch = validator.batch_definition.get_batch(batch_parameters={"dataframe": df})
        validation = batch.validate(suite, result_format="BASIC")
    except Exception as error:  # never let GX itself stop the build; report it per row
        raise _RunFailed(f"validation run failed: {type(error).__name__}: {error}") from error
    return {uuid.UUID(result.expectation_config.id).int: _outcome(result)
            for result in validation.results}


def _outcome(result: Any) -> _Outcome:
    return _Outcome(bool(result.success), dict(result.result or {}),
                    _exception_message(result.exception_info))


def _result_rows(loaded: LoadedSuite, table_name: str, outcomes: Mapping[int, _Outcome],
                 run_error: str | None) -> pd.DataFrame:
    rows = []
    for index, (entry, expectation) in enumerate(
        zip(loaded.entries, loaded.suite.expectations, strict=True)
    ):
        row = {
            "table_name": table_name,
            "suite_name": loaded.suite.name,
            "expectation_index": index,
            "expectation_type": entry["type"],
            "column_name": _column_name(entry["type"], entry["kwargs"]),
            "kwargs_json": _to_json(entry["kwargs"]),
            "severity": _severity(expectation.severity),
            "reason": entry["meta"]["reason"],
        }
        outcome = outcomes.get(index)
        if outcome is None:
            row.update(success=False, unexpected_count=None, unexpected_percent=None,
                       observed_value=None,
                       exception_message=run_error or "Great Expectations returned no result")
        else:
            row.update(_result_fields(outcome))
        rows.append(row)
    return _typed_frame(rows)


def _result_fields(outcome: _Outcome) -> dict[str, Any]:
    message = outcome.message
    detail = outcome.detail
    if message is not None:
        return {"success": False, "unexpected_count": None, "unexpected_percent": None,
                "observed_value": None, "exception_message": message}
    if "observed_value" in detail:
        observed: Any = detail["observed_value"]
    elif "partial_unexpected_list" in detail:
        partial = [_jsonable(value) for value in detail["partial_unexpected_list"]]
        observed = {key: detail[key] for key in ("element_count", "missing_count") if key in detail}
        observed["partial_unexpected_list"] = sorted(partial, key=_to_json)[:_PARTIAL_LIST_LIMIT]
    else:
        observed = None
    return {
        "success": outcome.success,
        "unexpected_count": _int_or_none(detail.get("unexpected_count")),
        "unexpected_percent": _float_or_none(detail.get("unexpected_percent")),
        "observed_value": None if observed is None else _to_json(observed),
        "exception_message": None,
    }


def _exception_message(info: Any) -> str | None:
    """GX gives either one exception_info dict or a dict of them keyed by metric id."""
    if not info:
        return None
    if "raised_exception" in info:
        infos = [info]
    else:
        infos = [value for value in info.values() if isinstance(value, Mapping)]
    messages = sorted({str(item.get("exception_message") or "exception without message")
                       for item in infos if item.get("raised_exception")})
    return "; ".join(messages) if messages else None


def _column_name(expectation_type: str, kwargs: Mapping[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if "column_list" in kwargs and not expectation_type.startswith("expect_table_"):
        return ", ".join(str(column) for column in kwargs["column_list"])
    return None


def _severity(value: Any) -> str:
    return str(getattr(value, "value", value))


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _jsonable(value: Any) -> Any:
    """Plain-JSON version of a GX result value (numpy scalars, NA, tuples, dates)."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _to_json(value: Any) -> str:
    return json.dumps(_jsonable(value), sort_keys=True, allow_nan=False)


def _typed_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    return frame.astype(RESULT_DTYPES).reset_index(drop=True)

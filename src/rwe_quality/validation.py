"""Validate a pandas DataFrame against a suite file: one result row per expectation.

GX runs in an ephemeral (in-memory) data context with a pandas datasource, so
nothing is written to disk and no GX project directory is needed. A failed
expectation is data, not an error: :func:`validate_frame` only raises when
the suite file itself is broken (:class:`~rwe_quality.suites.SuiteLoadError`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

import rwe_quality.metrics  # noqa: F401  (registers the vectorised pair metric)
from rwe_quality.suites import SuiteLoadError, load_suite_with_entries

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


def validate_frame(df: pd.DataFrame, suite_path: str | Path, table_name: str) -> pd.DataFrame:
    """Validate ``df`` against the suite in ``suite_path``.

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
        in ``exception_message``.

    Raises
    ------
    SuiteLoadError
        Only when the suite file is broken. Failed expectations never raise.
    """
    loaded = load_suite_with_entries(suite_path)
    suite = loaded.suite
    # Results come back in GX's own order, not the suite's: tag each
    # expectation with a deterministic id and match results by it.
    ids = [str(uuid.UUID(int=index)) for index in range(len(suite.expectations))]
    for expectation, expectation_id in zip(suite.expectations, ids, strict=True):
        expectation.id = expectation_id

    results_by_id: dict[str, Any] = {}
    run_error: str | None = None
    try:
        results_by_id = _run_gx(df, suite)
    except Exception as error:  # never let GX itself stop the build; report it per row
        run_error = f"validation run failed: {type(error).__name__}: {error}"

    rows = []
    for index, (entry, expectation) in enumerate(
        zip(loaded.entries, suite.expectations, strict=True)
    ):
        row = {
            "table_name": table_name,
            "suite_name": suite.name,
            "expectation_index": index,
            "expectation_type": entry["type"],
            "column_name": _column_name(entry["type"], entry["kwargs"]),
            "kwargs_json": _to_json(entry["kwargs"]),
            "severity": _severity(expectation.severity),
            "reason": entry["meta"]["reason"],
        }
        result = results_by_id.get(ids[index])
        if result is None:
            row.update(success=False, unexpected_count=None, unexpected_percent=None,
                       observed_value=None,
                       exception_message=run_error or "Great Expectations returned no result")
        else:
            row.update(_result_fields(result))
        rows.append(row)
    return _typed_frame(rows)


def validate_tables(frames: Mapping[str, pd.DataFrame], expectations_dir: str | Path,
                    ) -> pd.DataFrame:
    """Validate every table against ``expectations_dir/<table>.json``, all suites at once.

    Parameters
    ----------
    frames
        Table name -> the table as pandas, in the order the rows should come out.
    expectations_dir
        The directory of suite files. It must hold exactly one ``<table>.json``
        per frame and nothing else: a suite without a table would silently go
        unchecked, and a table without a suite would be published unvalidated.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`validate_frame` for each table, concatenated in the
        order of ``frames`` (each ordered by ``expectation_index``).

    Raises
    ------
    SuiteLoadError
        If a suite file is broken (see :func:`rwe_quality.suites.load_suite`),
        if the suite files and the tables do not match one to one, or if a
        suite's ``name`` is not its table's name. The message names the file.
    """
    expectations_dir = Path(expectations_dir)
    suite_paths = {path.stem: path for path in sorted(expectations_dir.glob("*.json"))}
    unvalidated = [str(suite_paths[name]) for name in suite_paths if name not in frames]
    if unvalidated:
        raise SuiteLoadError(
            f"{', '.join(unvalidated)}: a suite file with no table to validate; add the "
            "table to dq_results (python_models/quality/dq_results.py) or remove the file."
        )
    missing = [str(expectations_dir / f"{name}.json") for name in frames
               if name not in suite_paths]
    if missing:
        raise SuiteLoadError(f"{', '.join(missing)}: no suite file for a validated table.")
    results = []
    for table_name, frame in frames.items():
        result = validate_frame(frame, suite_paths[table_name], table_name)
        suite_name = result["suite_name"].iloc[0]
        if suite_name != table_name:
            raise SuiteLoadError(
                f"{suite_paths[table_name]}: the suite is named {suite_name!r} but "
                f"validates the table {table_name!r}; name it after its table."
            )
        results.append(result)
    return _typed_frame([]) if not results else pd.concat(results, ignore_index=True)


def _run_gx(df: pd.DataFrame, suite: Any) -> dict[str, Any]:
    # In-memory stores, no temporary data-docs site, no tqdm bars in the dbt log.
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch_definition = (
        context.data_sources.add_pandas("rwe_quality")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    validation = batch.validate(suite, result_format="BASIC")
    return {result.expectation_config.id: result for result in validation.results}


def _result_fields(result: Any) -> dict[str, Any]:
    message = _exception_message(result.exception_info)
    detail = dict(result.result or {})
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
        "success": bool(result.success),
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

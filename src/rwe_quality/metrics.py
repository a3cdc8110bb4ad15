"""Vectorised pandas implementations of two Great Expectations metrics.

Importing this module re-registers them for the pandas engine, with the same
meaning as GX's own; the SQL and Spark implementations are GX's, inherited
unchanged.

- ``column_pair_values.in_set`` (``expect_column_pair_values_to_be_in_set``):
  GX 1.24 walks the frame with ``iterrows()``; at 1,000,000 patients the five
  pair expectations of the analysis_cohort suite took about 94 % of the
  validation node (benchmarks/RESULTS.md). Here: column-wise comparisons; a
  row passes when ``(A, B)``, with a missing value read as ``None``, is one of
  ``value_pairs_set``.
- ``column_values.between`` (``expect_column_values_to_be_between``): GX
  compares column-wise only when the dtype equals Python's ``int`` or
  ``float`` (int64, float64); DuckDB's INTEGER arrives as int32, which GX
  checks with a Python call per value (8.6 million calls for the nine
  between expectations on int32 columns at 1,000,000 patients, 13 % of the
  validation under cProfile). Here any numeric, non-boolean column with
  numeric bounds takes GX's own column-wise comparison; any other column
  (text, dates, booleans) GX's own rule, unchanged.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.metrics.column_map_metrics.column_values_between import (
    ColumnValuesBetween,
)
from great_expectations.expectations.metrics.column_pair_map_metrics.column_pair_values_in_set import (  # noqa: E501
    ColumnPairValuesInSet,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    column_condition_partial,
    column_pair_condition_partial,
)


def pair_in_set(column_a: pd.Series, column_b: pd.Series,
                value_pairs_set: list | None) -> pd.Series:
    """Row-wise ``(a, b) in value_pairs_set``, missing values read as ``None``."""
    if value_pairs_set is None:  # GX: vacuously true
        return pd.Series(np.ones(len(column_a), dtype=bool), index=column_a.index)
    passed = np.zeros(len(column_a), dtype=bool)
    for value_a, value_b in {(a, b) for a, b in value_pairs_set}:
        passed |= _equals(column_a, value_a) & _equals(column_b, value_b)
    return pd.Series(passed, index=column_a.index)


def values_between(column: pd.Series, min_value: Any = None, max_value: Any = None,
                   strict_min: bool | None = None, strict_max: bool | None = None,
                   **kwargs: Any) -> pd.Series:
    """Per value of ``column`` (no missing values: GX drops them first), whether it is in range."""
    if _is_number_column(column) and all(map(_is_number_or_none, (min_value, max_value))):
        # GX's _pandas checks this before choosing a path; _pandas_vectorized checks None, None
        if min_value is not None and max_value is not None and min_value > max_value:
            raise ValueError("min_value cannot be greater than max_value")
        within = ColumnValuesBetween._pandas_vectorized(column, min_value, max_value,
                                                        strict_min, strict_max)
        # plain bools, also for a nullable integer column (no missing values reach here)
        return pd.Series(within.to_numpy(dtype=bool), index=column.index)
    return _gx_values_between(ColumnValuesBetween, column, min_value=min_value,
                              max_value=max_value, strict_min=strict_min,
                              strict_max=strict_max, **kwargs)


def _is_number_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _is_number_or_none(bound: Any) -> bool:
    return bound is None or (isinstance(bound, int | float | np.number)
                             and not isinstance(bound, bool | np.bool_))


# GX's own pandas rule, without its decorators: the fallback for every other column
_gx_values_between = inspect.unwrap(ColumnValuesBetween.__dict__["_pandas"])


def _equals(values: pd.Series, target: object) -> np.ndarray:
    missing = values.isna().to_numpy()
    if target is None:
        return missing
    equal = (values == target).to_numpy(dtype=bool, na_value=False)
    return equal & ~missing


# GX logs a warning whenever a metric is registered again; this one is on purpose.
_registry_logger = logging.getLogger("great_expectations.expectations.registry")
_level = _registry_logger.level
_registry_logger.setLevel(logging.ERROR)
try:
    class VectorisedColumnPairValuesInSet(ColumnPairValuesInSet):
        """``column_pair_values.in_set`` for pandas without a Python loop over rows."""

        @column_pair_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column_A, column_B, **kwargs):  # noqa: N803 (GX's argument names)
            return pair_in_set(column_A, column_B, kwargs.get("value_pairs_set"))

    class VectorisedColumnValuesBetween(ColumnValuesBetween):
        """``column_values.between`` for pandas, column-wise on every numeric dtype."""

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return values_between(column, **kwargs)
finally:
    _registry_logger.setLevel(_level)

"""A vectorised pandas implementation of one Great Expectations metric.

GX 1.24 computes ``column_pair_values.in_set`` (behind
``expect_column_pair_values_to_be_in_set``) on pandas with ``iterrows()``:
at 1,000,000 patients the five pair expectations of the analysis_cohort suite
took about 94 % of the validation node (benchmarks/RESULTS.md). Importing this
module re-registers that metric for the pandas engine with column-wise
comparisons and the same meaning: a row passes when ``(A, B)``, with a missing
value read as ``None``, is one of ``value_pairs_set``. The SQL and Spark
implementations are GX's own, inherited unchanged.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.metrics.column_pair_map_metrics.column_pair_values_in_set import (  # noqa: E501
    ColumnPairValuesInSet,
)
from great_expectations.expectations.metrics.map_metric_provider import (
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
finally:
    _registry_logger.setLevel(_level)

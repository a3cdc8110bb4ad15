"""Input checks shared by the estimators.

Every check raises ``ValueError`` with a sentence that names the column and
says what to do, so a failing dbt Python model explains itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` naming every column ``what`` needs that ``frame`` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; the frame has {list(frame.columns)}")


def require_unique(frame: pd.DataFrame, column: str) -> None:
    """Raise ``ValueError`` if ``column`` has missing or repeated values."""
    values = frame[column]
    if values.isna().any():
        raise ValueError(f"{column} has missing values; every row needs an identifier")
    repeated = values[values.duplicated()].unique()
    if len(repeated):
        # Counts, never the identifiers themselves: messages may reach a shared log.
        raise ValueError(f"{column} must be unique (one row per patient); "
                         f"{len(repeated)} value(s) repeated")


def is_text(values: pd.Series) -> bool:
    """True for string, categorical and object columns that are not all booleans."""
    if isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return True
    if values.dtype == object:
        return not values.dropna().map(lambda value: isinstance(value, (bool, np.bool_))).all()
    return False


def is_boolean(values: pd.Series) -> bool:
    """True for bool / nullable boolean columns and object columns holding only booleans."""
    if values.dtype == bool or str(values.dtype) == "boolean":
        return True
    if values.dtype == object:
        present = values.dropna()
        return len(present) > 0 and present.map(
            lambda value: isinstance(value, (bool, np.bool_))).all()
    return False


def flag_array(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A yes/no column as a bool array: booleans, or numbers that are all 0 or 1."""
    require_columns(frame, [column], "this estimate")
    values = frame[column]
    if values.isna().any():
        raise ValueError(f"{column} has missing values: every patient needs a value")
    if is_boolean(values):
        return values.astype(bool).to_numpy()
    if pd.api.types.is_numeric_dtype(values) and values.isin([0, 1]).all():
        return values.to_numpy() == 1
    raise ValueError(f"{column} must be boolean (or 0/1); found values "
                     f"{sorted(map(str, values.unique()))[:5]}")


def survival_arrays(frame: pd.DataFrame, duration_col: str,
                    event_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Durations (float, finite, >= 0) and event flags (bool) with no missing values."""
    require_columns(frame, [duration_col, event_col], "a survival estimate")
    durations = pd.to_numeric(frame[duration_col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(durations).any():
        raise ValueError(f"{duration_col} has missing or non-numeric values: every patient "
                         "needs a follow-up time")
    if not np.isfinite(durations).all() or (durations < 0).any():
        raise ValueError(f"{duration_col} has negative or infinite values")
    return durations, flag_array(frame, event_col)


def numeric_design(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Covariates as float columns (booleans become 0/1); no missing, text or constant column."""
    return pd.DataFrame(_numeric_columns(frame, columns), index=frame.index, columns=list(columns))


def numeric_matrix(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """:func:`numeric_design` as a float matrix (rows x columns), each column contiguous."""
    return np.vstack(list(_numeric_columns(frame, columns).values())).T


def _numeric_columns(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, np.ndarray]:
    require_columns(frame, columns, "the model")
    if len(set(columns)) != len(columns):
        raise ValueError(f"covariates are listed more than once: {list(columns)}")
    design = {}  # one DataFrame at the end: inserting columns one by one copies the blocks
    for column in columns:
        values = frame[column]
        if values.isna().any():
            raise ValueError(f"covariate {column} has missing values: impute or drop them first")
        if is_text(values):
            raise ValueError(f"covariate {column} is text: encode it as booleans first")
        floats = values.to_numpy(dtype=float)
        if not np.isfinite(floats).all():
            raise ValueError(f"covariate {column} has infinite values")
        if len(floats) == 0 or floats.min() == floats.max():  # not nunique: no hashing
            raise ValueError(f"covariate {column} is constant: it cannot be estimated; drop it "
                             "from the covariate list")
        design[column] = floats
    return design


def positive_weights(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Case weights as floats: present, finite and positive on every row."""
    require_columns(frame, [column], "a weighted estimate")
    weights = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(weights).all() and (weights > 0).all()):
        raise ValueError(f"{column} must be positive and finite on every row (drop rows of "
                         "weight 0 before the fit)")
    return weights

"""Input checks shared by the estimators."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` naming every column ``what`` needs that ``frame`` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; the frame has {list(frame.columns)}")


def survival_arrays(frame: pd.DataFrame, duration_col: str,
                    event_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Durations (float, >= 0) and event flags (bool) with no missing values."""
    require_columns(frame, [duration_col, event_col], "a survival estimate")
    durations = pd.to_numeric(frame[duration_col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(durations).any():
        raise ValueError(f"{duration_col} has missing or non-numeric values")
    if (durations < 0).any():
        raise ValueError(f"{duration_col} has negative values")
    events = frame[event_col]
    if events.isna().any():
        raise ValueError(f"{event_col} has missing values")
    return durations, events.astype(bool).to_numpy()


def numeric_design(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Covariates as float columns (booleans become 0/1); no missing or constant column."""
    require_columns(frame, columns, "the model")
    design = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column]
        if values.isna().any():
            raise ValueError(f"covariate {column} has missing values: impute or drop them first")
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            raise ValueError(f"covariate {column} is text: encode it as booleans first")
        design[column] = values.astype(float)
        if design[column].nunique() < 2:
            raise ValueError(f"covariate {column} is constant: it cannot be estimated")
    return design

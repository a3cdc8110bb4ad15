"""Covariate balance: standardised mean differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rwe_stats._checks import flag_array, is_boolean, is_text, require_columns

__all__ = ["standardized_mean_differences"]

CONTINUOUS = "continuous: (mean_t - mean_c) / sqrt((var_t + var_c) / 2), sample variances (ddof=1)"
BINARY = "binary: (p_t - p_c) / sqrt((p_t (1 - p_t) + p_c (1 - p_c)) / 2)"
COLUMNS = ["covariate", "level", "cohort", "mean_treated", "mean_control", "n_treated",
           "n_control", "count_treated", "count_control", "smd", "smd_method"]


def _smd(treated: np.ndarray, control: np.ndarray, binary: bool) -> tuple[float, float, float]:
    mean_t, mean_c = float(np.mean(treated)), float(np.mean(control))
    if binary:
        pooled = (mean_t * (1 - mean_t) + mean_c * (1 - mean_c)) / 2
    else:
        var_t = np.var(treated, ddof=1) if len(treated) > 1 else np.nan
        var_c = np.var(control, ddof=1) if len(control) > 1 else np.nan
        pooled = (var_t + var_c) / 2
    if np.isnan(pooled):
        smd = np.nan
    elif pooled == 0:  # both groups constant: equal means balance, else undefined
        smd = 0.0 if mean_t == mean_c else float(np.inf * np.sign(mean_t - mean_c))
    else:
        smd = (mean_t - mean_c) / np.sqrt(pooled)
    return mean_t, mean_c, float(smd)


def _covariate_levels(df: pd.DataFrame,
                      covariate: str) -> list[tuple[str | None, np.ndarray, bool]]:
    """(level, values as floats, is binary) per row of the balance table for ``covariate``.

    Booleans: one binary row; text: one binary indicator per level (sorted);
    numbers: one continuous row.
    """
    values = df[covariate]
    if values.isna().any():
        raise ValueError(f"covariate {covariate} has missing values")
    if is_boolean(values):
        return [(None, values.astype(bool).to_numpy(dtype=float), True)]
    if is_text(values):
        return [(str(level), (values == level).to_numpy(dtype=float), True)
                for level in sorted(values.unique(), key=str)]
    if pd.api.types.is_numeric_dtype(values):
        return [(None, values.to_numpy(dtype=float), False)]
    raise ValueError(f"covariate {covariate} has unsupported type {values.dtype}")


def standardized_mean_differences(df: pd.DataFrame, treatment_col: str,
                                  covariates: Sequence[str],
                                  cohort_label: str) -> pd.DataFrame:
    """Standardised mean difference (treated minus control) of each covariate.

    Method (Austin 2009, Stat Med 28:3083-3107):

    - numeric covariates: ``(m_t - m_c) / sqrt((s_t^2 + s_c^2) / 2)`` with
      sample variances (ddof=1);
    - boolean covariates: ``(p_t - p_c) / sqrt((p_t (1 - p_t) + p_c (1 - p_c)) / 2)``;
    - text / categorical covariates: one row per level (sorted), each level
      as a boolean indicator with the binary formula.

    Unweighted; ``mean_*`` of a boolean or level is a proportion. When both
    groups are constant the SMD is 0 if their means agree, else +/- inf.

    Parameters
    ----------
    df
        One row per patient (the whole or the matched cohort).
    treatment_col
        Boolean (or 0/1) treatment flag.
    covariates
        Columns to compare; no missing values.
    cohort_label
        Written to the ``cohort`` column (e.g. ``all``, ``matched``).

    Returns
    -------
    pandas.DataFrame
        ``covariate``, ``level`` (null unless text), ``cohort``,
        ``mean_treated``, ``mean_control``, ``n_treated``, ``n_control``,
        ``count_treated``, ``count_control`` (patients with the attribute or
        level, binary rows only; nullable integers, null for continuous
        covariates), ``smd``, ``smd_method``.
    """
    require_columns(df, [treatment_col, *covariates], "balance")
    treated_mask = flag_array(df, treatment_col)
    if treated_mask.all() or not treated_mask.any():
        raise ValueError(f"balance needs treated and control patients in {treatment_col}")
    control_mask = ~treated_mask
    n_treated, n_control = int(treated_mask.sum()), int(control_mask.sum())
    rows = []
    for covariate in covariates:
        for level, numbers, binary in _covariate_levels(df, covariate):
            # each group's values selected once, for its mean, variance and count
            treated, control = numbers[treated_mask], numbers[control_mask]
            mean_t, mean_c, smd = _smd(treated, control, binary)
            rows.append({
                "covariate": covariate, "level": level, "cohort": cohort_label,
                "mean_treated": mean_t, "mean_control": mean_c,
                "n_treated": n_treated, "n_control": n_control,
                "count_treated": int(treated.sum()) if binary else None,
                "count_control": int(control.sum()) if binary else None,
                "smd": smd, "smd_method": BINARY if binary else CONTINUOUS,
            })
    return pd.DataFrame(rows, columns=COLUMNS).astype({"count_treated": "Int64",
                                                       "count_control": "Int64"})

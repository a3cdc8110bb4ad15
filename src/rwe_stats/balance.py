"""Covariate balance: standardised mean differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rwe_stats._checks import require_columns

CONTINUOUS = "continuous: (mean_t - mean_c) / sqrt((var_t + var_c) / 2), ddof=1"
BINARY = "binary: (p_t - p_c) / sqrt((p_t(1 - p_t) + p_c(1 - p_c)) / 2)"


def _smd(treated: np.ndarray, control: np.ndarray, binary: bool) -> tuple[float, float, float]:
    mean_t, mean_c = float(np.mean(treated)), float(np.mean(control))
    if binary:
        pooled = (mean_t * (1 - mean_t) + mean_c * (1 - mean_c)) / 2
    else:
        pooled = (np.var(treated, ddof=1) + np.var(control, ddof=1)) / 2
    if pooled == 0:
        smd = 0.0 if mean_t == mean_c else float(np.inf * np.sign(mean_t - mean_c))
    else:
        smd = (mean_t - mean_c) / np.sqrt(pooled)
    return mean_t, mean_c, float(smd)


def standardized_mean_differences(df: pd.DataFrame, treatment_col: str,
                                  covariates: Sequence[str],
                                  cohort_label: str) -> pd.DataFrame:
    """Standardised mean difference (treated minus control) of each covariate.

    Method (Austin 2009, Stat Med 28:3083): continuous covariates use the
    means and the sample variances (ddof=1) of the two groups; boolean
    covariates use proportions and the Bernoulli variances; text covariates
    get one row per level, each treated as a boolean indicator.

    Returns
    -------
    pandas.DataFrame
        ``covariate``, ``level`` (null unless text), ``cohort``,
        ``mean_treated``, ``mean_control``, ``n_treated``, ``n_control``,
        ``smd``, ``smd_method``.
    """
    require_columns(df, [treatment_col, *covariates], "balance")
    treated_mask = df[treatment_col].astype(bool).to_numpy()
    if treated_mask.all() or not treated_mask.any():
        raise ValueError("balance needs treated and control patients")
    rows = []
    for covariate in covariates:
        values = df[covariate]
        if values.isna().any():
            raise ValueError(f"covariate {covariate} has missing values")
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            levels = [(str(level), (values == level).to_numpy(dtype=float), True)
                      for level in sorted(values.unique())]
        else:
            is_binary = values.dtype == bool or str(values.dtype) == "boolean"
            levels = [(None, values.to_numpy(dtype=float), is_binary)]
        for level, numbers, binary in levels:
            mean_t, mean_c, smd = _smd(numbers[treated_mask], numbers[~treated_mask], binary)
            rows.append({
                "covariate": covariate, "level": level, "cohort": cohort_label,
                "mean_treated": mean_t, "mean_control": mean_c,
                "n_treated": int(treated_mask.sum()), "n_control": int((~treated_mask).sum()),
                "smd": smd, "smd_method": BINARY if binary else CONTINUOUS,
            })
    return pd.DataFrame(rows)

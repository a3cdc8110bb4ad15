"""Kaplan-Meier estimation, medians, landmark survival, log-rank and hazard ratios.

Every number here is meant to agree with R's survival package:
``survfit(..., conf.type = "log-log")``, ``quantile.survfit`` (the median and
its confidence interval), ``survdiff(rho = 0)`` and ``coxph(ties = "efron")``,
with ``cluster =`` for the matched cohort's robust variance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test
from scipy import stats

from rwe_stats._checks import numeric_design, require_columns, survival_arrays

CI_METHOD = "log-log (R survfit conf.type='log-log'), Greenwood variance"
MEDIAN_CI_METHOD = ("Brookmeyer-Crowley: where the log-log confidence band crosses 0.5, "
                    "R quantile.survfit rule (midpoint of a flat at exactly 0.5)")
TIES_METHOD = "efron"
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))  # R: sqrt(.Machine$double.eps)


def _km_curve(durations: np.ndarray, events: np.ndarray, alpha: float) -> pd.DataFrame:
    """Kaplan-Meier curve of one group at every distinct observed time."""
    times, inverse = np.unique(durations, return_inverse=True)
    n_events = np.bincount(inverse, weights=events.astype(float), minlength=len(times))
    n_total = np.bincount(inverse, minlength=len(times)).astype(float)
    n_censored = n_total - n_events
    n_at_risk = len(durations) - np.concatenate(([0.0], np.cumsum(n_total)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - n_events / n_at_risk
        survival = np.cumprod(factor)
        increment = np.where(n_events > 0, n_events / (n_at_risk * (n_at_risk - n_events)), 0.0)
    greenwood = np.cumsum(increment)  # variance of the cumulative hazard (log S)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(survival)
        log_minus_log = np.log(-log_s)
        half_width = z * np.sqrt(greenwood) / log_s
        lower = np.exp(-np.exp(log_minus_log - half_width))
        upper = np.exp(-np.exp(log_minus_log + half_width))
    at_one = survival >= 1.0
    lower[at_one], upper[at_one] = 1.0, 1.0
    at_zero = survival <= 0.0
    lower[at_zero], upper[at_zero] = np.nan, np.nan
    return pd.DataFrame({
        "time_months": times, "n_at_risk": n_at_risk.astype(int),
        "n_events": n_events.astype(int), "n_censored": n_censored.astype(int),
        "survival": survival, "ci_lower": lower, "ci_upper": upper,
    })


def _groups(df: pd.DataFrame, group_col: str) -> list[tuple[object, pd.DataFrame]]:
    require_columns(df, [group_col], "a by-group estimate")
    if df[group_col].isna().any():
        raise ValueError(f"{group_col} has missing values")
    return [(key, frame) for key, frame in df.groupby(group_col, sort=True)]


def kaplan_meier_table(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier step functions with pointwise confidence intervals, per group.

    Method: product-limit estimator; Greenwood variance of log S; the
    "log-log" interval of R's ``survfit`` (lifelines' "exponential
    Greenwood"): ``exp(-exp(log(-log S) -/+ z * se / log S))``. Where S is 1
    the interval is [1, 1]; where S is 0 it is undefined (null).

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time, plus a time-0 row with S = 1:
        ``group``, ``time_months``, ``n_at_risk``, ``n_events``,
        ``n_censored``, ``survival``, ``ci_lower``, ``ci_upper``,
        ``ci_method``. Ready to draw as a right-continuous step function.
    """
    tables = []
    for key, frame in _groups(df, group_col):
        durations, events = survival_arrays(frame, duration_col, event_col)
        curve = _km_curve(durations, events, alpha)
        start = pd.DataFrame({"time_months": [0.0], "n_at_risk": [len(durations)],
                              "n_events": [0], "n_censored": [0], "survival": [1.0],
                              "ci_lower": [1.0], "ci_upper": [1.0]})
        if curve["time_months"].iloc[0] == 0.0:
            # Events or censorings at time 0 are kept as their own row after the start.
            start = start.iloc[0:0]
        tables.append(pd.concat([start, curve], ignore_index=True).assign(group=key))
    result = pd.concat(tables, ignore_index=True).assign(ci_method=CI_METHOD)
    return result[["group", "time_months", "n_at_risk", "n_events", "n_censored", "survival",
                   "ci_lower", "ci_upper", "ci_method"]]


def survival_quantile(times: np.ndarray, survival: np.ndarray, probability: float = 0.5,
                      tolerance: float = _TOLERANCE) -> float:
    """Time at which a survival curve reaches ``1 - probability``, R's rule.

    Reproduces ``findq`` of R's ``quantile.survfit``: on the CDF ``1 - S``
    (with a leading point at time 0), the quantile is the first time the CDF
    reaches ``probability``; when the curve is flat at exactly that level
    (within ``tolerance``) it is the midpoint between the start of the flat
    and the next jump (or the last time, for a flat at the end). Returns NaN
    when the curve never gets there (e.g. "median not reached").
    """
    x = np.concatenate(([0.0], np.asarray(times, dtype=float)))
    y = np.concatenate(([0.0], 1.0 - np.asarray(survival, dtype=float)))
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if len(y) == 0 or np.max(y) < probability:
        return float("nan")
    x_max = x[-1]
    first = np.concatenate(([True], y[1:] != y[:-1]))  # drop repeated levels (censorings)
    x, y = x[first], y[first]

    def first_reaching(levels: np.ndarray) -> int | None:
        hits = np.nonzero(levels >= probability)[0]
        return int(hits[0]) if len(hits) else None

    index1 = first_reaching(y + tolerance)
    index2 = first_reaching(y - tolerance)
    if index1 is None:
        return float("nan")
    if abs(probability - y[-1]) < tolerance:  # a flat at the end of the curve
        return float((x[index1] + x_max) / 2)
    if index2 is None:
        return float("nan")
    return float((x[index1] + x[index2]) / 2)


def median_survival(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Median survival time with its confidence interval, per group.

    Method: the median of the Kaplan-Meier curve and, for its interval, the
    times at which the lower and upper log-log confidence bands cross 0.5
    (Brookmeyer and Crowley 1982), each found with R's ``quantile.survfit``
    rule (:func:`survival_quantile`). NaN means "not reached".

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``events``, ``median_months``, ``median_ci_lower``,
        ``median_ci_upper``.
    """
    rows = []
    for key, frame in _groups(df, group_col):
        durations, events = survival_arrays(frame, duration_col, event_col)
        curve = _km_curve(durations, events, alpha)
        times = curve["time_months"].to_numpy()
        rows.append({
            "group": key, "n": len(durations), "events": int(events.sum()),
            "median_months": survival_quantile(times, curve["survival"].to_numpy()),
            "median_ci_lower": survival_quantile(times, curve["ci_lower"].to_numpy()),
            "median_ci_upper": survival_quantile(times, curve["ci_upper"].to_numpy()),
        })
    return pd.DataFrame(rows)


def survival_at(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                times: Sequence[float], alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival and its log-log CI at fixed landmark times, per group.

    The step function is right-continuous: S(t) includes events at t.
    A landmark beyond the last observed time is null (not estimable).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``time_months``, ``survival``, ``ci_lower``, ``ci_upper``.
    """
    rows = []
    for key, frame in _groups(df, group_col):
        durations, events = survival_arrays(frame, duration_col, event_col)
        curve = _km_curve(durations, events, alpha)
        curve_times = curve["time_months"].to_numpy()
        for landmark in times:
            position = np.searchsorted(curve_times, landmark, side="right") - 1
            if landmark > curve_times[-1]:
                values = (np.nan, np.nan, np.nan)
            elif position < 0:
                values = (1.0, 1.0, 1.0)
            else:
                values = tuple(curve[["survival", "ci_lower", "ci_upper"]].iloc[position])
            rows.append({"group": key, "time_months": float(landmark),
                         "survival": values[0], "ci_lower": values[1], "ci_upper": values[2]})
    return pd.DataFrame(rows)


def logrank(df: pd.DataFrame, duration_col: str, event_col: str,
            group_col: str) -> pd.DataFrame:
    """Log-rank test of equal survival between two groups (R ``survdiff``, rho = 0).

    Returns
    -------
    pandas.DataFrame
        One row: ``chi_square``, ``df`` (1), ``p_value``, ``test_method``.
    """
    groups = _groups(df, group_col)
    if len(groups) != 2:
        raise ValueError(f"the log-rank test here compares two groups; {group_col} has "
                         f"{len(groups)}")
    (_, first), (_, second) = groups
    d1, e1 = survival_arrays(first, duration_col, event_col)
    d2, e2 = survival_arrays(second, duration_col, event_col)
    result = logrank_test(d1, d2, event_observed_A=e1, event_observed_B=e2)
    return pd.DataFrame([{"chi_square": float(result.test_statistic), "df": 1,
                          "p_value": float(result.p_value),
                          "test_method": "log-rank (Mantel-Haenszel), R survdiff rho=0"}])


def _fit_cox(frame: pd.DataFrame, duration_col: str, event_col: str, terms: Sequence[str],
             cluster_col: str | None = None) -> CoxPHFitter:
    design = numeric_design(frame, terms)
    durations, events = survival_arrays(frame, duration_col, event_col)
    data = design.assign(_duration=durations, _event=events.astype(int))
    if cluster_col is not None:
        require_columns(frame, [cluster_col], "a clustered Cox model")
        data["_cluster"] = frame[cluster_col].to_numpy()
    fitter = CoxPHFitter()  # Efron ties, Breslow baseline (lifelines default)
    fitter.fit(data, duration_col="_duration", event_col="_event",
               cluster_col="_cluster" if cluster_col else None,
               robust=cluster_col is not None)
    return fitter


def hazard_ratio(df: pd.DataFrame, duration_col: str, event_col: str, treatment_col: str,
                 cluster_col: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Hazard ratio of treated vs untreated from a Cox proportional-hazards model.

    Method: Cox partial likelihood with **Efron** ties (R ``coxph`` default),
    Wald confidence interval on the log scale and Wald p. With
    ``cluster_col`` (the matched cohort's ``pair_id``) the variance is the
    robust sandwich estimator clustered on it (Lin and Wei 1989; R
    ``coxph(..., cluster = pair_id)``), and the interval and p use it.

    Returns
    -------
    pandas.DataFrame
        One row: ``hr``, ``ci_lower``, ``ci_upper``, ``p_value``,
        ``variance_method``, ``ties_method``.
    """
    fitter = _fit_cox(df, duration_col, event_col, [treatment_col], cluster_col)
    coefficient = float(fitter.params_[treatment_col])
    standard_error = float(fitter.standard_errors_[treatment_col])
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame([{
        "hr": np.exp(coefficient),
        "ci_lower": np.exp(coefficient - z * standard_error),
        "ci_upper": np.exp(coefficient + z * standard_error),
        "p_value": float(2 * stats.norm.sf(abs(coefficient / standard_error))),
        "variance_method": (f"robust sandwich clustered on {cluster_col}" if cluster_col
                            else "model-based (inverse information)"),
        "ties_method": TIES_METHOD,
    }])

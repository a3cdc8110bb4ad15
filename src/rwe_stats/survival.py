"""Kaplan-Meier estimation, medians, landmark survival, log-rank and hazard ratios.

Every number here is meant to agree with R's survival package:
``survfit(..., conf.type = "log-log")`` (pointwise intervals),
``quantile.survfit`` / ``print.survfit`` (the median and its confidence
interval), ``summary(fit, times = )`` (landmarks), ``survdiff(rho = 0)`` and
``coxph(ties = "efron")``, with ``cluster =`` for the matched cohort's robust
variance. The tests check each against R's published output and against
independent code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._checks import flag_array, require_columns
from rwe_stats._cox import TIES_METHOD, fit_cox, strata_method
from rwe_stats._times import SurvivalTimes, survival_times

__all__ = [
    "CI_METHODS",
    "hazard_ratio",
    "kaplan_meier_table",
    "logrank",
    "median_survival",
    "survival_at",
    "survival_quantile",
]

CI_METHODS = {
    "log-log": "log-log (R survfit conf.type='log-log'; lifelines exponential Greenwood), "
               "Greenwood variance",
    "log": "log (R survfit conf.type='log', R's default), Greenwood variance",
    "plain": "plain (R survfit conf.type='plain'), Greenwood variance",
}
MEDIAN_CI_METHOD = ("Brookmeyer-Crowley: times where the pointwise confidence band crosses "
                    "0.5, R quantile.survfit rule (midpoint of a flat at exactly 0.5)")
LOGRANK_METHOD = "log-rank (Mantel-Haenszel), R survdiff rho=0"
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))  # R: sqrt(.Machine$double.eps)


def _confidence_band(survival: np.ndarray, std_err: np.ndarray, alpha: float,
                     conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits exactly as R's ``survfit_confint`` (``std_err`` is the SE of log S)."""
    z = stats.norm.ppf(1 - alpha / 2)
    p, se = survival, std_err
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log-log":
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            shift = z * se / np.log(xx)
            lower = np.where(se == 0, p, np.exp(-np.exp(np.log(-np.log(xx)) - shift)))
            upper = np.where(se == 0, p, np.exp(-np.exp(np.log(-np.log(xx)) + shift)))
        elif conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            lower = np.where(se == 0, p, np.exp(np.log(xx) - z * se))
            upper = np.minimum(np.where(se == 0, p, np.exp(np.log(xx) + z * se)), 1.0)
        elif conf_type == "plain":
            half = se * p * z
            lower, upper = np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        else:
            raise ValueError(f"conf_type must be one of {sorted(CI_METHODS)}, not {conf_type!r}")
    return lower, upper


def _km_curve(times: SurvivalTimes, groups: slice, alpha: float,
              conf_type: str) -> pd.DataFrame:
    """Kaplan-Meier curve of one group (its slice of ``times``' groups) at every distinct time."""
    n_events = times.deaths[groups].astype(float)
    n_total = np.diff(times.group_bounds)[groups].astype(float)
    n_at_risk = n_total.sum() - np.concatenate(([0.0], np.cumsum(n_total)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_events / n_at_risk)
        # Greenwood: var(log S) = sum d / (n (n - d)); infinite once S reaches 0
        increment = np.where(n_events > 0, n_events / (n_at_risk * (n_at_risk - n_events)), 0.0)
    std_err = np.sqrt(np.cumsum(increment))
    lower, upper = _confidence_band(survival, std_err, alpha, conf_type)
    return pd.DataFrame({
        "time_months": times.group_time[groups], "n_at_risk": n_at_risk.astype(int),
        "n_events": n_events.astype(int), "n_censored": (n_total - n_events).astype(int),
        "survival": survival, "ci_lower": lower, "ci_upper": upper,
    })


def _groups(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
            times_by_group: SurvivalTimes | None
            ) -> tuple[SurvivalTimes, list[tuple[object, slice]]]:
    """The rows sorted by group, then time (``times_by_group`` if given), and each group's slice."""
    require_columns(df, [group_col], "a by-group estimate")
    if df[group_col].isna().any():
        raise ValueError(f"{group_col} has missing values: every patient needs a group")
    if df.empty:
        raise ValueError("the frame has no rows")
    if times_by_group is None:
        times_by_group = survival_times(df, duration_col, event_col, strata_col=group_col)
    else:
        times_by_group.require_same_rows(df, duration_col, event_col, group_col)
    return times_by_group, times_by_group.stratum_groups()


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")


def kaplan_meier_table(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                       alpha: float = 0.05, conf_type: str = "log-log", *,
                       times_by_group: SurvivalTimes | None = None) -> pd.DataFrame:
    """Kaplan-Meier step functions with pointwise confidence intervals, per group.

    Method: product-limit estimator; Greenwood variance of log S,
    ``sum d / (n (n - d))``; by default the "log-log" interval of R's
    ``survfit(conf.type = "log-log")`` (lifelines' "exponential Greenwood"):
    ``exp(-exp(log(-log S) -/+ z * se / log S))`` with ``z`` the
    ``1 - alpha/2`` normal quantile. As in R, the interval is [S, S] while
    no event has happened (S = 1) and undefined (null) where S = 0.

    Parameters
    ----------
    df
        One row per patient.
    duration_col, event_col
        Follow-up time (months, >= 0) and event flag (boolean or 0/1).
    group_col
        One curve per distinct value (e.g. ``arm``).
    alpha
        1 - confidence level of the pointwise interval.
    conf_type
        ``"log-log"`` (default), ``"log"`` (R's default) or ``"plain"``.
    times_by_group
        ``survival_times(df, duration_col, event_col, strata_col=group_col)``
        (:func:`rwe_stats.regression.survival_times`), built once by a caller
        that also calls :func:`median_survival`, :func:`survival_at` or
        :func:`logrank` on the same rows; None sorts the rows here.

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time, plus a time-0 row with S = 1:
        ``group``, ``time_months``, ``n_at_risk``, ``n_events``,
        ``n_censored``, ``survival``, ``ci_lower``, ``ci_upper``,
        ``ci_method``. A right-continuous step function: S holds from each
        row's time until the next row's. When patients have time 0, the
        time-0 row is the estimate at 0 (events at 0 included), not 1.
    """
    _check_alpha(alpha)
    tables = []
    times_by_group, groups = _groups(df, duration_col, event_col, group_col, times_by_group)
    for key, group in groups:
        curve = _km_curve(times_by_group, group, alpha, conf_type)
        if curve["time_months"].iloc[0] != 0.0:
            start = pd.DataFrame({"time_months": [0.0], "n_at_risk": [curve["n_at_risk"].iloc[0]],
                                  "n_events": [0], "n_censored": [0], "survival": [1.0],
                                  "ci_lower": [1.0], "ci_upper": [1.0]})
            curve = pd.concat([start, curve], ignore_index=True)
        tables.append(curve.assign(group=key))
    result = pd.concat(tables, ignore_index=True).assign(ci_method=CI_METHODS[conf_type])
    return result[["group", "time_months", "n_at_risk", "n_events", "n_censored", "survival",
                   "ci_lower", "ci_upper", "ci_method"]]


def _first_at_or_above(levels: np.ndarray, probability: float) -> int | None:
    """R ``approx(levels, seq_along(levels), probability, method = "constant", f = 1)``.

    ``approx`` drops missing points, sorts by ``levels`` and returns the
    index whose level is the smallest one >= ``probability`` (None outside
    the range of the levels).
    """
    present = np.nonzero(~np.isnan(levels))[0]
    if len(present) == 0:
        return None
    order = present[np.argsort(levels[present], kind="stable")]
    ordered = levels[order]
    if probability < ordered[0] or probability > ordered[-1]:
        return None
    return int(order[np.searchsorted(ordered, probability, side="left")])


def survival_quantile(times: Sequence[float], survival: Sequence[float],
                      probability: float = 0.5, tolerance: float = _TOLERANCE) -> float:
    """Time at which a survival curve (or a confidence band) reaches ``1 - probability``.

    A line-by-line port of ``findq`` in R's ``quantile.survfit``: on the CDF
    ``1 - S`` with a leading point (0, 0), repeated levels are dropped (the
    first kept, as R's ``duplicated``); the quantile is the average of the
    first times the CDF reaches ``probability`` from above and from below
    within ``tolerance`` -- so where the curve is flat at exactly that level
    it is the midpoint of the flat; a flat at the end of the curve runs to
    the last observed time. NaN means "not reached".

    Parameters
    ----------
    times
        Distinct times, increasing (every time of the curve, censorings
        included).
    survival
        Curve (or band) values at ``times``; NaN where undefined.
    probability
        0.5 for the median.
    tolerance
        R's ``sqrt(.Machine$double.eps)``.
    """
    x = np.concatenate(([0.0], np.asarray(times, dtype=float)))
    y = np.concatenate(([0.0], 1.0 - np.asarray(survival, dtype=float)))
    if np.isnan(y).all() or np.nanmax(y) < probability:
        return float("nan")
    x_max = x[-1]
    duplicated = pd.Series(y).duplicated().to_numpy()  # NaN repeats NaN, as in R
    x, y = x[~duplicated], y[~duplicated]
    index1 = _first_at_or_above(y + tolerance, probability)
    index2 = _first_at_or_above(y - tolerance, probability)
    if probability == 0:
        return float(x[0])
    if not np.isnan(y[-1]) and abs(probability - y[-1]) < tolerance:  # flat at the end
        return float("nan") if index1 is None else float((x[index1] + x_max) / 2)
    if index1 is None or index2 is None:
        return float("nan")
    return float((x[index1] + x[index2]) / 2)


def median_survival(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                    alpha: float = 0.05, conf_type: str = "log-log", *,
                    times_by_group: SurvivalTimes | None = None) -> pd.DataFrame:
    """Median survival time with its confidence interval, per group.

    Method: the median of the Kaplan-Meier curve; its interval is where the
    lower and upper pointwise confidence bands (by default log-log, see
    :func:`kaplan_meier_table`) cross 0.5 (Brookmeyer and Crowley 1982),
    each found with R's ``quantile.survfit`` rule
    (:func:`survival_quantile`). This is what R's ``print(survfit(...))``
    shows. NaN means "not reached".

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``events``, ``median_months``, ``median_ci_lower``,
        ``median_ci_upper``.
    """
    _check_alpha(alpha)
    rows = []
    times_by_group, groups = _groups(df, duration_col, event_col, group_col, times_by_group)
    for key, group in groups:
        curve = _km_curve(times_by_group, group, alpha, conf_type)
        times = curve["time_months"].to_numpy()
        rows.append({
            "group": key, "n": int(curve["n_at_risk"].iloc[0]),
            "events": int(curve["n_events"].sum()),
            "median_months": survival_quantile(times, curve["survival"].to_numpy()),
            "median_ci_lower": survival_quantile(times, curve["ci_lower"].to_numpy()),
            "median_ci_upper": survival_quantile(times, curve["ci_upper"].to_numpy()),
        })
    return pd.DataFrame(rows, columns=["group", "n", "events", "median_months",
                                       "median_ci_lower", "median_ci_upper"])


def survival_at(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                times: Sequence[float], alpha: float = 0.05,
                conf_type: str = "log-log", *,
                times_by_group: SurvivalTimes | None = None) -> pd.DataFrame:
    """Kaplan-Meier survival and its pointwise CI at fixed landmark times, per group.

    Method: R's ``summary(survfit(...), times = )``: the value of the
    right-continuous step function at each landmark (events at the landmark
    included), with the interval of :func:`kaplan_meier_table`. Before the
    first observed time S = 1 with interval [1, 1]; a landmark after the
    last observed time is not estimable (null; R drops it).

    Returns
    -------
    pandas.DataFrame
        One row per group and landmark: ``group``, ``time_months``,
        ``survival``, ``ci_lower``, ``ci_upper``, ``ci_method``.
    """
    _check_alpha(alpha)
    if len(times) == 0 or np.isnan(np.asarray(times, dtype=float)).any():
        raise ValueError("times must be a non-empty list of numbers (months)")
    rows = []
    times_by_group, groups = _groups(df, duration_col, event_col, group_col, times_by_group)
    for key, group in groups:
        curve = _km_curve(times_by_group, group, alpha, conf_type)
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
                         "survival": values[0], "ci_lower": values[1], "ci_upper": values[2],
                         "ci_method": CI_METHODS[conf_type]})
    return pd.DataFrame(rows, columns=["group", "time_months", "survival", "ci_lower",
                                       "ci_upper", "ci_method"])


def logrank(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str, *,
            times_by_group: SurvivalTimes | None = None) -> pd.DataFrame:
    """Log-rank test of equal survival across groups (R ``survdiff``, rho = 0).

    Method: at every distinct event time, observed minus expected events per
    group under a common hazard, with the hypergeometric variance
    ``d (n - d) / (n - 1) * n_g / n * (delta_gh - n_h / n)``; the statistic
    is ``(O - E)' V^- (O - E)`` over all groups but the last, chi-square with
    (number of groups - 1) degrees of freedom.

    Returns
    -------
    pandas.DataFrame
        One row: ``chi_square``, ``df``, ``p_value``, ``test_method``.
    """
    times_by_group, groups = _groups(df, duration_col, event_col, group_col, times_by_group)
    if len(groups) < 2:
        raise ValueError(f"the log-rank test needs at least two groups; {group_col} has "
                         f"{len(groups)}")
    k = len(groups)
    event_times = np.unique(times_by_group.group_time[times_by_group.deaths > 0])
    counts = np.diff(times_by_group.group_bounds)
    # per group at each event time: patients with duration >= t, and events at t
    at_risk = np.empty((len(event_times), k))
    deaths = np.empty((len(event_times), k))
    for g, (_, group) in enumerate(groups):
        group_times = times_by_group.group_time[group]
        position = np.searchsorted(group_times, event_times, side="left")
        at_risk[:, g] = np.append(np.cumsum(counts[group][::-1])[::-1], 0)[position]
        at_time = np.append(times_by_group.deaths[group], 0)[position]
        deaths[:, g] = np.where(np.append(group_times, np.inf)[position] == event_times,
                                at_time, 0)
    n = at_risk.sum(axis=1)
    d = deaths.sum(axis=1)
    share = at_risk / n[:, None]
    observed_minus_expected = (deaths - d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    variance = (np.einsum("t,tg->g", factor, share)[:, None] * np.eye(k)
                - np.einsum("t,tg,th->gh", factor, share, share))
    used = slice(0, k - 1)
    statistic = float(observed_minus_expected[used]
                      @ np.linalg.solve(variance[used, used], observed_minus_expected[used]))
    return pd.DataFrame([{"chi_square": statistic, "df": k - 1,
                          "p_value": float(stats.chi2.sf(statistic, k - 1)),
                          "test_method": LOGRANK_METHOD}])


def hazard_ratio(df: pd.DataFrame, duration_col: str, event_col: str, treatment_col: str,
                 cluster_col: str | None = None, alpha: float = 0.05, *,
                 weights_col: str | None = None, strata_col: str | None = None,
                 robust: bool | None = None, times: SurvivalTimes | None = None
                 ) -> pd.DataFrame:
    """Hazard ratio of treated vs untreated from a Cox proportional-hazards model.

    Method: Cox partial likelihood of the treatment flag alone with
    **Efron** ties (R ``coxph`` default; vectorised Newton-Raphson in
    ``rwe_stats._cox``, equal to lifelines ``CoxPHFitter`` at convergence), Wald
    confidence interval on the log scale and two-sided Wald p. With
    ``cluster_col`` (the matched cohort's ``pair_id``) the variance is the
    robust sandwich clustered on it (Lin and Wei 1989: dfbeta residuals with
    Efron ties summed within clusters, no small-sample factor), exactly R's
    ``coxph(Surv(t, e) ~ treated, cluster = pair_id)``; the interval and p
    then use the robust SE.

    ``weights_col``, ``strata_col``, ``robust`` and ``times`` (the
    :func:`rwe_stats.regression.survival_times` of ``df``, built once by the
    caller) are those of :func:`rwe_stats.regression.cox_table`: R's
    ``coxph(Surv(t, e) ~ treated + strata(s), weights = w, robust = )``.

    Returns
    -------
    pandas.DataFrame
        One row: ``hr``, ``ci_lower``, ``ci_upper``, ``p_value``,
        ``variance_method``, ``ties_method`` (and ``strata`` with ``strata_col``).
    """
    _check_alpha(alpha)
    treated = flag_array(df, treatment_col)
    if treated.all() or not treated.any():
        raise ValueError(f"{treatment_col} must contain both treated and untreated patients")
    fit = fit_cox(df.assign(**{treatment_col: treated}), duration_col, event_col,
                  [treatment_col], cluster_col, weights_col=weights_col, strata_col=strata_col,
                  robust=robust, times=times)
    row = fit.wald(alpha).iloc[0]
    return pd.DataFrame([{
        "hr": float(row["hr"]), "ci_lower": float(row["ci_lower"]),
        "ci_upper": float(row["ci_upper"]), "p_value": float(row["p_value"]),
        "variance_method": fit.variance_method, "ties_method": TIES_METHOD,
        **({"strata": strata_method(strata_col)} if strata_col is not None else {}),
    }])

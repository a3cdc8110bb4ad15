"""Between-center heterogeneity of the treatment effect and pooled hazard ratios.

Input: one log hazard ratio and its standard error per center (the per-center
Cox models, :func:`per_center_hazard_ratios`: the one Cox core,
:mod:`rwe_stats._cox`, on each center's rows). Output: Cochran's Q, I^2 with its Q-profile CI, tau^2
(DerSimonian-Laird) with its Q-profile CI, and the fixed-effect and DL
random-effects pooled hazard ratios -- the quantities of R metafor's
``rma(yi, sei = se, method = "DL")``, ``confint()`` and ``rma(method =
"FE")``. Tested against saved metafor output and base-R closed forms
(``tests/python/reference/heterogeneity.R``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from rwe_stats._checks import flag_array, require_columns
from rwe_stats._cox import MODEL_VARIANCE, TIES_METHOD, fit_cox
from rwe_stats._status import STATUS_COLUMNS, estimated, not_estimable, status_of
from rwe_stats._times import survival_times

__all__ = ["HETEROGENEITY_METHODS", "center_heterogeneity", "generalised_q",
           "per_center_hazard_ratios"]

HETEROGENEITY_METHODS = {
    "q_method": "Cochran's Q = sum w (y - y_FE)^2, w = 1 / se^2, chi-square with k - 1 df",
    "tau2_method": "DerSimonian-Laird: max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w)); "
                   "CI by Q-profile (Viechtbauer 2007, metafor confint default)",
    "i2_method": "I^2 = 100 tau^2 / (tau^2 + s^2), s^2 = (k - 1) sum w / ((sum w)^2 - sum w^2) "
                 "(= 100 max(0, (Q - (k - 1)) / Q) for DL; metafor); CI from the tau^2 CI",
    "fixed_method": "inverse-variance fixed effect, Wald CI and p on the log HR (metafor FE)",
    "random_method": "DerSimonian-Laird random effects, w* = 1 / (se^2 + tau^2), Wald (z) CI "
                     "and p on the log HR (metafor rma method DL, test z)",
}
COLUMNS = ["k_centers", "k_not_estimable", "q", "q_df", "q_p_value", "tau2", "tau2_ci_lower",
           "tau2_ci_upper", "i2_percent", "i2_ci_lower_percent", "i2_ci_upper_percent",
           "fixed_hr", "fixed_ci_lower", "fixed_ci_upper", "fixed_p_value", "random_hr",
           "random_ci_lower", "random_ci_upper", "random_p_value",
           *HETEROGENEITY_METHODS, *STATUS_COLUMNS]

PER_CENTER_COLUMNS = ["center", "n", "events", "log_hr", "se", "hr", "ci_lower", "ci_upper",
                      "p_value", "ties_method", "variance_method", *STATUS_COLUMNS]


def per_center_hazard_ratios(df: pd.DataFrame, duration_col: str, event_col: str,
                             treatment_col: str, center_col: str = "center",
                             alpha: float = 0.05) -> pd.DataFrame:
    """The treatment log hazard ratio within each center: the input of :func:`center_heterogeneity`.

    Method: per center, the Cox model of the treatment flag alone on that
    center's rows, Efron ties, model-based variance, Wald CI and p on the
    log scale -- R's ``coxph(Surv(t, e) ~ treated, data = <center's
    rows>)``. The rows are sorted by time once; each center's grouping is
    derived from that sort (:meth:`rwe_stats._times.SurvivalTimes.subset`).
    A center with an empty arm or no events is a not-estimable row.

    Returns
    -------
    pandas.DataFrame
        One row per center (sorted by value): ``center``, ``n``,
        ``events``, ``log_hr``, ``se``, ``hr``, ``ci_lower``, ``ci_upper``,
        ``p_value``, ``ties_method``, ``variance_method``,
        ``estimation_status``, ``status_reason``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    require_columns(df, [center_col], "per-center hazard ratios")
    if df[center_col].isna().any():
        raise ValueError(f"{center_col} has missing values: every patient needs a center")
    frame = df.assign(**{treatment_col: flag_array(df, treatment_col)})
    times = survival_times(frame, duration_col, event_col)
    centers = frame[center_col].to_numpy()
    rows = []
    for center in sorted(pd.unique(centers)):
        rows_in = centers == center
        subset = times.subset(rows_in)
        treated = frame[treatment_col].to_numpy()[rows_in]
        row = {"center": center, "n": int(rows_in.sum()), "events": int(subset.events.sum()),
               "ties_method": TIES_METHOD, "variance_method": MODEL_VARIANCE}
        if treated.all() or not treated.any():
            rows.append(row | not_estimable("empty_arm"))
            continue
        if row["events"] == 0:
            rows.append(row | not_estimable("no_events"))
            continue
        fit = fit_cox(frame[rows_in], duration_col, event_col, [treatment_col], times=subset)
        wald = fit.wald(alpha).iloc[0]
        rows.append(row | {"log_hr": float(fit.coefficients[0]),
                           "se": float(np.sqrt(fit.variance[0, 0])), "hr": float(wald["hr"]),
                           "ci_lower": float(wald["ci_lower"]),
                           "ci_upper": float(wald["ci_upper"]),
                           "p_value": float(wald["p_value"])} | estimated())
    return pd.DataFrame(rows, columns=PER_CENTER_COLUMNS)


def generalised_q(log_hr: np.ndarray, se: np.ndarray, tau2: float) -> float:
    """``sum w_i (y_i - mu)^2`` with ``w_i = 1 / (se_i^2 + tau2)`` and ``mu`` their weighted mean.

    Decreasing in ``tau2``; equal to Cochran's Q at 0.
    """
    weights = 1.0 / (se ** 2 + tau2)
    mean = np.sum(weights * log_hr) / np.sum(weights)
    return float(np.sum(weights * (log_hr - mean) ** 2))


def _q_profile_root(log_hr: np.ndarray, se: np.ndarray, target: float) -> float:
    """tau^2 >= 0 at which the generalised Q equals ``target`` (0 if Q(0) is below it)."""
    if generalised_q(log_hr, se, 0.0) <= target:
        return 0.0
    upper = max(1.0, float(np.max(se ** 2)))
    while generalised_q(log_hr, se, upper) > target:  # Q falls to 0 as tau^2 grows
        upper *= 2.0
    return float(optimize.brentq(lambda tau2: generalised_q(log_hr, se, tau2) - target,
                                 0.0, upper, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                 maxiter=1000))


def _wald(estimate: float, se: float, z: float) -> tuple[float, float, float, float]:
    return (float(np.exp(estimate)), float(np.exp(estimate - z * se)),
            float(np.exp(estimate + z * se)), float(2 * stats.norm.sf(abs(estimate) / se)))


def center_heterogeneity(per_center: pd.DataFrame, log_hr_col: str = "log_hr",
                         se_col: str = "se", alpha: float = 0.05) -> pd.DataFrame:
    """Heterogeneity of per-center log hazard ratios and their pooled estimates.

    Method, with ``y_i`` the centers' log-HRs, ``w_i = 1 / se_i^2``:

    - Cochran's ``Q = sum w_i (y_i - y_FE)^2``, p from chi-square with ``k
      - 1`` df.
    - ``tau^2`` by DerSimonian and Laird: ``max(0, (Q - (k - 1)) / (sum w
      - sum w^2 / sum w))``.
    - ``I^2 = 100 tau^2 / (tau^2 + s^2)`` with the typical within-center
      variance ``s^2 = (k - 1) sum w / ((sum w)^2 - sum w^2)`` (Higgins and
      Thompson 2002; for DL this is ``100 max(0, (Q - (k - 1)) / Q)``).
    - CIs of ``tau^2`` by the Q-profile method (Viechtbauer 2007): the
      ``tau^2`` at which the generalised Q statistic equals the
      chi-square(k - 1) quantiles ``1 - alpha/2`` (lower) and ``alpha/2``
      (upper), truncated at 0; the I^2 CI maps the tau^2 limits through
      the same formula (metafor ``confint(rma(...))``; its root finder's
      default tolerance is about 1e-4, this one's is machine precision).
    - Pooled HRs: fixed effect ``y_FE = sum w y / sum w``, ``se =
      1/sqrt(sum w)``; DL random effects with ``w*_i = 1 / (se_i^2 +
      tau^2)``; Wald CIs and p on the log scale (metafor ``test = "z"``).
      Pooling per-center Cox estimates is an approximation to a stratified
      Cox model; both are reported.

    Rows of ``per_center`` whose ``estimation_status`` is not estimated
    (a center whose Cox model failed) are left out and counted in
    ``k_not_estimable``. Fewer than two usable centers: a not-estimable row
    (``too_few_centers``).

    Parameters
    ----------
    per_center
        One row per center: ``log_hr_col``, ``se_col`` (> 0), optionally
        ``estimation_status``.
    alpha
        1 - confidence level of every interval.

    Returns
    -------
    pandas.DataFrame
        One row: ``k_centers``, ``k_not_estimable``, ``q``, ``q_df``,
        ``q_p_value``, ``tau2``, ``tau2_ci_lower``, ``tau2_ci_upper``,
        ``i2_percent``, ``i2_ci_lower_percent``, ``i2_ci_upper_percent``,
        ``fixed_hr``, ``fixed_ci_lower``, ``fixed_ci_upper``,
        ``fixed_p_value``, ``random_hr``, ``random_ci_lower``,
        ``random_ci_upper``, ``random_p_value``, the method columns
        (``q_method``, ``tau2_method``, ``i2_method``, ``fixed_method``,
        ``random_method``), ``estimation_status``, ``status_reason``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    require_columns(per_center, [log_hr_col, se_col], "center heterogeneity")
    usable = status_of(per_center).to_numpy()
    log_hr = pd.to_numeric(per_center[log_hr_col], errors="coerce").to_numpy(dtype=float)[usable]
    se = pd.to_numeric(per_center[se_col], errors="coerce").to_numpy(dtype=float)[usable]
    if not (np.isfinite(log_hr).all() and np.isfinite(se).all()):
        raise ValueError(f"{log_hr_col} and {se_col} must be finite numbers on every estimated "
                         "center row")
    if (se <= 0).any():
        raise ValueError(f"{se_col} must be positive")
    k = len(log_hr)
    row = dict.fromkeys(COLUMNS, np.nan) | HETEROGENEITY_METHODS | {
        "k_centers": k, "k_not_estimable": int((~usable).sum()), "q_df": max(k - 1, 0)}
    if k < 2:
        return pd.DataFrame([row | not_estimable("too_few_centers")], columns=COLUMNS)
    z = stats.norm.ppf(1 - alpha / 2)
    weights = 1.0 / se ** 2
    sum_w, sum_w2 = weights.sum(), np.sum(weights ** 2)
    fixed = float(np.sum(weights * log_hr) / sum_w)
    q = float(np.sum(weights * (log_hr - fixed) ** 2))
    tau2 = max(0.0, (q - (k - 1)) / (sum_w - sum_w2 / sum_w))
    typical_variance = (k - 1) * sum_w / (sum_w ** 2 - sum_w2)
    tau2_lower = _q_profile_root(log_hr, se, stats.chi2.ppf(1 - alpha / 2, k - 1))
    tau2_upper = _q_profile_root(log_hr, se, stats.chi2.ppf(alpha / 2, k - 1))

    def i2(value: float) -> float:
        return 100.0 * value / (value + typical_variance)

    random_weights = 1.0 / (se ** 2 + tau2)
    random = float(np.sum(random_weights * log_hr) / np.sum(random_weights))
    fixed_hr, fixed_lower, fixed_upper, fixed_p = _wald(fixed, 1 / np.sqrt(sum_w), z)
    random_hr, random_lower, random_upper, random_p = _wald(
        random, 1 / np.sqrt(np.sum(random_weights)), z)
    row |= {"q": q, "q_p_value": float(stats.chi2.sf(q, k - 1)), "tau2": tau2,
            "tau2_ci_lower": tau2_lower, "tau2_ci_upper": tau2_upper, "i2_percent": i2(tau2),
            "i2_ci_lower_percent": i2(tau2_lower), "i2_ci_upper_percent": i2(tau2_upper),
            "fixed_hr": fixed_hr, "fixed_ci_lower": fixed_lower, "fixed_ci_upper": fixed_upper,
            "fixed_p_value": fixed_p, "random_hr": random_hr, "random_ci_lower": random_lower,
            "random_ci_upper": random_upper, "random_p_value": random_p} | estimated()
    return pd.DataFrame([row], columns=COLUMNS)

"""Propensity-score weighting: ATT and overlap weights, weighted balance, ESS, KM and HR.

The sensitivity analysis beside matching: the same propensity model's scores
turned into weights, the balance they achieve, how many patients they are
worth, the weighted Kaplan-Meier curves and the weighted hazard ratio (the
one Cox core, :mod:`rwe_stats._cox`, with case weights). Tested against
saved R output (``tests/python/reference/weighting.R``,
``cox_weighted_stratified.R``) and independent code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rwe_stats._checks import flag_array, require_columns, require_unique
from rwe_stats._times import SurvivalTimes
from rwe_stats.balance import COLUMNS as BALANCE_COLUMNS
from rwe_stats.balance import _covariate_levels
from rwe_stats.survival import CI_METHODS, _check_alpha, _confidence_band, _groups, hazard_ratio

__all__ = [
    "KM_VARIANCE_METHODS",
    "WEIGHT_METHODS",
    "effective_sample_size",
    "propensity_weights",
    "weighted_hazard_ratio",
    "weighted_kaplan_meier_table",
    "weighted_standardized_mean_differences",
]

WEIGHT_METHODS = {
    "ATT": "ATT: treated 1, control ps / (1 - ps) (average treatment effect on the treated)",
    "overlap": "overlap (Li, Morgan and Zaslavsky 2018): treated 1 - ps, control ps (ATO)",
}
WEIGHTED_CONTINUOUS = ("continuous, weighted (Austin and Stuart 2015): (m_t - m_c) / sqrt((v_t + "
                       "v_c) / 2), weighted means, reliability-weighted variances sum w (x - m)^2 "
                       "/ (sum w - sum w^2 / sum w) within each arm (R cov.wt method "
                       "'unbiased'; CohortMethod's after-weighting SD)")
WEIGHTED_BINARY = ("binary, weighted (Austin and Stuart 2015): (p_t - p_c) / sqrt((p_t (1 - p_t) "
                   "+ p_c (1 - p_c)) / 2), weighted proportions")
ESS_METHOD = "Kish: (sum w)^2 / sum w^2 per arm"
KM_VARIANCE_METHODS = {
    "robust": "infinitesimal jackknife (R survfit robust = TRUE, its default for non-integer "
              "case weights): var S = sum_i (w_i dS/dw_i)^2, each patient a cluster; weights "
              "taken as fixed",
    "greenwood": "Greenwood on weighted counts (R survfit robust = FALSE): var log S = sum D / "
                 "(Y (Y - D))",
}
BALANCE_OUTPUT = [*BALANCE_COLUMNS, "weight_method"]
KM_COLUMNS = ["group", "time_months", "n_at_risk", "n_events", "n_censored",
              "weighted_n_at_risk", "weighted_n_events", "survival", "se_survival", "ci_lower",
              "ci_upper", "ci_method", "variance_method", "weight_method"]


def _weights(df: pd.DataFrame, weight_col: str) -> np.ndarray:
    require_columns(df, [weight_col], "a weighted estimate")
    weights = pd.to_numeric(df[weight_col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(weights).any():
        raise ValueError(f"{weight_col} has missing or non-numeric values: every patient needs "
                         "a weight")
    if not np.isfinite(weights).all() or (weights <= 0).any():
        raise ValueError(f"{weight_col} must be positive and finite (propensity scores of 0 or "
                         "1 give infinite or zero weights)")
    return weights


def _check_method(weight_method: str) -> None:
    if weight_method not in WEIGHT_METHODS:
        raise ValueError(f"weight_method must be one of {sorted(WEIGHT_METHODS)}, not "
                         f"{weight_method!r}")


def propensity_weights(scores: pd.DataFrame, weight_method: str,
                       id_col: str = "patient_id") -> pd.DataFrame:
    """Weights from propensity scores, for the ATT or the overlap population.

    Method:

    - ``"ATT"``: treated 1, control ``ps / (1 - ps)``: the controls are
      re-weighted to the treated patients' covariate distribution (the
      estimand of 1:1 matching, so the two analyses are comparable);
    - ``"overlap"``: treated ``1 - ps``, control ``ps`` (Li, Morgan and
      Zaslavsky 2018): the population with the most clinical equipoise;
      bounded weights, and exact balance of every covariate of the
      logistic propensity model (tested).

    Weights are not normalised (estimates do not depend on the scale).

    Parameters
    ----------
    scores
        ``id_col``, ``is_treated`` and ``propensity_score`` (as from
        :func:`rwe_stats.propensity.estimate_propensity_scores`).
    weight_method
        ``"ATT"`` or ``"overlap"``.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``is_treated``, ``propensity_score``, ``weight``,
        ``weight_method``, in the input's row order.
    """
    _check_method(weight_method)
    require_columns(scores, [id_col, "is_treated", "propensity_score"], "propensity weights")
    require_unique(scores, id_col)
    treated = flag_array(scores, "is_treated")
    ps = pd.to_numeric(scores["propensity_score"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(ps).any():
        raise ValueError("propensity_score has missing or non-numeric values")
    if ((ps <= 0) | (ps >= 1)).any():
        raise ValueError("propensity_score must lie strictly between 0 and 1")
    if weight_method == "ATT":
        weight = np.where(treated, 1.0, ps / (1.0 - ps))
    else:
        weight = np.where(treated, 1.0 - ps, ps)
    return pd.DataFrame({"patient_id": scores[id_col].to_numpy(), "is_treated": treated,
                         "propensity_score": ps, "weight": weight,
                         "weight_method": WEIGHT_METHODS[weight_method]})


def effective_sample_size(df: pd.DataFrame, treatment_col: str, weight_col: str,
                          weight_method: str,
                          arm_labels: tuple[str, str] = ("treated", "control")) -> pd.DataFrame:
    """Kish's effective sample size of each arm under the weights.

    Method: ``ESS = (sum w)^2 / sum w^2`` (Kish 1965); equals the number of
    patients when all weights are equal, and falls as the weights spread.

    Returns
    -------
    pandas.DataFrame
        One row per arm (treated first): ``arm``, ``n``, ``sum_weights``,
        ``ess``, ``ess_method``, ``weight_method``.
    """
    _check_method(weight_method)
    treated = flag_array(df, treatment_col)
    weights = _weights(df, weight_col)
    rows = []
    for mask, label in zip((treated, ~treated), arm_labels, strict=True):
        arm = weights[mask]
        rows.append({"arm": label, "n": int(mask.sum()), "sum_weights": float(arm.sum()),
                     "ess": float(arm.sum() ** 2 / np.sum(arm ** 2)) if mask.any() else 0.0,
                     "ess_method": ESS_METHOD, "weight_method": WEIGHT_METHODS[weight_method]})
    return pd.DataFrame(rows)


def _weighted_mean_and_variance(values: np.ndarray, weights: np.ndarray,
                                binary: bool) -> tuple[float, float]:
    total = weights.sum()
    mean = float(np.sum(weights * values) / total)
    if binary:
        return mean, mean * (1 - mean)
    # reliability weights: equal weights give the ddof=1 sample variance
    denominator = total - np.sum(weights ** 2) / total
    if denominator <= 0:
        return mean, np.nan
    return mean, float(np.sum(weights * (values - mean) ** 2) / denominator)


def weighted_standardized_mean_differences(df: pd.DataFrame, treatment_col: str,
                                           covariates: Sequence[str], weight_col: str,
                                           cohort_label: str,
                                           weight_method: str) -> pd.DataFrame:
    """Standardised mean differences (treated minus control) in the weighted cohort.

    Method (Austin and Stuart 2015, Stat Med 34:3661): weighted means
    ``m = sum w x / sum w`` per arm; the SMD's denominator is the square
    root of the mean of the two arms' **weighted** variances -- for numeric
    covariates the reliability-weighted variance ``sum w (x - m)^2 / (sum w
    - sum w^2 / sum w)`` (R ``cov.wt(method = "unbiased")``; what OHDSI
    CohortMethod uses after weighting), for booleans and levels of text
    covariates ``p (1 - p)`` of the weighted proportion. (cobalt instead
    keeps the unweighted SDs of the unadjusted sample; CohortMethod and
    Austin and Stuart use the weighted ones, which we follow.) With all
    weights equal this is exactly
    :func:`rwe_stats.balance.standardized_mean_differences` (tested).

    ``n_*`` are patient counts and ``count_*`` the (unweighted) patients
    with a binary attribute, for disclosure control; ``mean_*`` are
    weighted.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`rwe_stats.balance.standardized_mean_differences`
        plus ``weight_method``.
    """
    _check_method(weight_method)
    require_columns(df, [treatment_col, *covariates], "weighted balance")
    treated = flag_array(df, treatment_col)
    if treated.all() or not treated.any():
        raise ValueError(f"balance needs treated and control patients in {treatment_col}")
    weights = _weights(df, weight_col)
    rows = []
    for covariate in covariates:
        for level, numbers, binary in _covariate_levels(df, covariate):
            mean_t, var_t = _weighted_mean_and_variance(numbers[treated], weights[treated], binary)
            mean_c, var_c = _weighted_mean_and_variance(numbers[~treated], weights[~treated],
                                                        binary)
            pooled = (var_t + var_c) / 2
            if np.isnan(pooled):
                smd = np.nan
            elif pooled == 0:
                smd = 0.0 if mean_t == mean_c else float(np.inf * np.sign(mean_t - mean_c))
            else:
                smd = float((mean_t - mean_c) / np.sqrt(pooled))
            rows.append({
                "covariate": covariate, "level": level, "cohort": cohort_label,
                "mean_treated": mean_t, "mean_control": mean_c,
                "n_treated": int(treated.sum()), "n_control": int((~treated).sum()),
                "count_treated": int(numbers[treated].sum()) if binary else None,
                "count_control": int(numbers[~treated].sum()) if binary else None,
                "smd": smd, "smd_method": WEIGHTED_BINARY if binary else WEIGHTED_CONTINUOUS,
                "weight_method": WEIGHT_METHODS[weight_method],
            })
    return pd.DataFrame(rows, columns=BALANCE_OUTPUT).astype({"count_treated": "Int64",
                                                              "count_control": "Int64"})


def _weighted_km(times: SurvivalTimes, groups: slice, weights: np.ndarray,
                 variance: str) -> dict[str, np.ndarray]:
    """Weighted KM of one group (its slice of ``times``' groups), with SE of S and of log S."""
    rows = times.order[times.group_bounds[groups.start]:times.group_bounds[groups.stop]]
    inverse = times.group[rows] - groups.start  # each row's distinct time within the group
    events, weights = times.events[rows], weights[rows]
    k = groups.stop - groups.start
    count = np.diff(times.group_bounds)[groups].astype(float)
    deaths = times.deaths[groups].astype(float)
    w_total = np.bincount(inverse, weights=weights, minlength=k)
    w_deaths = np.bincount(inverse, weights=weights * events, minlength=k)
    at_risk = len(rows) - np.concatenate(([0.0], np.cumsum(count)[:-1]))
    # summed from the last time backwards, as R does: where everyone left at risk has the
    # event, D / Y is then exactly 1 and S exactly 0 (total - cumsum leaves ~1e-15)
    w_at_risk = np.cumsum(w_total[::-1])[::-1]
    hazard = np.where(deaths > 0, w_deaths / w_at_risk, 0.0)
    survival = np.cumprod(1.0 - hazard)
    with np.errstate(divide="ignore", invalid="ignore"):
        if variance == "greenwood":
            increment = np.where(deaths > 0, w_deaths / (w_at_risk * (w_at_risk - w_deaths)), 0.0)
            se_log = np.sqrt(np.cumsum(increment))
        else:
            # w_i dS(t)/dw_i = S(t) w_i A_i(t), A_i(t) = C(min(t, T_i)) - delta_i [T_i <= t] /
            # (Y(T_i) (1 - h(T_i))), C(t) = sum_{s <= t} h / (Y (1 - h)); so var S / S^2 =
            # C(t)^2 sum_{T_i > t} w_i^2 + sum_{T_i <= t} w_i^2 A_i(T_i)^2: two running sums
            step = np.where(deaths > 0, hazard / (w_at_risk * (1.0 - hazard)), 0.0)
            cumulative = np.cumsum(step)
            own = cumulative[inverse] - events / (w_at_risk[inverse] * (1.0 - hazard[inverse]))
            squared = np.bincount(inverse, weights=weights ** 2, minlength=k)
            later = np.concatenate((np.cumsum(squared[::-1])[::-1][1:], [0.0]))
            ended = np.cumsum(np.bincount(inverse, weights=weights ** 2 * own ** 2, minlength=k))
            se_log = np.sqrt(cumulative ** 2 * later + ended)
        se_log = np.where(survival > 0, se_log, np.nan)
        se_survival = np.where(survival > 0, survival * se_log, 0.0)
    return {"time_months": times.group_time[groups], "n_at_risk": at_risk.astype(int),
            "n_events": deaths.astype(int), "n_censored": (count - deaths).astype(int),
            "weighted_n_at_risk": w_at_risk, "weighted_n_events": w_deaths,
            "survival": survival, "se_survival": se_survival, "se_log": se_log}


def weighted_kaplan_meier_table(df: pd.DataFrame, duration_col: str, event_col: str,
                                group_col: str, weight_col: str, weight_method: str,
                                variance: str = "robust", alpha: float = 0.05,
                                conf_type: str = "log-log", *,
                                times_by_group: SurvivalTimes | None = None) -> pd.DataFrame:
    """Kaplan-Meier curves with case weights, per group, with pointwise CIs.

    Method: the product-limit estimator on weighted counts, ``S(t) = prod
    (1 - D_j / Y_j)`` with ``D_j`` the weighted events and ``Y_j`` the
    weighted number at risk at each distinct time (R ``survfit(...,
    weights = w)``). Variance (``variance``):

    - ``"robust"`` (default): the infinitesimal-jackknife variance, ``var
      S(t) = sum_i (w_i dS(t)/dw_i)^2`` with each patient their own
      cluster -- what R survfit uses by default when the weights are not
      integers (``robust = TRUE``), and the appropriate one for IPW weights.
      It treats the weights as known: the uncertainty of the propensity
      model is not propagated (as in R).
    - ``"greenwood"``: Greenwood's formula on the weighted counts, ``var
      log S = sum D / (Y (Y - D))`` (R ``robust = FALSE``); it takes the
      weighted counts for real counts and is too narrow for IPW weights.

    The interval (default log-log) uses ``se(log S) = se(S) / S`` as
    R does. R 3.5's ``fit$std.err`` is ``se(S)`` with ``robust = TRUE`` but
    ``se(log S)`` with Greenwood; ``se_survival`` here is always ``se(S)``.
    ``times_by_group``: as for :func:`rwe_stats.survival.kaplan_meier_table`
    (the rows sorted by group and time once, shared with the unweighted
    curves of the same rows).

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time, plus a time-0 row with S = 1:
        ``group``, ``time_months``, ``n_at_risk``, ``n_events``,
        ``n_censored`` (patients), ``weighted_n_at_risk``,
        ``weighted_n_events``, ``survival``, ``se_survival``, ``ci_lower``,
        ``ci_upper``, ``ci_method``, ``variance_method``, ``weight_method``.
    """
    _check_alpha(alpha)
    _check_method(weight_method)
    if variance not in KM_VARIANCE_METHODS:
        raise ValueError(f"variance must be one of {sorted(KM_VARIANCE_METHODS)}, not "
                         f"{variance!r}")
    if conf_type not in CI_METHODS:
        raise ValueError(f"conf_type must be one of {sorted(CI_METHODS)}, not {conf_type!r}")
    weights = _weights(df, weight_col)
    times_by_group, groups = _groups(df, duration_col, event_col, group_col, times_by_group)
    tables = []
    for key, group in groups:
        curve = _weighted_km(times_by_group, group, weights, variance)
        lower, upper = _confidence_band(curve["survival"], curve.pop("se_log"), alpha, conf_type)
        table = pd.DataFrame(curve).assign(ci_lower=lower, ci_upper=upper)
        if table["time_months"].iloc[0] != 0.0:
            start = {"time_months": 0.0, "n_at_risk": int(table["n_at_risk"].iloc[0]),
                     "n_events": 0, "n_censored": 0,
                     "weighted_n_at_risk": float(table["weighted_n_at_risk"].iloc[0]),
                     "weighted_n_events": 0.0, "survival": 1.0, "se_survival": 0.0,
                     "ci_lower": 1.0, "ci_upper": 1.0}
            table = pd.concat([pd.DataFrame([start]), table], ignore_index=True)
        tables.append(table.assign(group=key))
    result = pd.concat(tables, ignore_index=True).assign(
        ci_method=CI_METHODS[conf_type], variance_method=KM_VARIANCE_METHODS[variance],
        weight_method=WEIGHT_METHODS[weight_method])
    return result[KM_COLUMNS]


def weighted_hazard_ratio(df: pd.DataFrame, duration_col: str, event_col: str,
                          treatment_col: str, weight_col: str, weight_method: str,
                          alpha: float = 0.05, *, times: SurvivalTimes | None = None
                          ) -> pd.DataFrame:
    """Hazard ratio of treated vs untreated with propensity-score case weights.

    Method: the Cox model of the treatment flag with case weights, Efron
    ties weighted as R does, and the robust (Lin-Wei sandwich) variance with
    each patient their own cluster -- R's ``coxph(Surv(t, e) ~ treated,
    weights = w, robust = TRUE)``; Wald CI and p on the robust SE. As the
    weighted KM, it takes the weights as known: the uncertainty of the
    propensity model is not propagated. The fit is
    :func:`rwe_stats.survival.hazard_ratio`; ``times`` is the
    :func:`rwe_stats.regression.survival_times` of ``df``, when the caller
    has it.

    Returns
    -------
    pandas.DataFrame
        One row: ``hr``, ``ci_lower``, ``ci_upper``, ``p_value``,
        ``variance_method``, ``ties_method``, ``weight_method``.
    """
    _check_method(weight_method)
    _weights(df, weight_col)  # missing or non-positive weights named as the other estimates do
    return hazard_ratio(df, duration_col, event_col, treatment_col, alpha=alpha,
                        weights_col=weight_col, robust=True, times=times
                        ).assign(weight_method=WEIGHT_METHODS[weight_method])

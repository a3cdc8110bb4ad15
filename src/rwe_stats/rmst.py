"""Absolute effect measures: restricted mean survival time and milestone survival.

Per arm, the RMST and its standard error are exactly R survival's
``summary(survfit(...), rmean = tau)$table[, c("rmean", "se(rmean)")]``
(``survival:::survmean``); the difference and ratio between arms are formed
as ``survRM2::rmst2`` forms them, whose per-arm estimate and variance are the
same quantities. Milestone differences are differences of Kaplan-Meier
estimates at a landmark with Greenwood variances. Tested against saved R
output (``tests/python/reference/rmst.R``) and independent loops.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._checks import flag_array, survival_arrays
from rwe_stats._status import STATUS_COLUMNS, estimated, not_estimable

__all__ = [
    "RMST_CI_METHOD",
    "RMST_VARIANCE_METHOD",
    "largest_common_tau",
    "milestone_survival_difference",
    "rmst_by_arm",
    "rmst_contrasts",
]

RMST_VARIANCE_METHOD = (
    "R survival survmean (print.survfit rmean): sum over KM steps before tau of (area under the "
    "curve from the step to tau)^2 x d / (n (n - d)) (0 where n = d), no n/(n-1) factor; the "
    "survRM2 rmst1 variance")
RMST_CI_METHOD = "normal (Wald): rmst +/- z se"
CONTRAST_CI_METHODS = {
    "difference": "normal (Wald) on the difference, se = sqrt(se_t^2 + se_c^2) (survRM2 rmst2)",
    "ratio": "normal (Wald) on log(rmst_t / rmst_c), delta-method se = sqrt(se_t^2 / rmst_t^2 + "
             "se_c^2 / rmst_c^2), exponentiated (survRM2 rmst2)",
}
TAU_RULES = {
    "requested": "requested by the study",
    "largest": "largest tau survRM2 allows: the shorter arm's last time, or the longer arm's "
               "when the shorter arm ends on events (its curve is 0 from there)",
}
MILESTONE_VARIANCE_METHOD = "Greenwood: var S = S^2 sum d / (n (n - d)) per arm, arms independent"
MILESTONE_CI_METHOD = "normal (Wald) on S_t - S_c, se = sqrt(var_t + var_c)"
ARM_COLUMNS = ["tau_months", "tau_rule", "arm", "n", "events_by_tau", "rmst", "se", "ci_lower",
               "ci_upper", "ci_method", "variance_method", *STATUS_COLUMNS]
CONTRAST_COLUMNS = ["tau_months", "tau_rule", "measure", "rmst_treated", "rmst_control",
                    "estimate", "ci_lower", "ci_upper", "p_value", "ci_method", "variance_method",
                    *STATUS_COLUMNS]
MILESTONE_COLUMNS = ["time_months", "survival_treated", "survival_control", "se_treated",
                     "se_control", "difference", "ci_lower", "ci_upper", "p_value", "ci_method",
                     "variance_method", *STATUS_COLUMNS]


class _Curve:
    """Kaplan-Meier steps of one arm at every distinct time, as R ``survfit`` lists them."""

    def __init__(self, durations: np.ndarray, events: np.ndarray):
        self.times, inverse = np.unique(durations, return_inverse=True)
        self.n_events = np.bincount(inverse, weights=events.astype(float),
                                    minlength=len(self.times))
        n_total = np.bincount(inverse, minlength=len(self.times)).astype(float)
        self.n_at_risk = len(durations) - np.concatenate(([0.0], np.cumsum(n_total)[:-1]))
        self.survival = np.cumprod(1.0 - self.n_events / self.n_at_risk)
        # survmean's hh: d / (n (n - d)), set to 0 where everyone at risk has the event
        surviving = self.n_at_risk - self.n_events
        with np.errstate(divide="ignore", invalid="ignore"):
            self.hh = np.where(surviving == 0, 0.0,
                               self.n_events / (self.n_at_risk * surviving))
        # Greenwood sum for the landmark variance (infinite once S is 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            increment = np.where(self.n_events > 0,
                                 self.n_events / (self.n_at_risk * surviving), 0.0)
        self.greenwood = np.cumsum(increment)
        self.n = len(durations)
        self.last_time = float(self.times[-1])
        last = durations == self.last_time
        self.ends_on_events = bool(events[last].all())

    def rmst(self, tau: float) -> tuple[float, float]:
        """(RMST, SE) up to ``tau``: ``survival:::survmean`` line by line."""
        keep = self.times <= tau
        if not keep.any():
            return float(tau), 0.0
        times = np.append(self.times[keep], tau)
        surv = self.survival[keep]
        delta = np.diff(np.concatenate(([0.0], times)))
        # areas after each kept step up to the next step (or tau); the first
        # rectangle, from 0 to the first time, is under S = 1
        areas = delta[1:] * surv
        mean = float(delta[0] + areas.sum())
        area_to_tau = np.cumsum(areas[::-1])[::-1]
        variance = float(np.sum(area_to_tau ** 2 * self.hh[keep]))
        return mean, float(np.sqrt(variance))

    def at(self, time: float) -> tuple[float, float]:
        """(S, Greenwood SE of S) of the right-continuous curve at ``time``."""
        position = np.searchsorted(self.times, time, side="right") - 1
        if position < 0:
            return 1.0, 0.0
        survival = float(self.survival[position])
        if survival == 0:  # Greenwood's sum is infinite there: no variance
            return 0.0, np.nan
        return survival, float(survival * np.sqrt(self.greenwood[position]))

    def events_by(self, time: float) -> int:
        return int(self.n_events[self.times <= time].sum())


def _arms(df: pd.DataFrame, duration_col: str, event_col: str,
          treatment_col: str) -> tuple[_Curve | None, _Curve | None]:
    durations, events = survival_arrays(df, duration_col, event_col)
    treated = flag_array(df, treatment_col)
    return tuple(_Curve(durations[mask], events[mask]) if mask.any() else None
                 for mask in (treated, ~treated))


def largest_common_tau(treated_times: np.ndarray, treated_events: np.ndarray,
                       control_times: np.ndarray, control_events: np.ndarray) -> float:
    """Largest truncation time ``survRM2::rmst2`` accepts for two arms.

    Let x1, x0 be the arms' last observed times. When the arm that ends
    first (x1 <= x0: arm 1, as survRM2 breaks the tie) ends on events only,
    its Kaplan-Meier curve is 0 from there on and tau may go up to the longer
    arm's last time; otherwise tau may not pass the shorter arm's last time
    (the curve is unknown beyond it). survRM2 uses this value as its default
    tau and refuses a larger one.
    """
    curves = [_Curve(np.asarray(t, dtype=float), np.asarray(e, dtype=bool))
              for t, e in ((treated_times, treated_events), (control_times, control_events))]
    return _largest_tau(*curves)


def _largest_tau(treated: _Curve, control: _Curve) -> float:
    shorter = treated if treated.last_time <= control.last_time else control
    longest = max(treated.last_time, control.last_time)
    return longest if shorter.ends_on_events else min(treated.last_time, control.last_time)


def _taus(taus: Sequence[float], largest: float | None,
          include_largest: bool) -> list[tuple[float, str]]:
    requested = [float(tau) for tau in taus]
    if any(not np.isfinite(tau) or tau <= 0 for tau in requested):
        raise ValueError("taus must be positive numbers (months)")
    rows = [(tau, "requested") for tau in requested]
    if include_largest and largest is not None and largest not in requested:
        rows.append((largest, "largest"))
    if not rows:
        raise ValueError("taus is empty and include_largest is False: nothing to estimate")
    return rows


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")


def rmst_by_arm(df: pd.DataFrame, duration_col: str, event_col: str, treatment_col: str,
                taus: Sequence[float] = (12.0, 24.0), include_largest: bool = True,
                alpha: float = 0.05,
                arm_labels: tuple[str, str] = ("treated", "control")) -> pd.DataFrame:
    """Restricted mean survival time up to each tau, per arm, with its CI.

    Method: the area under the Kaplan-Meier curve from 0 to tau, and its
    standard error exactly as R survival's ``survmean`` (what
    ``print(survfit(...), rmean = tau)`` prints): ``se^2 = sum_j A_j^2 d_j /
    (n_j (n_j - d_j))`` over the distinct times t_j <= tau, A_j the area
    under the curve from t_j to tau, the term 0 where ``n_j = d_j``; no
    ``n / (n - 1)`` factor. survRM2's ``rmst1`` gives the same estimate
    and variance. CI: ``rmst +/- z se`` (survRM2).

    Tau: each of ``taus``, plus (``include_largest``) the largest tau
    survRM2 allows (:func:`largest_common_tau`), labelled ``tau_rule =
    "largest"``. A tau beyond it is not estimable (``status_reason =
    "tau_beyond_follow_up"``); survRM2 refuses it and survfit would extend
    the last value silently.

    Parameters
    ----------
    df
        One row per patient.
    duration_col, event_col
        Follow-up time (months, >= 0) and event flag.
    treatment_col
        Boolean (or 0/1) treatment flag.
    taus
        Truncation times in months (> 0).
    include_largest
        Add the largest allowed tau as a row.
    alpha
        1 - confidence level.
    arm_labels
        Written to ``arm`` for treated and control patients.

    Returns
    -------
    pandas.DataFrame
        One row per tau and arm (treated first): ``tau_months``,
        ``tau_rule`` (``requested`` or ``largest``), ``arm``, ``n``,
        ``events_by_tau``, ``rmst``, ``se``, ``ci_lower``, ``ci_upper``,
        ``ci_method``, ``variance_method``, ``estimation_status``,
        ``status_reason``.
    """
    _check_alpha(alpha)
    curves = _arms(df, duration_col, event_col, treatment_col)
    both = None not in curves
    largest = _largest_tau(*curves) if both else None
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for tau, rule in _taus(taus, largest, include_largest):
        for curve, label in zip(curves, arm_labels, strict=True):
            row = {"tau_months": tau, "tau_rule": rule, "arm": label,
                   "n": 0 if curve is None else curve.n,
                   "events_by_tau": None if curve is None else curve.events_by(tau),
                   "rmst": np.nan, "se": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
                   "ci_method": RMST_CI_METHOD, "variance_method": RMST_VARIANCE_METHOD}
            if not both:
                row |= not_estimable("empty_arm")
            elif tau > largest:
                row |= not_estimable("tau_beyond_follow_up")
            else:
                mean, se = curve.rmst(tau)
                row |= {"rmst": mean, "se": se, "ci_lower": mean - z * se,
                        "ci_upper": mean + z * se} | estimated()
            rows.append(row)
    return pd.DataFrame(rows, columns=ARM_COLUMNS).astype({"events_by_tau": "Int64"})


def rmst_contrasts(df: pd.DataFrame, duration_col: str, event_col: str, treatment_col: str,
                   taus: Sequence[float] = (12.0, 24.0), include_largest: bool = True,
                   alpha: float = 0.05) -> pd.DataFrame:
    """RMST difference (treated - control) and ratio (treated / control) at each tau.

    Method: ``survRM2::rmst2`` (unadjusted): difference with ``se =
    sqrt(se_t^2 + se_c^2)``, normal CI and two-sided p; ratio on the log
    scale, delta-method ``se = sqrt(se_t^2 / rmst_t^2 + se_c^2 /
    rmst_c^2)``, CI and p on the log scale, exponentiated. The per-arm
    estimates and SEs are those of :func:`rmst_by_arm`. Arms are
    independent samples (for a matched cohort this ignores the pairing,
    as the log-rank test does; see docs/methods-statistics.md).

    Not estimable (row kept, estimates null): an empty arm; tau beyond the
    largest allowed tau; no event before tau in either arm (zero variance).

    Returns
    -------
    pandas.DataFrame
        Two rows per tau (``measure`` = ``difference``, ``ratio``):
        ``tau_months``, ``tau_rule``, ``measure``, ``rmst_treated``,
        ``rmst_control``, ``estimate``, ``ci_lower``, ``ci_upper``,
        ``p_value``, ``ci_method``, ``variance_method``,
        ``estimation_status``, ``status_reason``.
    """
    _check_alpha(alpha)
    treated, control = _arms(df, duration_col, event_col, treatment_col)
    both = treated is not None and control is not None
    largest = _largest_tau(treated, control) if both else None
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for tau, rule in _taus(taus, largest, include_largest):
        base = {"tau_months": tau, "tau_rule": rule, "variance_method": RMST_VARIANCE_METHOD}
        nulls = {"rmst_treated": np.nan, "rmst_control": np.nan, "estimate": np.nan,
                 "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan}
        if not both or tau > largest:
            status = not_estimable("empty_arm" if not both else "tau_beyond_follow_up")
            rows += [base | nulls | {"measure": measure, "ci_method": method} | status
                     for measure, method in CONTRAST_CI_METHODS.items()]
            continue
        (mean_t, se_t), (mean_c, se_c) = treated.rmst(tau), control.rmst(tau)
        means = {"rmst_treated": mean_t, "rmst_control": mean_c}
        if se_t == 0 and se_c == 0:
            rows += [base | nulls | means | {"measure": measure, "ci_method": method}
                     | not_estimable("no_events_before_tau")
                     for measure, method in CONTRAST_CI_METHODS.items()]
            continue
        difference, difference_se = mean_t - mean_c, float(np.hypot(se_t, se_c))
        log_ratio = np.log(mean_t) - np.log(mean_c)
        log_ratio_se = float(np.hypot(se_t / mean_t, se_c / mean_c))
        rows.append(base | means | {
            "measure": "difference", "estimate": difference,
            "ci_lower": difference - z * difference_se, "ci_upper": difference + z * difference_se,
            "p_value": float(2 * stats.norm.sf(abs(difference) / difference_se)),
            "ci_method": CONTRAST_CI_METHODS["difference"]} | estimated())
        rows.append(base | means | {
            "measure": "ratio", "estimate": float(np.exp(log_ratio)),
            "ci_lower": float(np.exp(log_ratio - z * log_ratio_se)),
            "ci_upper": float(np.exp(log_ratio + z * log_ratio_se)),
            "p_value": float(2 * stats.norm.sf(abs(log_ratio) / log_ratio_se)),
            "ci_method": CONTRAST_CI_METHODS["ratio"]} | estimated())
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def milestone_survival_difference(df: pd.DataFrame, duration_col: str, event_col: str,
                                  treatment_col: str, times: Sequence[float],
                                  alpha: float = 0.05) -> pd.DataFrame:
    """Difference in Kaplan-Meier survival (treated - control) at landmark times.

    Method: each arm's Kaplan-Meier estimate at the landmark (the
    right-continuous step function, events at the landmark included, as R
    ``summary(survfit(...), times = )``) and its Greenwood standard error
    ``S sqrt(sum d / (n (n - d)))`` (R's ``std.err`` there); the arms are
    independent, so ``se = sqrt(se_t^2 + se_c^2)``; normal (Wald) CI and
    two-sided p on the difference (not transformed: a difference of
    probabilities can be negative).

    Not estimable (row kept): an empty arm; a landmark after an arm's last
    observed time (R drops it); an arm whose estimate is 0 at the landmark
    (Greenwood is undefined there; R gives NaN).

    Returns
    -------
    pandas.DataFrame
        One row per landmark: ``time_months``, ``survival_treated``,
        ``survival_control``, ``se_treated``, ``se_control``,
        ``difference``, ``ci_lower``, ``ci_upper``, ``p_value``,
        ``ci_method``, ``variance_method``, ``estimation_status``,
        ``status_reason``.
    """
    _check_alpha(alpha)
    landmarks = np.asarray(times, dtype=float)
    if landmarks.size == 0 or not np.isfinite(landmarks).all() or (landmarks < 0).any():
        raise ValueError("times must be a non-empty list of landmark months >= 0")
    treated, control = _arms(df, duration_col, event_col, treatment_col)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for landmark in landmarks:
        row = {"time_months": float(landmark), "survival_treated": np.nan,
               "survival_control": np.nan, "se_treated": np.nan, "se_control": np.nan,
               "difference": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
               "ci_method": MILESTONE_CI_METHOD, "variance_method": MILESTONE_VARIANCE_METHOD}
        if treated is None or control is None:
            rows.append(row | not_estimable("empty_arm"))
            continue
        if landmark > treated.last_time or landmark > control.last_time:
            rows.append(row | not_estimable("landmark_beyond_follow_up"))
            continue
        (s_t, se_t), (s_c, se_c) = treated.at(landmark), control.at(landmark)
        row |= {"survival_treated": s_t, "survival_control": s_c, "difference": s_t - s_c}
        if s_t == 0 or s_c == 0:
            rows.append(row | not_estimable("survival_reaches_zero"))
            continue
        se = float(np.hypot(se_t, se_c))
        row |= {"se_treated": se_t, "se_control": se_c,
                "ci_lower": s_t - s_c - z * se, "ci_upper": s_t - s_c + z * se,
                "p_value": float(2 * stats.norm.sf(abs(s_t - s_c) / se)) if se > 0 else np.nan}
        rows.append(row | estimated())
    return pd.DataFrame(rows, columns=MILESTONE_COLUMNS)

"""Study diagnostics that say whether a comparison can be read, with pass/fail thresholds.

The diagnostics of OHDSI CohortMethod (balance, equipoise, minimum detectable
effect) plus the share of treated patients matched, the propensity model's
c-statistic, the PH test of the treatment term and the events per arm. Each
is a row with its value, the caller's threshold, whether it passed and the
method; the thresholds are study parameters. Tested against base-R output
(``tests/python/reference/diagnostics.R``) and independent code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._checks import flag_array, require_columns
from rwe_stats._status import STATUS_COLUMNS, estimated, not_estimable

__all__ = [
    "DIAGNOSTICS",
    "c_statistic",
    "equipoise_share",
    "minimum_detectable_hazard_ratio",
    "preference_scores",
    "study_diagnostics",
]

EQUIPOISE_BOUNDS = (0.3, 0.7)
# name -> (direction of a pass, method); one source for names, order and methods
DIAGNOSTICS: dict[str, tuple[str, str]] = {
    "max_abs_smd_after_matching": (
        "<=", "largest |SMD| over the matched cohort's balance rows (Austin 2009 SMDs)"),
    "share_treated_matched": (
        ">=", "matched pairs / treated patients in the propensity model"),
    "equipoise_share": (
        ">=", "share of all patients with preference score in [0.3, 0.7] (Walker et al. 2013: "
              "logit F = logit ps - logit P, P the treated share)"),
    "propensity_c_statistic": (
        "<=", "c-statistic (AUC) of the propensity score for treatment: Mann-Whitney, ties 1/2"),
    "minimum_detectable_hr": (
        ">=", "Schoenfeld: the HR below 1 detectable with the observed events D and treated "
              "share p, exp(-(z_(1-alpha/2) + z_power) / sqrt(D p (1 - p))), two-sided; the HR "
              "above 1 is its reciprocal"),
    "ph_test_p_value": (
        ">=", "p of the proportional-hazards test of the treatment term (R cox.zph, km "
              "transform), supplied by the caller"),
    "events_treated": (">=", "events of the primary endpoint among matched treated patients"),
    "events_control": (">=", "events of the primary endpoint among matched control patients"),
}
COLUMNS = ["diagnostic", "value", "threshold", "pass_if", "passed", "method", *STATUS_COLUMNS]


def _scores(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    require_columns(scores, ["is_treated", "propensity_score"], "propensity diagnostics")
    treated = flag_array(scores, "is_treated")
    ps = pd.to_numeric(scores["propensity_score"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(ps).any():
        raise ValueError("propensity_score has missing or non-numeric values")
    if ((ps <= 0) | (ps >= 1)).any():
        raise ValueError("propensity_score must lie strictly between 0 and 1")
    if treated.all() or not treated.any():
        raise ValueError("is_treated must contain both treated and untreated patients")
    return ps, treated


def c_statistic(scores: pd.DataFrame) -> float:
    """Concordance of the propensity score with treatment (area under the ROC curve).

    Method: the Mann-Whitney statistic, the share of (treated, control)
    pairs in which the treated patient has the higher score, ties counting
    1/2: ``(R_t - n_t (n_t + 1) / 2) / (n_t n_c)`` with ``R_t`` the sum of
    the treated patients' mid-ranks (R ``wilcox.test(...)$statistic / (n_t
    n_c)``). O(n log n). 0.5: the groups overlap completely; near 1: they
    hardly overlap.
    """
    ps, treated = _scores(scores)
    ranks = stats.rankdata(ps, method="average")
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    return float((ranks[treated].sum() - n_t * (n_t + 1) / 2) / (n_t * n_c))


def preference_scores(scores: pd.DataFrame) -> np.ndarray:
    """Walker et al. (2013) preference score of every patient.

    ``logit F = logit ps - logit P`` with ``P`` the share of treated
    patients: the propensity score with the overall treatment share taken
    out, so that 0.5 means "as likely to get either treatment as the
    average patient".
    """
    ps, treated = _scores(scores)
    share = treated.mean()
    logit = np.log(ps / (1 - ps)) - np.log(share / (1 - share))
    return 1.0 / (1.0 + np.exp(-logit))


def equipoise_share(scores: pd.DataFrame,
                    bounds: tuple[float, float] = EQUIPOISE_BOUNDS) -> float:
    """Share of patients whose preference score lies in ``bounds`` (both ends included)."""
    lower, upper = bounds
    if not 0 <= lower < upper <= 1:
        raise ValueError(f"bounds must satisfy 0 <= lower < upper <= 1, not {bounds}")
    preference = preference_scores(scores)
    return float(np.mean((preference >= lower) & (preference <= upper)))


def minimum_detectable_hazard_ratio(events: int, treated_share: float, alpha: float = 0.05,
                                    power: float = 0.8) -> float:
    """The hazard ratio below 1 that ``events`` events can detect (Schoenfeld 1983).

    Schoenfeld's events formula ``D = (z_(1-alpha/2) + z_power)^2 / (p (1 -
    p) log(HR)^2)`` (two-sided test, allocation ``p``) solved for HR:
    ``exp(-(z_(1-alpha/2) + z_power) / sqrt(D p (1 - p)))``. The detectable
    HR above 1 is its reciprocal (the formula is symmetric in log HR).
    CohortMethod's MDRR is that reciprocal.
    """
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
    if not 0 < treated_share < 1:
        raise ValueError(f"treated_share must be between 0 and 1, not {treated_share}")
    if events <= 0:
        raise ValueError("events must be positive")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(np.exp(-z / np.sqrt(events * treated_share * (1 - treated_share))))


def _row(name: str, value: float | None, status: dict[str, object],
         thresholds: Mapping[str, float]) -> dict[str, object]:
    direction, method = DIAGNOSTICS[name]
    threshold = thresholds.get(name)
    if value is None or status["estimation_status"] != "estimated" or threshold is None:
        passed = None
    elif direction == "<=":
        passed = bool(value <= threshold)
    else:
        passed = bool(value >= threshold)
    return {"diagnostic": name, "value": np.nan if value is None else float(value),
            "threshold": np.nan if threshold is None else float(threshold), "pass_if": direction,
            "passed": passed, "method": method, **status}


def study_diagnostics(scores: pd.DataFrame, matched_pairs: pd.DataFrame,
                      matched_balance: pd.DataFrame, matched_cohort: pd.DataFrame,
                      treatment_col: str, event_col: str, thresholds: Mapping[str, float],
                      ph_test_p_value: float | None = None, alpha: float = 0.05,
                      power: float = 0.8) -> pd.DataFrame:
    """One row per study diagnostic: value, threshold, passed, method.

    Diagnostics (:data:`DIAGNOSTICS`, in this order): the largest |SMD|
    after matching, the share of treated patients matched, equipoise (share
    of all patients with preference score in [0.3, 0.7]), the propensity
    model's c-statistic, the minimum detectable HR for the primary endpoint
    (Schoenfeld, from the matched cohort's events and treated share, at
    ``alpha`` and ``power``), the PH test p of the treatment term, and the
    events per arm.

    ``passed`` compares the value with ``thresholds[name]`` in the
    direction ``pass_if``; it is null when the caller gives no threshold
    for that diagnostic (reported only) or the value cannot be computed
    (then ``estimation_status`` says why: no matched pairs, no finite SMD,
    no events, no PH test supplied). A study passes when no row has
    ``passed`` false.

    Parameters
    ----------
    scores
        All patients' ``is_treated`` and ``propensity_score``.
    matched_pairs
        One row per matched pair (its length is the number of pairs).
    matched_balance
        The matched cohort's balance rows (an ``smd`` column).
    matched_cohort
        One row per matched patient with ``treatment_col`` and the primary
        endpoint's ``event_col``.
    thresholds
        Diagnostic name -> threshold; names must be in :data:`DIAGNOSTICS`.
    ph_test_p_value
        From the Cox table's PH test of the treatment term, or None.

    Returns
    -------
    pandas.DataFrame
        ``diagnostic``, ``value``, ``threshold``, ``pass_if``, ``passed``
        (nullable boolean), ``method``, ``estimation_status``,
        ``status_reason``.
    """
    unknown = set(thresholds) - set(DIAGNOSTICS)
    if unknown:
        raise ValueError(f"unknown diagnostics in thresholds: {sorted(unknown)}; known: "
                         f"{list(DIAGNOSTICS)}")
    require_columns(matched_balance, ["smd"], "the balance diagnostic")
    _, treated_all = _scores(scores)
    values: dict[str, tuple[float | None, dict[str, object]]] = {}

    smd = pd.to_numeric(matched_balance["smd"], errors="coerce").to_numpy(dtype=float)
    smd = np.abs(smd[~np.isnan(smd)])
    values["max_abs_smd_after_matching"] = ((float(smd.max()), estimated()) if len(smd)
                                            else (None, not_estimable("no_balance_rows")))
    n_pairs = len(matched_pairs)
    values["share_treated_matched"] = (n_pairs / int(treated_all.sum()), estimated())
    values["equipoise_share"] = (equipoise_share(scores), estimated())
    values["propensity_c_statistic"] = (c_statistic(scores), estimated())

    require_columns(matched_cohort, [treatment_col, event_col], "the outcome diagnostics")
    if len(matched_cohort):
        treated = flag_array(matched_cohort, treatment_col)
        events = flag_array(matched_cohort, event_col)
    else:
        treated = events = np.zeros(0, dtype=bool)
    share = treated.mean() if len(treated) else np.nan
    if n_pairs == 0 or not 0 < share < 1:
        values["minimum_detectable_hr"] = (None, not_estimable("no_matched_pairs"))
    elif not events.any():
        values["minimum_detectable_hr"] = (None, not_estimable("no_events"))
    else:
        values["minimum_detectable_hr"] = (
            minimum_detectable_hazard_ratio(int(events.sum()), float(share), alpha, power),
            estimated())
    if ph_test_p_value is None:
        values["ph_test_p_value"] = (None, not_estimable("not_supplied"))
    elif not 0 <= ph_test_p_value <= 1:
        raise ValueError(f"ph_test_p_value must be a probability, not {ph_test_p_value}")
    else:
        values["ph_test_p_value"] = (float(ph_test_p_value), estimated())
    values["events_treated"] = (int((events & treated).sum()), estimated())
    values["events_control"] = (int((events & ~treated).sum()), estimated())

    rows = [_row(name, *values[name], thresholds=thresholds) for name in DIAGNOSTICS]
    return pd.DataFrame(rows, columns=COLUMNS).astype({"passed": "boolean"})

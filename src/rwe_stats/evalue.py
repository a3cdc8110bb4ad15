"""E-values for hazard ratios (VanderWeele and Ding 2017, Ann Intern Med 167:268).

The E-value is the minimum strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the treatment and
the outcome, conditional on the measured covariates, to fully explain away
an observed association. Closed forms of the paper (and of the R package
EValue's ``evalues.HR``, which is not packaged for Debian; the tests check
the paper's worked example and hand-computed values).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rwe_stats._checks import require_columns
from rwe_stats._status import STATUS_COLUMNS, estimated, not_estimable, status_of

__all__ = [
    "EVALUE_METHOD",
    "RARE_OUTCOME_THRESHOLD",
    "evalue_of_risk_ratio",
    "evalues_for_hazard_ratio",
    "evalues_for_table",
    "hazard_ratio_to_risk_ratio",
]

RARE_OUTCOME_THRESHOLD = 0.15
EVALUE_METHOD = ("VanderWeele-Ding 2017: E = RR + sqrt(RR (RR - 1)) for RR >= 1 (RR < 1: "
                 "inverted first); CI: the limit closest to 1, E = 1 if the CI includes 1; "
                 "true HR = 1")
RR_RULES = {
    True: "rare outcome (< {threshold:.0%} at end of follow-up): RR ~ HR",
    False: "common outcome (>= {threshold:.0%} at end of follow-up): RR ~ (1 - 0.5^sqrt(HR)) / "
           "(1 - 0.5^sqrt(1 / HR))",
}
COLUMNS = ["hr", "ci_lower", "ci_upper", "outcome_proportion", "is_rare_outcome", "rr_rule",
           "rr", "rr_ci_limit", "evalue", "evalue_ci", "evalue_method", *STATUS_COLUMNS]


def hazard_ratio_to_risk_ratio(hr: float, rare: bool) -> float:
    """The risk ratio VanderWeele and Ding use in place of a hazard ratio.

    Rare outcome: RR = HR. Common outcome: ``(1 - 0.5^sqrt(HR)) / (1 -
    0.5^sqrt(1 / HR))`` (VanderWeele 2020, Biometrics 76:746; EValue's
    ``HR_to_RR``), which maps 1 to 1 and is increasing.
    """
    if rare:
        return float(hr)
    root = np.sqrt(hr)
    return float((1 - 0.5 ** root) / (1 - 0.5 ** (1 / root)))


def evalue_of_risk_ratio(rr: float) -> float:
    """``RR + sqrt(RR (RR - 1))`` for RR >= 1; a protective RR is inverted first."""
    if not rr > 0:
        raise ValueError(f"a risk ratio must be positive, not {rr}")
    rr = rr if rr >= 1 else 1 / rr
    return float(rr + np.sqrt(rr * (rr - 1)))


def _check_ratio(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, not {value}")
    return value


def evalues_for_hazard_ratio(hr: float, ci_lower: float, ci_upper: float,
                             outcome_proportion: float,
                             rare_threshold: float = RARE_OUTCOME_THRESHOLD) -> dict[str, object]:
    """E-values of a hazard ratio and of its CI limit closest to 1.

    Method (VanderWeele and Ding 2017):

    - rare-outcome rule: with fewer than ``rare_threshold`` (15 %) of the
      patients having the outcome by the end of follow-up, HR is used as
      RR; otherwise the square-root transformation ``RR = (1 -
      0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR))`` (:func:`hazard_ratio_to_risk_ratio`),
      applied to the estimate and to the CI limits alike. In oncology PFS
      and OS the outcome is common, so this is the rule that applies.
    - point: ``E = RR + sqrt(RR (RR - 1))`` for RR >= 1, with RR
      replaced by 1/RR when RR < 1 (:func:`evalue_of_risk_ratio`).
    - CI: the limit closest to 1 (the lower limit if RR > 1, the upper if
      RR < 1) goes through the same formula; if the CI includes 1, the
      E-value of the CI is 1.

    This is R EValue's ``evalues.HR(est, lo, hi, rare, true = 1)``.

    Parameters
    ----------
    hr, ci_lower, ci_upper
        Hazard ratio and its confidence limits (positive, lower <= hr <= upper).
    outcome_proportion
        Share of patients with the outcome at the end of follow-up (0-1),
        e.g. events / patients, or 1 - KM at the last time.
    rare_threshold
        Below this share the outcome counts as rare.

    Returns
    -------
    dict
        A row: ``hr``, ``ci_lower``, ``ci_upper``, ``outcome_proportion``,
        ``is_rare_outcome``, ``rr_rule``, ``rr``, ``rr_ci_limit`` (the RR
        of the limit closest to 1, or 1), ``evalue``, ``evalue_ci``,
        ``evalue_method``, ``estimation_status``, ``status_reason``.
    """
    hr, lower, upper = (_check_ratio(name, value) for name, value in
                        (("hr", hr), ("ci_lower", ci_lower), ("ci_upper", ci_upper)))
    if not lower <= hr <= upper:
        raise ValueError("the CI must contain the hazard ratio (ci_lower <= hr <= ci_upper)")
    if not 0 <= outcome_proportion <= 1:
        raise ValueError(f"outcome_proportion must be between 0 and 1, not {outcome_proportion}")
    if not 0 < rare_threshold < 1:
        raise ValueError(f"rare_threshold must be between 0 and 1, not {rare_threshold}")
    rare = bool(outcome_proportion < rare_threshold)
    rr = hazard_ratio_to_risk_ratio(hr, rare)
    rr_lower, rr_upper = (hazard_ratio_to_risk_ratio(value, rare) for value in (lower, upper))
    if rr_lower <= 1 <= rr_upper:
        rr_limit = 1.0
    else:
        rr_limit = rr_lower if rr > 1 else rr_upper
    return {"hr": hr, "ci_lower": lower, "ci_upper": upper,
            "outcome_proportion": float(outcome_proportion), "is_rare_outcome": rare,
            "rr_rule": RR_RULES[rare].format(threshold=rare_threshold), "rr": rr,
            "rr_ci_limit": rr_limit, "evalue": evalue_of_risk_ratio(rr),
            "evalue_ci": evalue_of_risk_ratio(rr_limit), "evalue_method": EVALUE_METHOD,
            **estimated()}


def evalues_for_table(table: pd.DataFrame, outcome_proportion_col: str,
                      hr_col: str = "hr", lower_col: str = "ci_lower", upper_col: str = "ci_upper",
                      keep_cols: tuple[str, ...] = (),
                      rare_threshold: float = RARE_OUTCOME_THRESHOLD) -> pd.DataFrame:
    """:func:`evalues_for_hazard_ratio` for every row of a table of hazard ratios.

    A row whose ``estimation_status`` is ``not_estimable`` (a Cox model
    that could not be fitted) gives a not-estimable row
    (``input_not_estimated``); a missing HR on a row said to be estimated
    is invalid input and raises.

    Returns
    -------
    pandas.DataFrame
        ``keep_cols`` (e.g. ``endpoint``, ``cohort``) then the columns of
        :func:`evalues_for_hazard_ratio`, one row per input row.
    """
    require_columns(table, [hr_col, lower_col, upper_col, outcome_proportion_col, *keep_cols],
                    "E-values")
    is_estimated = status_of(table)
    rows = []
    for (_, row), ok in zip(table.iterrows(), is_estimated, strict=True):
        kept = {column: row[column] for column in keep_cols}
        if not ok:
            rows.append(kept | dict.fromkeys(COLUMNS) | not_estimable("input_not_estimated"))
            continue
        values = [row[hr_col], row[lower_col], row[upper_col], row[outcome_proportion_col]]
        if pd.isna(values).any():
            raise ValueError(f"{hr_col}, {lower_col}, {upper_col} and {outcome_proportion_col} "
                             "must be present on every estimated row")
        rows.append(kept | evalues_for_hazard_ratio(*values, rare_threshold=rare_threshold))
    return pd.DataFrame(rows, columns=[*keep_cols, *COLUMNS])

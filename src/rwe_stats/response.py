"""Objective response and disease control rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._checks import require_columns

CODES = ("CR", "PR", "SD", "PD", "NE")
__all__ = ["clopper_pearson", "response_summary", "two_by_two_test"]


def _ci_method(alpha: float) -> str:
    return f"Clopper-Pearson exact {100 * (1 - alpha):g}% interval"


def clopper_pearson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Clopper-Pearson exact binomial interval from beta quantiles.

    ``lower = Beta(alpha/2; x, n - x + 1)`` (0 when x = 0) and
    ``upper = Beta(1 - alpha/2; x + 1, n - x)`` (1 when x = n).
    """
    if n == 0:
        return float("nan"), float("nan")
    lower = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, n - successes + 1)
    upper = 1.0 if successes == n else stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes)
    return float(lower), float(upper)


def two_by_two_test(table: np.ndarray) -> tuple[float, str]:
    """p of a 2x2 table and the test used.

    Pearson's chi-square without continuity correction when every expected
    count is at least 5, else Fisher's exact test (two-sided, scipy: sum of
    the probabilities of tables no more likely than the observed one).
    """
    expected = stats.contingency.expected_freq(table)
    if (expected >= 5).all():
        _, p_value, _, _ = stats.chi2_contingency(table, correction=False)
        return float(p_value), "Pearson chi-square without continuity correction"
    return float(stats.fisher_exact(table).pvalue), "Fisher exact, two-sided"


def response_summary(df: pd.DataFrame, arm_col: str = "arm",
                     response_col: str = "best_response", alpha: float = 0.05) -> pd.DataFrame:
    """Best-response counts, ORR and DCR with exact CIs and a between-arm test.

    Method: ORR = (CR + PR) / n and DCR = (CR + PR + SD) / n, where n is
    every patient of the arm: patients not evaluable (NE) stay in the
    denominator (intention to treat). Intervals are Clopper-Pearson exact
    (:func:`clopper_pearson`). The between-arm test of each rate is
    Pearson's chi-square without continuity correction when every expected
    count of its 2x2 table is >= 5, otherwise Fisher's exact test,
    two-sided; ``test_method`` says which for ORR and for DCR (the p-values
    and the method are the same on both arms' rows).

    Parameters
    ----------
    df
        One row per patient.
    arm_col
        Exactly two arms (rows are sorted by arm).
    response_col
        RECIST best response: ``CR``, ``PR``, ``SD``, ``PD`` or ``NE``.
    alpha
        1 - confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        ``arm``, ``n``, ``cr``, ``pr``, ``sd``, ``pd``, ``ne``, ``orr``,
        ``orr_ci_lower``, ``orr_ci_upper``, ``dcr``, ``dcr_ci_lower``,
        ``dcr_ci_upper``, ``orr_p_value``, ``dcr_p_value``, ``ci_method``,
        ``test_method``.
    """
    require_columns(df, [arm_col, response_col], "response rates")
    if df[response_col].isna().any() or df[arm_col].isna().any():
        raise ValueError(f"{response_col} and {arm_col} must have no missing values "
                         "(record a patient without assessment as NE)")
    unknown = set(df[response_col].unique()) - set(CODES)
    if unknown:
        raise ValueError(f"{response_col} must be one of {CODES}; found {sorted(unknown)}")
    arms = sorted(df[arm_col].unique())
    if len(arms) != 2:
        raise ValueError(f"response comparison needs two arms; {arm_col} has {arms}")
    counts = {arm: df.loc[df[arm_col] == arm, response_col].value_counts() for arm in arms}
    rows, responders, controlled = [], [], []
    for arm in arms:
        c = {code: int(counts[arm].get(code, 0)) for code in CODES}
        n = sum(c.values())
        objective, control = c["CR"] + c["PR"], c["CR"] + c["PR"] + c["SD"]
        responders.append([objective, n - objective])
        controlled.append([control, n - control])
        orr_ci = clopper_pearson(objective, n, alpha)
        dcr_ci = clopper_pearson(control, n, alpha)
        rows.append({"arm": arm, "n": n, **{code.lower(): c[code] for code in CODES},
                     "orr": objective / n, "orr_ci_lower": orr_ci[0], "orr_ci_upper": orr_ci[1],
                     "dcr": control / n, "dcr_ci_lower": dcr_ci[0], "dcr_ci_upper": dcr_ci[1]})
    orr_p, orr_test = two_by_two_test(np.array(responders))
    dcr_p, dcr_test = two_by_two_test(np.array(controlled))
    test_method = f"ORR: {orr_test}; DCR: {dcr_test}"
    return pd.DataFrame(rows).assign(orr_p_value=orr_p, dcr_p_value=dcr_p,
                                     ci_method=_ci_method(alpha), test_method=test_method)

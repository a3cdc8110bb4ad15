"""Univariate and multivariate Cox regression with proportional-hazards checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines.statistics import proportional_hazard_test
from scipy import stats

from rwe_stats._checks import numeric_design, survival_arrays
from rwe_stats.survival import TIES_METHOD, _fit_cox

PH_TEST_METHOD = ("scaled Schoenfeld residuals vs Kaplan-Meier-transformed time, "
                  "1-df chi-square per term (Grambsch-Therneau; R cox.zph transform='km')")


def cox_table(df: pd.DataFrame, duration_col: str, event_col: str, terms: Sequence[str],
              model: str, alpha: float = 0.05) -> pd.DataFrame:
    """Hazard ratios from Cox models, one row per term.

    Method: Cox partial likelihood, **Efron** ties, model-based variance, Wald
    CI on the log scale and Wald p. ``model='univariate'`` fits one model per
    term; ``'multivariate'`` fits all terms together. Each term also gets the
    proportional-hazards test of its own model (lifelines
    ``proportional_hazard_test`` with ``time_transform='km'``, the transform
    R's ``cox.zph`` uses by default).

    Returns
    -------
    pandas.DataFrame
        ``term``, ``hr``, ``ci_lower``, ``ci_upper``, ``p_value``, ``n``,
        ``events``, ``ph_test_statistic``, ``ph_test_p_value``,
        ``ties_method``, ``ph_test_method``.
    """
    if model not in ("univariate", "multivariate"):
        raise ValueError("model must be 'univariate' or 'multivariate'")
    _, events = survival_arrays(df, duration_col, event_col)
    numeric_design(df, terms)  # fail early, naming the column
    term_sets = [[term] for term in terms] if model == "univariate" else [list(terms)]
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for term_set in term_sets:
        fitter = _fit_cox(df, duration_col, event_col, term_set)
        data = numeric_design(df, term_set).assign(
            _duration=df[duration_col].to_numpy(dtype=float), _event=events.astype(int))
        ph = proportional_hazard_test(fitter, data, time_transform="km").summary
        for term in term_set:
            coefficient = float(fitter.params_[term])
            standard_error = float(fitter.standard_errors_[term])
            rows.append({
                "term": term,
                "hr": np.exp(coefficient),
                "ci_lower": np.exp(coefficient - z * standard_error),
                "ci_upper": np.exp(coefficient + z * standard_error),
                "p_value": float(2 * stats.norm.sf(abs(coefficient / standard_error))),
                "n": len(df),
                "events": int(events.sum()),
                "ph_test_statistic": float(ph.loc[term, "test_statistic"]),
                "ph_test_p_value": float(ph.loc[term, "p"]),
                "ties_method": TIES_METHOD,
                "ph_test_method": PH_TEST_METHOD,
            })
    return pd.DataFrame(rows)

"""Univariate and multivariate Cox regression with proportional-hazards checks."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from rwe_stats._cox import TIES_METHOD, fit_cox, strata_method
from rwe_stats._times import SurvivalTimes, survival_times
from rwe_stats._zph import ZPH_TRANSFORMS, zph_test

__all__ = ["SurvivalTimes", "cox_table", "survival_times"]

PH_TEST_METHODS = {
    "km": ("score test for x * g(t), g = 1 - KM(t-) (Grambsch-Therneau scaled Schoenfeld "
           "residuals; R survival >= 3.0 cox.zph, transform='km'), 1 df per term"),
    "identity": ("score test for x * t (Grambsch-Therneau; R survival >= 3.0 cox.zph, "
                 "transform='identity'), 1 df per term"),
    "log": ("score test for x * log(t) (Grambsch-Therneau; R survival >= 3.0 cox.zph, "
            "transform='log'), 1 df per term"),
    "rank": ("score test for x * rank(t) (Grambsch-Therneau; R survival >= 3.0 cox.zph, "
             "transform='rank'), 1 df per term"),
}
COLUMNS = ["term", "hr", "ci_lower", "ci_upper", "p_value", "n", "events",
           "ph_test_statistic", "ph_test_p_value", "ties_method", "variance_method", "ci_method",
           "ph_test_method"]


def wald_ci_method(alpha: float) -> str:
    """Label of the Wald interval and test used for every hazard ratio."""
    return (f"Wald {100 * (1 - alpha):g}% CI on the log-HR scale, exp(beta +/- z se); "
            "two-sided Wald p")


def cox_table(df: pd.DataFrame, duration_col: str, event_col: str, terms: Sequence[str],
              model: str, alpha: float = 0.05, ph_transform: str = "km",
              cluster_col: str | None = None, *, weights_col: str | None = None,
              strata_col: str | None = None, robust: bool | None = None,
              times: SurvivalTimes | None = None) -> pd.DataFrame:
    """Hazard ratios from Cox models, one row per term.

    Method: Cox partial likelihood with **Efron** ties (vectorised
    Newton-Raphson, no penalty, iterated to machine precision; lifelines
    ``CoxPHFitter`` only as a fallback), Wald CI on the log scale and
    two-sided Wald p -- R's ``summary(coxph(...))``. Variance: model-based
    (inverse observed information), or with ``cluster_col`` (the matched
    cohort's ``pair_id``) the robust sandwich clustered on it (Lin and Wei
    1989; Efron dfbeta residuals summed within clusters, ``D'D``, no
    small-sample factor), R's ``coxph(..., cluster = pair_id)``; the CI and
    p then use the robust SE. ``model='univariate'`` fits one model per
    term; ``'multivariate'`` fits all terms together.

    Proportional hazards: each term gets the test R's ``cox.zph`` reports
    since survival 3.0 -- the score test for adding ``term * g(t)`` to its
    own model (1 df), with ``g(t) = 1 - KM(t-)`` (``transform = "km"``, R's
    default). The scaled Schoenfeld residuals are what that test smooths.
    lifelines' ``proportional_hazard_test`` is *not* used: it implements the
    pre-2019 approximation and a right-continuous KM transform.

    Parameters
    ----------
    df
        One row per patient; no missing values in the used columns.
    duration_col, event_col
        Follow-up time and event flag.
    terms
        Numeric or boolean covariates (booleans enter as 0/1; one unit = True).
    model
        ``"univariate"`` or ``"multivariate"``.
    alpha
        1 - confidence level.
    ph_transform
        ``"km"`` (default), ``"identity"``, ``"log"`` or ``"rank"``.
    cluster_col
        Cluster of the robust variance (e.g. ``pair_id``); None for the
        model-based variance. The PH test does not use the variance (it is
        a score test from the information matrix), so it is the same either
        way, as in R.
    weights_col
        Case weights, positive (e.g. inverse-probability weights): R's
        ``coxph(..., weights = w)``, Efron ties weighted as R does (each of
        a time's Efron steps counts with its tied events' mean weight).
    strata_col
        Separate baseline hazards per value, risk sets within them: R's
        ``+ strata(s)``. The result gains a ``strata`` column naming it.
    robust
        As R: by default True with ``cluster_col`` or non-integer weights
        (each row its own cluster without ``cluster_col``: R's
        ``coxph(..., weights = w)``, ``robust = TRUE``), else False.
    times
        :func:`survival_times` of ``df`` (same endpoint and strata), built
        once by the caller for all its tables; None builds it here.

    Returns
    -------
    pandas.DataFrame
        ``term``, ``hr``, ``ci_lower``, ``ci_upper``, ``p_value``, ``n``,
        ``events``, ``ph_test_statistic``, ``ph_test_p_value``,
        ``ties_method``, ``variance_method``, ``ci_method``,
        ``ph_test_method`` (and ``strata`` with ``strata_col``).
    """
    if model not in ("univariate", "multivariate"):
        raise ValueError("model must be 'univariate' or 'multivariate'")
    if ph_transform not in ZPH_TRANSFORMS:
        raise ValueError(f"ph_transform must be one of {ZPH_TRANSFORMS}")
    if len(terms) == 0:
        raise ValueError("terms is empty: name at least one covariate")
    if times is None:
        times = survival_times(df, duration_col, event_col, strata_col)
    term_sets = [[term] for term in terms] if model == "univariate" else [list(terms)]
    tables = []
    for term_set in term_sets:
        fit = fit_cox(df, duration_col, event_col, term_set, cluster_col,
                      weights_col=weights_col, strata_col=strata_col, robust=robust, times=times)
        ph = zph_test(fit, transform=ph_transform)
        tables.append(fit.wald(alpha).assign(
            n=len(df), events=int(times.events.sum()),
            ph_test_statistic=ph.statistic, ph_test_p_value=ph.p_value,
            ties_method=TIES_METHOD, variance_method=fit.variance_method,
            ci_method=wald_ci_method(alpha), ph_test_method=PH_TEST_METHODS[ph_transform]))
    table = pd.concat(tables, ignore_index=True)[COLUMNS]
    if strata_col is not None:
        table["strata"] = strata_method(strata_col)
    return table

"""Propensity scores by logistic regression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from rwe_stats._checks import flag_array, numeric_design, require_columns, require_unique

__all__ = ["estimate_propensity_scores"]

MAX_ABS_LOGIT = 30.0  # p within 1e-13 of 0 or 1: the covariates separate the groups
MAX_ITER = 1_000
# Fit on the distinct covariate rows when there are at most this share of the
# patients' rows (each distinct row enters twice, once per treatment value)
GROUPED_SHARE = 0.25


def estimate_propensity_scores(cohort: pd.DataFrame, treatment_col: str,
                               covariates: Sequence[str],
                               id_col: str = "patient_id") -> pd.DataFrame:
    """Estimate each patient's probability of treatment given the covariates.

    Method: maximum-likelihood logistic regression of the treatment flag on
    the covariates plus an intercept, with **no penalty** (scikit-learn
    ``LogisticRegression(C=inf, solver="newton-cholesky", tol=1e-12)``), the
    propensity model of the matching literature (Rosenbaum and Rubin 1983;
    Austin 2011). Newton-Cholesky is a second-order solver: it converges to
    the MLE whatever the covariate scales (it agrees with R ``glm(...,
    family = binomial)``). Booleans enter as 0/1. When the patients share
    few distinct covariate rows (at most a quarter as many as patients), the
    same likelihood is fitted on those rows weighted by their treated and
    untreated counts (a grouped binomial fit: the same MLE). The linear predictor
    (``logit_ps``) is rounded to 12 decimals so that patients with identical
    covariates get identical scores whatever the summation order, which
    keeps the matching reproducible.

    Parameters
    ----------
    cohort
        One row per patient.
    treatment_col
        Boolean (or 0/1) treatment flag, True = treated.
    covariates
        Numeric or boolean columns without missing values; text must be
        encoded as booleans first.
    id_col
        Unique patient identifier, carried to the output as ``patient_id``.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``is_treated``, ``propensity_score``, ``logit_ps``
        (log-odds), in the input's row order.

    Raises
    ------
    ValueError
        Naming the column, when a covariate is missing, has missing values,
        is text or is constant; when the treatment flag is not boolean or has
        one group only; when the covariates separate the groups (a fitted
        |logit| above 30), which makes the scores meaningless.
    """
    require_columns(cohort, [id_col, treatment_col], "propensity scores")
    require_unique(cohort, id_col)
    if len(covariates) == 0:
        raise ValueError("covariates is empty: name the baseline covariates of the model")
    design = numeric_design(cohort, covariates)
    treated = flag_array(cohort, treatment_col)
    if treated.all() or not treated.any():
        raise ValueError(f"{treatment_col} must contain both treated and untreated patients")
    logit = _fitted_logits(design.to_numpy(), treated)
    if np.abs(logit).max() > MAX_ABS_LOGIT:
        raise ValueError("the covariates (nearly) separate treated from untreated patients "
                         "(fitted propensity scores of 0 or 1): positivity fails; drop or "
                         "merge the covariates that predict treatment perfectly")
    return pd.DataFrame({
        "patient_id": cohort[id_col].to_numpy(),
        "is_treated": treated,
        "propensity_score": 1.0 / (1.0 + np.exp(-logit)),
        "logit_ps": logit,
    })


def _fitted_logits(matrix: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """The MLE's linear predictor per patient, rounded to 12 decimals.

    With baseline booleans and an age in years the patients share far fewer
    distinct covariate rows than there are patients. The binomial likelihood
    of the patients is then the likelihood of the distinct rows weighted by
    their treated and untreated counts (identical terms added up), so the
    fit on those rows is the same maximum-likelihood fit, and its cost no
    longer grows with the number of patients.
    """
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=MAX_ITER, tol=1e-12)
    patterns = _covariate_patterns(matrix)
    if patterns is None:
        rows, inverse = matrix, None
        model.fit(rows, treated.astype(int))
    else:
        rows, inverse = patterns
        n_treated = np.bincount(inverse, weights=treated, minlength=len(rows))
        n_untreated = np.bincount(inverse, minlength=len(rows)) - n_treated
        weights = np.concatenate([n_treated, n_untreated])
        kept = weights > 0
        model.fit(np.vstack([rows, rows])[kept],
                  np.repeat([1, 0], len(rows))[kept], sample_weight=weights[kept])
    if int(np.max(model.n_iter_)) >= MAX_ITER:
        raise ValueError("the propensity model did not converge; check for collinear covariates")
    logit = np.round(model.decision_function(rows), 12)
    return logit if inverse is None else logit[inverse]


def _covariate_patterns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct rows of ``matrix`` (sorted) and each row's position among them.

    None when they are more than ``GROUPED_SHARE`` of the rows (continuous
    covariates), or too many level combinations to number in an int64.
    The distinct rows are in value order, so the fit does not depend on the
    patients' row order.
    """
    n = len(matrix)
    key, combinations = np.zeros(n, dtype=np.int64), 1
    for column in matrix.T:
        if ((column == 0) | (column == 1)).all():
            # a boolean's sorted levels are its values: no hashing of a million floats
            low = int(column.min())
            codes, n_levels = column.astype(np.int64) - low, int(column.max()) - low + 1
        else:
            codes, levels = pd.factorize(column, sort=True)
            n_levels = len(levels)
        combinations *= n_levels
        if combinations >= 2**62:
            return None
        key = key * n_levels + codes
    inverse, distinct = pd.factorize(key, sort=True)
    if len(distinct) > GROUPED_SHARE * n:
        return None
    representative = np.empty(len(distinct), dtype=np.int64)
    representative[inverse] = np.arange(n)  # any row of a pattern: they are equal
    return matrix[representative], inverse

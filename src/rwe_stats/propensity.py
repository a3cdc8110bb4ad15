"""Propensity scores by logistic regression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from rwe_stats._checks import flag_array, numeric_design, require_columns, require_unique

__all__ = ["estimate_propensity_scores"]

MAX_ABS_LOGIT = 30.0  # p within 1e-13 of 0 or 1: the covariates separate the groups


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
    family = binomial)``). Booleans enter as 0/1. The linear predictor
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
    max_iter = 1_000
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=max_iter, tol=1e-12)
    matrix = design.to_numpy()  # once: each call copies the n x p design
    model.fit(matrix, treated.astype(int))
    if int(np.max(model.n_iter_)) >= max_iter:
        raise ValueError("the propensity model did not converge; check for collinear covariates")
    logit = np.round(model.decision_function(matrix), 12)
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

"""Propensity scores by logistic regression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from rwe_stats._checks import numeric_design, require_columns


def estimate_propensity_scores(cohort: pd.DataFrame, treatment_col: str,
                               covariates: Sequence[str],
                               id_col: str = "patient_id") -> pd.DataFrame:
    """Estimate each patient's probability of treatment given the covariates.

    Method: maximum-likelihood logistic regression of the treatment flag on
    the covariates with an intercept and **no penalty** (scikit-learn
    ``LogisticRegression(C=inf)``, Newton-Cholesky solver, tolerance 1e-12),
    the model used for propensity scores in the matching literature (Austin
    2011). A second-order solver converges to machine precision whatever the
    covariate scales, so the scores do not depend on the input's row order.

    Parameters
    ----------
    cohort
        One row per patient.
    treatment_col
        Boolean treatment column (True = treated).
    covariates
        Numeric or boolean columns; booleans enter as 0/1.
    id_col
        Patient identifier carried to the output.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``is_treated``, ``propensity_score``, ``logit_ps``
        (log-odds), in the input's row order.
    """
    require_columns(cohort, [id_col, treatment_col], "propensity scores")
    design = numeric_design(cohort, covariates)
    treated = cohort[treatment_col].astype(bool).to_numpy()
    if treated.all() or not treated.any():
        raise ValueError(f"{treatment_col} must contain both treated and untreated patients")
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=1_000, tol=1e-12)
    model.fit(design.to_numpy(), treated.astype(int))
    # Rounded to 12 decimals: patients with identical covariates then get
    # identical scores whatever the floating-point summation order, so
    # matching (which sorts by score) is reproducible.
    logit = np.round(model.decision_function(design.to_numpy()), 12)
    return pd.DataFrame({
        "patient_id": cohort[id_col].to_numpy(),
        "is_treated": treated,
        "propensity_score": 1.0 / (1.0 + np.exp(-logit)),
        "logit_ps": logit,
    })

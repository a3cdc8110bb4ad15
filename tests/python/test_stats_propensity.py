"""rwe_stats.propensity: unpenalised logistic propensity scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rwe_stats import propensity
from rwe_stats.propensity import estimate_propensity_scores


def _cohort(seed: int = 10, n: int = 400, ages: tuple[int, int] | None = None) -> pd.DataFrame:
    """``ages`` (low, high): whole years drawn from that range, so that the
    patients share few distinct covariate rows; default: ages ~ N(62, 8)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 8, n).round() if ages is None else rng.integers(*ages, n).astype(float)
    cohort = pd.DataFrame({"patient_id": [f"p{i:05d}" for i in range(n)],
                           "age_years": age,
                           "has_liver_metastases": rng.random(n) < 0.3,
                           "ecog_ps": rng.integers(0, 3, n)})
    logit = -3 + 0.04 * cohort["age_years"] + 0.8 * cohort["has_liver_metastases"]
    cohort["is_ici"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return cohort


def _newton_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Unpenalised logistic regression by plain Newton-Raphson (no scikit-learn)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-design @ beta))
        step = np.linalg.solve(design.T @ (design * (p * (1 - p))[:, None]), design.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-13:
            break
    return design @ beta


COVARIATES = ["age_years", "has_liver_metastases", "ecog_ps"]


def test_scores_equal_an_independent_newton_raphson_fit():
    cohort = _cohort()
    scores = estimate_propensity_scores(cohort, "is_ici", COVARIATES)
    assert list(scores.columns) == ["patient_id", "is_treated", "propensity_score", "logit_ps"]
    expected = _newton_logistic(cohort[COVARIATES].astype(float).to_numpy(),
                                cohort["is_ici"].astype(float).to_numpy())
    np.testing.assert_allclose(scores["logit_ps"], expected, atol=1e-9)
    np.testing.assert_allclose(scores["propensity_score"], 1 / (1 + np.exp(-expected)), atol=1e-10)
    assert list(scores["patient_id"]) == list(cohort["patient_id"])
    np.testing.assert_array_equal(scores["is_treated"], cohort["is_ici"])


def test_scores_equal_statsmodels_logit_maximum_likelihood():
    sm = pytest.importorskip("statsmodels.api")
    cohort = _cohort(11)
    scores = estimate_propensity_scores(cohort, "is_ici", COVARIATES)
    design = sm.add_constant(cohort[COVARIATES].astype(float))
    fit = sm.Logit(cohort["is_ici"].astype(float), design).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(scores["logit_ps"], design @ fit.params, atol=1e-8)


def test_scores_do_not_depend_on_row_order():
    cohort = _cohort(12)
    scores = estimate_propensity_scores(cohort, "is_ici", COVARIATES).set_index("patient_id")
    shuffled = estimate_propensity_scores(cohort.sample(frac=1, random_state=3), "is_ici",
                                          COVARIATES).set_index("patient_id")
    pd.testing.assert_series_equal(scores["logit_ps"], shuffled.loc[scores.index, "logit_ps"])


def test_few_distinct_covariate_rows_are_fitted_grouped_with_the_same_mle():
    cohort = _cohort(14, n=3_000, ages=(50, 60))
    design = cohort[COVARIATES].astype(float).to_numpy()
    rows, inverse = propensity._covariate_patterns(design)
    assert len(rows) == 60  # 10 ages x 2 x 3: the grouped fit runs
    np.testing.assert_array_equal(rows[inverse], design)
    assert propensity._covariate_patterns(_cohort()[COVARIATES].astype(float).to_numpy()) is None
    scores = estimate_propensity_scores(cohort, "is_ici", COVARIATES)
    expected = _newton_logistic(design, cohort["is_ici"].astype(float).to_numpy())
    np.testing.assert_allclose(scores["logit_ps"], expected, atol=1e-9)
    shuffled = estimate_propensity_scores(cohort.sample(frac=1, random_state=4), "is_ici",
                                          COVARIATES).set_index("patient_id")
    np.testing.assert_array_equal(shuffled.loc[cohort["patient_id"], "logit_ps"],
                                  scores["logit_ps"])


def test_covariate_patterns_are_the_distinct_rows_in_value_order():
    """Booleans (0/1 columns, one of them constant) and numbers alike: the distinct rows
    sorted as numpy sorts them, and each row's position among them."""
    rng = np.random.default_rng(15)
    design = np.column_stack([rng.integers(0, 2, 5_000), rng.choice([18.0, 40.5, 77.0], 5_000),
                              np.ones(5_000), rng.integers(0, 2, 5_000), np.zeros(5_000),
                              rng.choice([-1.0, 0.0, 2.0], 5_000)]).astype(float)
    rows, inverse = propensity._covariate_patterns(design)
    expected_rows, expected_inverse = np.unique(design, axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(inverse, expected_inverse.ravel())


@pytest.mark.parametrize(
    ("problem", "message"),
    [("missing", "covariate x has missing values"), ("constant", "covariate x is constant"),
     ("text", "covariate x is text"), ("absent", r"needs column\(s\) \['x'\]")],
)
def test_unusable_covariates_are_rejected_by_name(problem, message):
    cohort = pd.DataFrame({"patient_id": list("abcdef"), "is_ici": [True, False] * 3,
                           "x": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]})
    if problem == "missing":
        cohort.loc[0, "x"] = None
    elif problem == "constant":
        cohort["x"] = 1.0
    elif problem == "text":
        cohort["x"] = list("abcdef")
    else:
        cohort = cohort.drop(columns="x")
    with pytest.raises(ValueError, match=message):
        estimate_propensity_scores(cohort, "is_ici", ["x"])


def test_separation_duplicate_ids_and_one_arm_are_rejected():
    cohort = _cohort(13)
    with pytest.raises(ValueError, match="separate"):
        estimate_propensity_scores(cohort.assign(x=cohort["is_ici"]), "is_ici", ["age_years", "x"])
    with pytest.raises(ValueError, match="unique"):
        estimate_propensity_scores(cohort.assign(patient_id="same"), "is_ici", COVARIATES)
    with pytest.raises(ValueError, match="both treated and untreated"):
        estimate_propensity_scores(cohort.assign(is_ici=True), "is_ici", COVARIATES)
    with pytest.raises(ValueError, match="is_ici must be boolean"):
        estimate_propensity_scores(cohort.assign(is_ici="ICI"), "is_ici", COVARIATES)

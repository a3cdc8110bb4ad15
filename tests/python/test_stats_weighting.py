"""rwe_stats.weighting: ATT and overlap weights, weighted balance, ESS, weighted KM.

Expected values: R output saved by tests/python/reference/weighting.R
(survfit with case weights, weighted.mean / cov.wt) on
reference/data/synthetic_weighted.csv, and independent code written here
(a finite-difference jackknife, the unweighted estimators).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rwe_stats._cox import fit_cox
from rwe_stats.balance import standardized_mean_differences
from rwe_stats.propensity import estimate_propensity_scores
from rwe_stats.regression import survival_times
from rwe_stats.survival import kaplan_meier_table
from rwe_stats.weighting import (
    WEIGHT_METHODS,
    effective_sample_size,
    propensity_weights,
    weighted_hazard_ratio,
    weighted_kaplan_meier_table,
    weighted_standardized_mean_differences,
)

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-9  # vs R (measured: about 1e-13)
SCHEMES = {"att": ("att_weight", "ATT"), "overlap": ("overlap_weight", "overlap")}


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    return data.assign(is_treated=data["treated"] == 1, is_ecog_2=data["ecog2"] == 1,
                       is_male=data["male"] == 1, propensity_score=data["ps"])


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_weights_equal_rs_from_the_same_scores(synthetic, scheme):
    column, method = SCHEMES[scheme]
    weights = propensity_weights(synthetic, method)
    assert weights["patient_id"].tolist() == synthetic["patient_id"].tolist()
    np.testing.assert_allclose(weights["weight"], synthetic[column], rtol=1e-14)


@pytest.mark.parametrize("scheme", ["none", *SCHEMES])
def test_weighted_balance_reproduces_r_weighted_mean_and_cov_wt(synthetic, scheme):
    reference = pd.read_csv(REFERENCE / "weighted_balance.csv")
    reference = reference[reference["weight_scheme"] == scheme].set_index("covariate")
    weight_col, method = SCHEMES.get(scheme, ("unit", "ATT"))
    data = synthetic.assign(unit=1.0)
    ours = weighted_standardized_mean_differences(
        data, "is_treated", ["age", "is_ecog_2", "is_male", "center"], weight_col, "all", method)
    names = {"is_ecog_2": "ecog2", "is_male": "male"}
    for _, row in ours.iterrows():
        name = (f"center={row['level']}" if row["covariate"] == "center"
                else names.get(row["covariate"], row["covariate"]))
        expected = reference.loc[name]
        for column in ("mean_treated", "mean_control"):
            assert row[column] == pytest.approx(expected[column], rel=RTOL)
        # overlap weights balance the model's covariates to ~1e-13: compare absolutely there
        assert row["smd"] == pytest.approx(expected["smd"], rel=RTOL, abs=1e-11)


def test_equal_weights_reproduce_the_unweighted_balance_table(synthetic):
    covariates = ["age", "is_ecog_2", "is_male", "center"]
    unweighted = standardized_mean_differences(synthetic, "is_treated", covariates, "all")
    weighted = weighted_standardized_mean_differences(
        synthetic.assign(w=3.5), "is_treated", covariates, "w", "all", "ATT")
    pd.testing.assert_frame_equal(weighted.drop(columns=["smd", "smd_method", "weight_method",
                                                         "mean_treated", "mean_control"]),
                                  unweighted.drop(columns=["smd", "smd_method", "mean_treated",
                                                           "mean_control"]))
    for column in ("smd", "mean_treated", "mean_control"):
        np.testing.assert_allclose(weighted[column], unweighted[column], rtol=1e-12)


def test_overlap_weights_balance_the_propensity_model_covariates_exactly(synthetic):
    """Li, Morgan and Zaslavsky (2018): with a logistic PS fitted by maximum likelihood, the
    overlap-weighted means of every model covariate are equal in the two arms."""
    covariates = ["age", "is_ecog_2", "is_male"]
    scores = estimate_propensity_scores(synthetic, "is_treated", covariates)
    weights = propensity_weights(scores, "overlap")
    table = weighted_standardized_mean_differences(
        synthetic.assign(w=weights["weight"].to_numpy()), "is_treated", covariates + ["center"],
        "w", "all", "overlap")
    model_rows = table[table["covariate"].isin(covariates)]
    assert np.abs(model_rows["smd"]).max() < 1e-8
    assert np.abs(table.loc[table["covariate"] == "center", "smd"]).max() > 0.01  # not in it


@pytest.mark.parametrize("scheme", ["none", *SCHEMES])
def test_effective_sample_size_reproduces_r_and_kish(synthetic, scheme):
    reference = pd.read_csv(REFERENCE / "effective_sample_size.csv")
    reference = reference[reference["weight_scheme"] == scheme]
    weight_col, method = SCHEMES.get(scheme, ("unit", "ATT"))
    ours = effective_sample_size(synthetic.assign(unit=1.0), "is_treated", weight_col, method)
    assert ours["arm"].tolist() == ["treated", "control"]
    np.testing.assert_allclose(ours["ess"], reference["ess"].to_numpy(), rtol=RTOL)
    if scheme == "none":
        assert ours["ess"].tolist() == pytest.approx(ours["n"].tolist(), rel=1e-12)


@pytest.mark.parametrize("variance", ["robust", "greenwood"])
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_weighted_kaplan_meier_reproduces_r_survfit_with_weights(synthetic, scheme, variance):
    reference = pd.read_csv(REFERENCE / "weighted_km.csv")
    reference = reference[(reference["weight_scheme"] == scheme)
                          & (reference["variance"] == variance)]
    weight_col, method = SCHEMES[scheme]
    table = weighted_kaplan_meier_table(synthetic, "months", "event", "treated", weight_col,
                                        method, variance=variance)
    start = table[table["time_months"] == 0]
    assert start[["survival", "ci_lower", "ci_upper"]].to_numpy().tolist() == [[1.0] * 3] * 2
    ours = table[table["time_months"] > 0].sort_values(["group", "time_months"])
    expected = reference.sort_values(["treated", "time"])
    np.testing.assert_array_equal(ours["time_months"], expected["time"])
    np.testing.assert_allclose(ours["weighted_n_at_risk"], expected["n_risk"], rtol=RTOL)
    np.testing.assert_allclose(ours["weighted_n_events"], expected["n_event"], rtol=RTOL,
                               atol=1e-12)
    np.testing.assert_allclose(ours["survival"], expected["surv"], rtol=RTOL)
    # R 3.5's std.err is se(S) with robust = TRUE and se(log S) with Greenwood
    r_se = expected["std_err"] * (1 if variance == "robust" else expected["surv"])
    np.testing.assert_allclose(ours["se_survival"], r_se, rtol=RTOL)
    np.testing.assert_allclose(ours["ci_lower"], expected["lower"], rtol=RTOL)
    np.testing.assert_allclose(ours["ci_upper"], expected["upper"], rtol=RTOL)


def _weighted_km_by_hand(times, events, weights, at):
    """S(at) by the weighted product-limit formula, one loop over the distinct times."""
    survival = 1.0
    for time in np.unique(times[times <= at]):
        at_risk = weights[times >= time].sum()
        dead = weights[(times == time) & events].sum()
        survival *= 1 - dead / at_risk
    return survival


def test_robust_variance_equals_a_finite_difference_jackknife():
    """var S(t) = sum_i (w_i dS(t)/dw_i)^2, with the derivatives by central differences."""
    rng = np.random.default_rng(3)
    n = 40
    times = np.ceil(rng.exponential(5, n))  # ties
    events = rng.random(n) < 0.6
    weights = rng.uniform(0.3, 3.0, n)
    data = pd.DataFrame({"t": times, "e": events, "g": "all", "w": weights})
    table = weighted_kaplan_meier_table(data, "t", "e", "g", "w", "ATT")
    step = 1e-6
    for _, row in table[(table["time_months"] > 0) & (table["survival"] > 0)].iterrows():
        derivatives = []
        for i in range(n):
            up, down = weights.copy(), weights.copy()
            up[i] += step
            down[i] -= step
            derivatives.append((_weighted_km_by_hand(times, events, up, row["time_months"])
                                - _weighted_km_by_hand(times, events, down,
                                                       row["time_months"])) / (2 * step))
        expected = np.sqrt(np.sum((weights * np.array(derivatives)) ** 2))
        assert row["se_survival"] == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_unit_weights_with_greenwood_give_the_ordinary_kaplan_meier(synthetic):
    ordinary = kaplan_meier_table(synthetic, "months", "event", "treated")
    weighted = weighted_kaplan_meier_table(synthetic.assign(w=1.0), "months", "event", "treated",
                                           "w", "ATT", variance="greenwood")
    for column in ("time_months", "n_at_risk", "n_events", "n_censored"):
        np.testing.assert_array_equal(weighted[column], ordinary[column])
    for column in ("survival", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(weighted[column], ordinary[column], rtol=1e-12)


def test_invalid_weights_and_scores_raise(synthetic):
    with pytest.raises(ValueError, match="positive and finite"):
        weighted_kaplan_meier_table(synthetic.assign(w=0.0), "months", "event", "treated", "w",
                                    "ATT")
    with pytest.raises(ValueError, match="w has missing"):
        effective_sample_size(synthetic.assign(w=np.nan), "is_treated", "w", "ATT")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        propensity_weights(synthetic.assign(propensity_score=1.0), "ATT")
    with pytest.raises(ValueError, match="weight_method"):
        propensity_weights(synthetic, "ATE")
    with pytest.raises(ValueError, match="variance"):
        weighted_kaplan_meier_table(synthetic, "months", "event", "treated", "att_weight",
                                    "ATT", variance="jackknife")


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_weighted_hazard_ratio_reproduces_r_coxph_with_weights_and_robust_variance(
        synthetic, scheme):
    """cox_weighted_stratified.R: coxph(Surv(months, event) ~ treated, weights = w,
    robust = TRUE), Efron ties. Tolerance 1e-9 relative (measured: below 1e-14)."""
    column, method = SCHEMES[scheme]
    expected = pd.read_csv(REFERENCE / "cox_weighted_robust.csv").set_index("model").loc[column]
    fit = fit_cox(synthetic, "months", "event", ["treated"], weights_col=column)
    assert fit.coefficients[0] == pytest.approx(expected["coef"], rel=RTOL)
    assert np.sqrt(fit.variance[0, 0]) == pytest.approx(expected["se"], rel=RTOL)
    assert np.sqrt(fit.model_variance[0, 0]) == pytest.approx(expected["naive_se"], rel=RTOL)
    assert fit.log_likelihood == pytest.approx(expected["loglik"], rel=RTOL)
    row = weighted_hazard_ratio(synthetic, "months", "event", "is_treated", column,
                                method).iloc[0]
    for name in ("hr", "ci_lower", "ci_upper", "p_value"):
        assert row[name] == pytest.approx(expected[name], rel=RTOL), name
    assert row["variance_method"].startswith("robust sandwich (one cluster per row), case "
                                             f"weights {column}")
    assert row["weight_method"] == WEIGHT_METHODS[method]


def test_weighted_hazard_ratio_is_robust_even_with_integer_weights(synthetic):
    """Estimated weights that happen to be whole numbers still get the sandwich (R's default
    would switch to the model-based variance there)."""
    row = weighted_hazard_ratio(synthetic.assign(two=2.0), "months", "event", "is_treated",
                                "two", "ATT").iloc[0]
    assert row["variance_method"].startswith("robust sandwich")
    with pytest.raises(ValueError, match="att_weight must be positive and finite"):
        weighted_hazard_ratio(synthetic.assign(att_weight=-1.0), "months", "event",
                              "is_treated", "att_weight", "ATT")


def test_weighted_kaplan_meier_reads_the_arm_sort_it_is_given(synthetic):
    """The unweighted curves' sort by arm and time serves the weighted ones; rows of other
    data are refused."""
    times = survival_times(synthetic, "months", "event", strata_col="treated")
    given = weighted_kaplan_meier_table(synthetic, "months", "event", "treated", "att_weight",
                                        "ATT", times_by_group=times)
    pd.testing.assert_frame_equal(given, weighted_kaplan_meier_table(
        synthetic, "months", "event", "treated", "att_weight", "ATT"))
    with pytest.raises(ValueError, match="times was built from other rows"):
        weighted_kaplan_meier_table(synthetic.assign(months=synthetic["months"] + 1), "months",
                                    "event", "treated", "att_weight", "ATT", times_by_group=times)

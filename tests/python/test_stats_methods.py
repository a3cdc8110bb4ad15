"""Propensity, matching, balance, response, safety and subgroup methods,
checked against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rwe_stats.balance import standardized_mean_differences
from rwe_stats.matching import match_nearest_neighbour
from rwe_stats.propensity import estimate_propensity_scores
from rwe_stats.response import clopper_pearson, response_summary
from rwe_stats.safety import safety_summary
from rwe_stats.subgroups import subgroup_hazard_ratios

# ------------------------------------------------------------------ propensity


def _newton_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Unpenalised logistic regression by Newton-Raphson (independent of sklearn)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    return design @ beta


def test_propensity_scores_match_newton_raphson_maximum_likelihood():
    rng = np.random.default_rng(10)
    cohort = pd.DataFrame({"patient_id": [f"p{i}" for i in range(400)],
                           "age": rng.normal(62, 8, 400), "liver": rng.random(400) < 0.3})
    logit = -3 + 0.04 * cohort["age"] + 0.8 * cohort["liver"]
    cohort["is_ici"] = rng.random(400) < 1 / (1 + np.exp(-logit))
    scores = estimate_propensity_scores(cohort, "is_ici", ["age", "liver"])
    expected = _newton_logistic(cohort[["age", "liver"]].astype(float).to_numpy(),
                                cohort["is_ici"].astype(float).to_numpy())
    np.testing.assert_allclose(scores["logit_ps"], expected, atol=1e-5)
    np.testing.assert_allclose(scores["propensity_score"], 1 / (1 + np.exp(-expected)),
                               atol=1e-6)
    assert list(scores["patient_id"]) == list(cohort["patient_id"])


@pytest.mark.parametrize("problem", ["missing", "constant", "text"])
def test_propensity_scores_reject_unusable_covariates(problem):
    cohort = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], "is_ici": [True, False] * 2,
                           "x": [1.0, 2.0, 3.0, 4.0]})
    if problem == "missing":
        cohort.loc[0, "x"] = None
    elif problem == "constant":
        cohort["x"] = 1.0
    else:
        cohort["x"] = ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="covariate x"):
        estimate_propensity_scores(cohort, "is_ici", ["x"])


# -------------------------------------------------------------------- matching


def _naive_greedy(scores: pd.DataFrame, caliper_sd: float, seed: int) -> list[tuple]:
    """Reference: the same documented rule with a full scan over all controls."""
    frame = scores.sort_values(["logit_ps", "patient_id"], kind="mergesort")
    caliper = caliper_sd * frame["logit_ps"].std(ddof=1)
    treated = frame[frame["is_treated"]]
    controls = frame[~frame["is_treated"]].sort_values(["logit_ps", "patient_id"],
                                                      kind="mergesort")
    control_ids, control_logits = list(controls["patient_id"]), list(controls["logit_ps"])
    used = [False] * len(control_ids)
    pairs = []
    order = np.random.default_rng(seed).permutation(len(treated))
    for position in order:
        value = treated["logit_ps"].iloc[position]
        best, best_distance = None, np.inf
        # scan in sorted order: the nearest on the left is the last one below the
        # treated value, so keep "<=" for the left side and "<" for the right side
        left = [i for i in range(len(control_ids)) if not used[i] and control_logits[i] < value]
        right = [i for i in range(len(control_ids)) if not used[i] and control_logits[i] >= value]
        if left:
            best, best_distance = left[-1], value - control_logits[left[-1]]
        if right and control_logits[right[0]] - value < best_distance:
            best, best_distance = right[0], control_logits[right[0]] - value
        if best is None or best_distance > caliper:
            continue
        used[best] = True
        pairs.append((treated["patient_id"].iloc[position], control_ids[best]))
    return pairs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("caliper_sd", [0.05, 0.2, np.inf])
def test_matching_equals_the_naive_reference(seed, caliper_sd):
    rng = np.random.default_rng(100 + seed)
    n = 300
    scores = pd.DataFrame({
        "patient_id": [f"p{i:03d}" for i in rng.permutation(n)],
        "is_treated": rng.random(n) < 0.4,
        # rounding creates exact ties in the logit PS
        "logit_ps": np.round(rng.normal(0, 1, n), 2),
    })
    scores.loc[scores["is_treated"], "logit_ps"] += 0.3
    pairs = match_nearest_neighbour(scores, caliper_sd=caliper_sd, seed=seed)
    expected = _naive_greedy(scores, caliper_sd, seed)
    assert list(zip(pairs["treated_patient_id"], pairs["control_patient_id"],
                    strict=True)) == expected


def test_matching_respects_caliper_and_never_reuses_a_control():
    rng = np.random.default_rng(7)
    scores = pd.DataFrame({"patient_id": [f"p{i}" for i in range(2000)],
                           "is_treated": rng.random(2000) < 0.45,
                           "logit_ps": rng.normal(0, 1, 2000)})
    scores.loc[scores["is_treated"], "logit_ps"] += 0.8
    pairs = match_nearest_neighbour(scores, caliper_sd=0.2, seed=3)
    caliper = 0.2 * scores["logit_ps"].std(ddof=1)
    assert (pairs["distance"] <= caliper).all()
    assert pairs["control_patient_id"].is_unique and pairs["treated_patient_id"].is_unique
    np.testing.assert_allclose(pairs["distance"],
                               (pairs["treated_logit_ps"] - pairs["control_logit_ps"]).abs())
    treated_ids = set(scores.loc[scores["is_treated"], "patient_id"])
    assert set(pairs["treated_patient_id"]) <= treated_ids
    assert not set(pairs["control_patient_id"]) & treated_ids
    again = match_nearest_neighbour(scores.sample(frac=1, random_state=1), caliper_sd=0.2,
                                    seed=3)
    pd.testing.assert_frame_equal(pairs, again)  # row order of the input does not matter


# -------------------------------------------------------------------- balance


def test_smd_hand_formulas():
    df = pd.DataFrame({"t": [True, True, True, False, False, False, False],
                       "age": [60.0, 70.0, 80.0, 50.0, 60.0, 70.0, 80.0],
                       "liver": [True, False, False, True, True, False, False],
                       "sex": ["m", "f", "m", "f", "f", "m", "f"]})
    result = standardized_mean_differences(df, "t", ["age", "liver", "sex"], "all")
    age = result[result["covariate"] == "age"].iloc[0]
    expected_age = (70 - 65) / np.sqrt((100 + np.var([50, 60, 70, 80], ddof=1)) / 2)
    assert age["smd"] == pytest.approx(expected_age)
    liver = result[result["covariate"] == "liver"].iloc[0]
    p_t, p_c = 1 / 3, 2 / 4
    assert liver["smd"] == pytest.approx((p_t - p_c) / np.sqrt((p_t * (1 - p_t)
                                                               + p_c * (1 - p_c)) / 2))
    male = result[(result["covariate"] == "sex") & (result["level"] == "m")].iloc[0]
    assert male["mean_treated"] == pytest.approx(2 / 3)
    assert male["mean_control"] == pytest.approx(1 / 4)
    assert set(result["cohort"]) == {"all"}


# -------------------------------------------------------------------- response


def test_clopper_pearson_matches_scipy_binomtest():
    for successes, n in [(0, 20), (59, 200), (30, 296), (20, 20)]:
        expected = stats.binomtest(successes, n).proportion_ci(method="exact")
        assert clopper_pearson(successes, n) == pytest.approx((expected.low, expected.high))


def test_response_summary_counts_rates_and_tests():
    rows = (["CR"] * 5 + ["PR"] * 54 + ["SD"] * 75 + ["PD"] * 60 + ["NE"] * 6,
            ["CR"] * 1 + ["PR"] * 29 + ["SD"] * 123 + ["PD"] * 130 + ["NE"] * 13)
    df = pd.DataFrame({"arm": ["ICI"] * 200 + ["non-ICI"] * 296,
                       "best_response": rows[0] + rows[1]})
    result = response_summary(df).set_index("arm")
    assert result.loc["ICI", "orr"] == pytest.approx(59 / 200)
    assert result.loc["non-ICI", "dcr"] == pytest.approx(153 / 296)
    table = np.array([[59, 141], [30, 266]])
    chi2, p_expected, _, _ = stats.chi2_contingency(table, correction=False)
    n = table.sum()
    by_hand = n * (59 * 266 - 141 * 30) ** 2 / (200 * 296 * 89 * 407)
    assert chi2 == pytest.approx(by_hand)
    assert result.loc["ICI", "orr_p_value"] == pytest.approx(p_expected)
    assert "chi-square" in result.loc["ICI", "test_method"]


def test_response_uses_fisher_when_expected_counts_are_small():
    df = pd.DataFrame({"arm": ["a"] * 10 + ["b"] * 10,
                       "best_response": ["PR"] * 4 + ["PD"] * 6 + ["PR"] * 0 + ["PD"] * 10})
    result = response_summary(df)
    assert result.loc[0, "orr_p_value"] == pytest.approx(
        stats.fisher_exact([[4, 6], [0, 10]]).pvalue)
    assert "Fisher" in result.loc[0, "test_method"]


# ---------------------------------------------------------------------- safety


def test_safety_counts_worst_grade_once_and_suppresses_small_cells():
    cohort = pd.DataFrame({"patient_id": [f"p{i}" for i in range(20)],
                           "arm": ["ICI"] * 10 + ["non-ICI"] * 10})
    events = pd.DataFrame({
        "patient_id": ["p0", "p0", "p1", "p2", "p3", "p4", "p5", "p10"],
        "arm": ["ICI"] * 7 + ["non-ICI"],
        "ae_term": ["Rash"] * 8,
        "ctcae_grade": [1, 3, 1, 2, 1, 1, 2, 3],
    })
    result = safety_summary(events, cohort, min_cell_count=3).set_index(["grade_band", "arm"])
    any_ici = result.loc[("any grade", "ICI")]
    assert any_ici["patients"] == 6 and any_ici["percent"] == pytest.approx(60.0)
    severe_ici = result.loc[("grade 3 or higher", "ICI")]
    assert severe_ici["is_suppressed"] and pd.isna(severe_ici["patients"])
    assert pd.isna(severe_ici["percent"])
    severe_control = result.loc[("grade 3 or higher", "non-ICI")]
    assert severe_control["is_suppressed"]  # 1 patient < 3
    assert len(result) == 4


# ------------------------------------------------------------------- subgroups


def test_subgroup_interaction_is_a_likelihood_ratio_test():
    pytest.importorskip("lifelines")
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(12)
    n = 600
    treated, flag = rng.random(n) < 0.5, rng.random(n) < 0.4
    hazard = np.exp(-0.6 * treated + 0.3 * flag + 0.5 * treated * flag)
    event_time, censor_time = rng.exponential(1 / hazard), rng.exponential(2.0, n)
    df = pd.DataFrame({"t": np.minimum(event_time, censor_time),
                       "e": event_time <= censor_time, "treated": treated, "flag": flag})
    result = subgroup_hazard_ratios(df, "t", "e", "treated", {"flag": "flag"})
    data = df.assign(treated=treated.astype(float), flag=flag.astype(float),
                     both=(treated & flag).astype(float), e=df["e"].astype(int))
    full = CoxPHFitter().fit(data[["t", "e", "treated", "flag", "both"]], "t", "e")
    reduced = CoxPHFitter().fit(data[["t", "e", "treated", "flag"]], "t", "e")
    expected = stats.chi2.sf(2 * (full.log_likelihood_ - reduced.log_likelihood_), 1)
    assert result["interaction_p_value"].iloc[0] == pytest.approx(expected, rel=1e-8)
    yes = result[result["level"] == "yes"].iloc[0]
    alone = CoxPHFitter().fit(data.loc[flag, ["t", "e", "treated"]], "t", "e")
    assert yes["hr"] == pytest.approx(float(np.exp(alone.params_["treated"])), rel=1e-8)

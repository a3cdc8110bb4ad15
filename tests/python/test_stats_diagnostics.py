"""rwe_stats.diagnostics: c-statistic, equipoise, minimum detectable HR, the diagnostics table.

Expected values: base R (wilcox.test, plogis/qlogis, qnorm) saved by
tests/python/reference/diagnostics.R, and independent code written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from rwe_stats.balance import standardized_mean_differences
from rwe_stats.diagnostics import (
    DIAGNOSTICS,
    c_statistic,
    equipoise_share,
    minimum_detectable_hazard_ratio,
    preference_scores,
    study_diagnostics,
)
from rwe_stats.matching import match_nearest_neighbour
from rwe_stats.propensity import estimate_propensity_scores

REFERENCE = Path(__file__).parent / "reference"
THRESHOLDS = {"max_abs_smd_after_matching": 0.1, "share_treated_matched": 0.5,
              "equipoise_share": 0.5, "propensity_c_statistic": 0.8,
              "minimum_detectable_hr": 0.5, "ph_test_p_value": 0.05, "events_treated": 5,
              "events_control": 5}


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    return data.assign(is_treated=data["treated"] == 1, propensity_score=data["ps"])


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((REFERENCE / "diagnostics.json").read_text())


def test_c_statistic_reproduces_r_wilcox_and_a_pairwise_count(synthetic, expected):
    ours = c_statistic(synthetic)
    assert ours == pytest.approx(expected["c_statistic"], rel=1e-12)
    ps, treated = synthetic["ps"].to_numpy(), synthetic["is_treated"].to_numpy()
    difference = ps[treated][:, None] - ps[~treated][None, :]  # every (treated, control) pair
    assert len(np.unique(ps)) < len(ps)  # tied scores are exercised
    assert ours == pytest.approx(((difference > 0) + 0.5 * (difference == 0)).mean(), rel=1e-12)
    assert ours == pytest.approx(roc_auc_score(treated, ps), rel=1e-12)


def test_preference_and_equipoise_reproduce_r(synthetic, expected):
    preference = preference_scores(synthetic)
    np.testing.assert_allclose(preference[:5], expected["preference_first_five"], rtol=1e-12)
    assert equipoise_share(synthetic) == pytest.approx(expected["equipoise_share"], rel=1e-12)
    # the preference score removes the treated share: its odds ratio to ps is constant
    ps, share = synthetic["ps"].to_numpy(), synthetic["is_treated"].mean()
    odds_ratio = (preference / (1 - preference)) / (ps / (1 - ps))
    np.testing.assert_allclose(odds_ratio, (1 - share) / share, rtol=1e-12)


def test_minimum_detectable_hr_reproduces_r_and_schoenfeld(expected):
    for case in expected["minimum_detectable_hr"]:
        hr = minimum_detectable_hazard_ratio(expected["events"], expected["treated_share"],
                                             case["alpha"], case["power"])
        assert hr == pytest.approx(case["hr_below_1"], rel=1e-12)
        # back into Schoenfeld's events formula: the events come out again
        p = expected["treated_share"]
        z = stats.norm.ppf(1 - case["alpha"] / 2) + stats.norm.ppf(case["power"])
        assert z ** 2 / (p * (1 - p) * np.log(hr) ** 2) == pytest.approx(expected["events"],
                                                                          rel=1e-12)
    with pytest.raises(ValueError, match="events"):
        minimum_detectable_hazard_ratio(0, 0.5)


def _cohort(seed: int, separation: float, n: int = 600) -> pd.DataFrame:
    """Patients whose treatment depends on age and ECOG with strength ``separation``."""
    rng = np.random.default_rng(seed)
    age = rng.normal(65, 9, n).round()
    ecog = rng.random(n) < 0.3
    logit = separation * ((age - 65) / 9 - ecog)
    treated = rng.random(n) < 1 / (1 + np.exp(-logit))
    event = rng.random(n) < 0.7
    return pd.DataFrame({"patient_id": [f"p{i:04d}" for i in range(n)], "age": age,
                         "is_ecog_2": ecog, "is_treated": treated, "event": event,
                         "tie_break_key": [f"k{i}" for i in range(n)]})


def _diagnose(cohort: pd.DataFrame, thresholds=THRESHOLDS, ph=0.4) -> pd.DataFrame:
    scores = estimate_propensity_scores(cohort, "is_treated", ["age", "is_ecog_2"])
    pairs = match_nearest_neighbour(scores.assign(tie_break_key=cohort["tie_break_key"]))
    matched_ids = set(pairs["treated_patient_id"]) | set(pairs["control_patient_id"])
    matched = cohort[cohort["patient_id"].isin(matched_ids)]
    balance = standardized_mean_differences(matched, "is_treated", ["age", "is_ecog_2"],
                                            "matched")
    return study_diagnostics(scores, pairs, balance, matched, "is_treated", "event",
                             thresholds, ph_test_p_value=ph)


def test_a_cohort_with_overlap_passes_every_diagnostic():
    table = _diagnose(_cohort(1, separation=0.5))
    assert table["diagnostic"].tolist() == list(DIAGNOSTICS)
    assert table["passed"].all(), table[["diagnostic", "value", "passed"]]
    assert set(table["estimation_status"]) == {"estimated"}


def test_a_cohort_without_overlap_fails_and_is_flagged():
    """Treatment nearly determined by the covariates: few patients in equipoise, a
    c-statistic near 1, and matching leaves most treated patients unmatched."""
    table = _diagnose(_cohort(2, separation=4.0)).set_index("diagnostic")
    assert not table.loc["equipoise_share", "passed"]
    assert not table.loc["propensity_c_statistic", "passed"]
    assert not table.loc["share_treated_matched", "passed"]
    assert table.loc["equipoise_share", "value"] < 0.5
    assert table.loc["propensity_c_statistic", "value"] > 0.9


def test_missing_thresholds_report_only_and_unknown_ones_raise():
    cohort = _cohort(1, separation=0.5)
    table = _diagnose(cohort, thresholds={"equipoise_share": 0.5}, ph=None).set_index(
        "diagnostic")
    assert table["passed"].isna().sum() == len(DIAGNOSTICS) - 1
    assert table.loc["ph_test_p_value", "status_reason"] == "not_supplied"
    assert np.isnan(table.loc["max_abs_smd_after_matching", "threshold"])
    with pytest.raises(ValueError, match="unknown diagnostics"):
        _diagnose(cohort, thresholds={"max_smd": 0.1})


def test_no_matched_pairs_is_a_row():
    cohort = _cohort(1, separation=0.5)
    scores = estimate_propensity_scores(cohort, "is_treated", ["age", "is_ecog_2"])
    empty = cohort.iloc[:0]
    table = study_diagnostics(scores, pd.DataFrame(), pd.DataFrame({"smd": []}), empty,
                              "is_treated", "event", THRESHOLDS).set_index("diagnostic")
    assert table.loc["share_treated_matched", "value"] == 0
    assert not table.loc["share_treated_matched", "passed"]
    assert table.loc["minimum_detectable_hr", "status_reason"] == "no_matched_pairs"
    assert table.loc["max_abs_smd_after_matching", "status_reason"] == "no_balance_rows"
    assert pd.isna(table.loc["minimum_detectable_hr", "passed"])

"""rwe_stats.matching: greedy 1:1 caliper matching, against a naive full-scan reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rwe_stats.matching import caliper_width, match_nearest_neighbour


def _naive_greedy(scores: pd.DataFrame, caliper_sd: float, seed: int) -> list[tuple[str, str]]:
    """Reference: the documented rule, scanning every control for every treated patient.

    Caliper = caliper_sd x SD(logit PS of all patients, ddof=1). Treated patients in
    (logit, id) order, permuted by default_rng(seed). The chosen control minimises
    (distance, logit PS, position in the controls' (logit, id) order counted away from
    the treated value): lowest id at or above the value, highest id below it."""
    caliper = caliper_sd * np.std(scores["logit_ps"].to_numpy(), ddof=1)
    treated = scores[scores["is_treated"]].sort_values(["logit_ps", "patient_id"])
    controls = scores[~scores["is_treated"]].sort_values(["logit_ps", "patient_id"])
    ids, logits = list(controls["patient_id"]), list(controls["logit_ps"])
    free = [True] * len(ids)
    pairs = []
    for position in np.random.default_rng(seed).permutation(len(treated)):
        value = treated["logit_ps"].iloc[position]
        candidates = [(abs(value - logits[i]), logits[i], i if logits[i] >= value else -i, i)
                      for i in range(len(ids)) if free[i]]
        if not candidates:
            continue
        distance, _, _, best = min(candidates)
        if distance > caliper:
            continue
        free[best] = False
        pairs.append((treated["patient_id"].iloc[position], ids[best]))
    return pairs


def _scores(seed: int, n: int = 300, decimals: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scores = pd.DataFrame({
        "patient_id": [f"p{i:04d}" for i in rng.permutation(n)],
        "is_treated": rng.random(n) < 0.4,
        # rounding creates exact ties among controls and between treated and controls
        "logit_ps": np.round(rng.normal(0, 1, n), decimals),
    })
    scores.loc[scores["is_treated"], "logit_ps"] += 0.3
    scores["logit_ps"] = scores["logit_ps"].round(decimals)
    return scores


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("caliper_sd", [0.01, 0.05, 0.2, np.inf])
def test_matching_equals_the_naive_reference(seed, caliper_sd):
    scores = _scores(100 + seed, decimals=1 if seed % 2 else 2)
    assert scores["logit_ps"].duplicated().sum() > 50  # ties are exercised
    pairs = match_nearest_neighbour(scores, caliper_sd=caliper_sd, seed=seed)
    expected = _naive_greedy(scores, caliper_sd, seed)
    assert list(zip(pairs["treated_patient_id"], pairs["control_patient_id"], strict=True)) \
        == expected
    if caliper_sd == 0.01:
        assert len(pairs) < scores["is_treated"].sum()  # the caliper excluded someone


def test_pairs_respect_the_caliper_and_never_reuse_a_control():
    rng = np.random.default_rng(7)
    scores = pd.DataFrame({"patient_id": [f"p{i}" for i in range(3000)],
                           "is_treated": rng.random(3000) < 0.45,
                           "logit_ps": rng.normal(0, 1, 3000)})
    scores.loc[scores["is_treated"], "logit_ps"] += 0.8
    pairs = match_nearest_neighbour(scores, caliper_sd=0.2, seed=3)
    assert list(pairs.columns) == ["pair_id", "treated_patient_id", "control_patient_id",
                                   "treated_logit_ps", "control_logit_ps", "distance"]
    caliper = 0.2 * np.std(scores["logit_ps"], ddof=1)
    assert 0 < len(pairs) < scores["is_treated"].sum()
    assert (pairs["distance"] <= caliper).all()
    assert pairs["control_patient_id"].is_unique and pairs["treated_patient_id"].is_unique
    np.testing.assert_array_equal(pairs["distance"],
                                  (pairs["treated_logit_ps"] - pairs["control_logit_ps"]).abs())
    by_id = scores.set_index("patient_id")
    assert by_id.loc[pairs["treated_patient_id"], "is_treated"].all()
    assert not by_id.loc[pairs["control_patient_id"], "is_treated"].any()
    np.testing.assert_array_equal(by_id.loc[pairs["treated_patient_id"], "logit_ps"],
                                  pairs["treated_logit_ps"])
    assert pairs["pair_id"].tolist() == [f"pair_{k:06d}" for k in range(1, len(pairs) + 1)]


def test_result_is_deterministic_for_a_seed_and_independent_of_row_order():
    scores = _scores(21, n=400)
    first = match_nearest_neighbour(scores, caliper_sd=0.05, seed=11)
    again = match_nearest_neighbour(scores.sample(frac=1, random_state=5), caliper_sd=0.05,
                                    seed=11)
    pd.testing.assert_frame_equal(first, again)
    others = [match_nearest_neighbour(scores, caliper_sd=0.05, seed=s) for s in (12, 13, 14)]
    assert any(not other[["treated_patient_id", "control_patient_id"]].equals(
        first[["treated_patient_id", "control_patient_id"]]) for other in others)


def test_caliper_uses_the_sample_sd_of_all_patients():
    # one treated at 0, controls at 1.2, 3 and 5: the nearest is 1.2 away. A caliper
    # of c x SD sits above 1.2 with ddof=1 and below it with ddof=0.
    scores = pd.DataFrame({"patient_id": ["t", "a", "b", "c"],
                           "is_treated": [True, False, False, False],
                           "logit_ps": [0.0, 1.2, 3.0, 5.0]})
    sd1, sd0 = np.std(scores["logit_ps"], ddof=1), np.std(scores["logit_ps"], ddof=0)
    caliper_sd = 1.2 / ((sd1 + sd0) / 2)
    assert caliper_width(scores["logit_ps"].to_numpy(), caliper_sd) == pytest.approx(
        caliper_sd * sd1)
    pairs = match_nearest_neighbour(scores, caliper_sd=caliper_sd, seed=0)
    assert pairs[["treated_patient_id", "control_patient_id"]].values.tolist() == [["t", "a"]]
    assert match_nearest_neighbour(scores, caliper_sd=0.99 * 1.2 / sd1, seed=0).empty


def test_tie_rules_by_hand():
    scores = pd.DataFrame({
        "patient_id": ["t1", "below", "above", "same_b", "same_a", "t2"],
        "is_treated": [True, False, False, False, False, True],
        "logit_ps": [1.0, 0.5, 1.5, 3.0, 3.0, 3.0],
    })
    pairs = match_nearest_neighbour(scores, caliper_sd=np.inf, seed=0).set_index(
        "treated_patient_id")["control_patient_id"]
    assert pairs["t1"] == "below"  # equal distance 0.5: the lower logit PS wins
    assert pairs["t2"] == "same_a"  # equal logit PS: the lowest id at or above the value


def test_invalid_inputs_are_rejected():
    scores = _scores(30, n=20)
    with pytest.raises(ValueError, match="caliper_sd"):
        match_nearest_neighbour(scores, caliper_sd=0, seed=0)
    with pytest.raises(ValueError, match="unique"):
        match_nearest_neighbour(scores.assign(patient_id="x"), seed=0)
    with pytest.raises(ValueError, match="logit_ps has missing or infinite"):
        match_nearest_neighbour(scores.assign(logit_ps=np.inf), seed=0)
    with pytest.raises(ValueError, match="logit_ps"):
        match_nearest_neighbour(scores.drop(columns="logit_ps"), seed=0)

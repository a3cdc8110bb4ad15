"""rwe_stats.matching: greedy 1:1 caliper matching, against a naive full-scan reference."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from rwe_stats.matching import caliper_width, match_nearest_neighbour


def _sha256_rank(key: str, seed: int) -> int:
    """The documented rank: the first 16 hex digits (64 bits) of SHA-256("<seed>:<key>")."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:16], 16)


def _naive_greedy(scores: pd.DataFrame, caliper_sd: float, seed: int,
                  order_by: str = "rank") -> list[tuple[str, str]]:
    """Reference: the documented rule, scanning every control for every treated patient.

    Caliper = caliper_sd x SD(logit PS of all patients, ddof=1). Every patient gets the
    rank int(sha256("<seed>:<tie_break_key>")[:16 hex digits]); treated patients in
    (logit, rank) order, permuted by default_rng(seed). The chosen control minimises
    (distance, logit PS, position in the controls' (logit, rank) order counted away
    from the treated value):
    lowest rank at or above the value, highest rank below it. ``order_by="patient_id"``
    is the old, key-dependent rule (ties by pseudonymised id), kept to show the data
    have ties that matter. Returns (treated, control) tie-break keys in matching order."""
    caliper = caliper_sd * np.std(scores["logit_ps"].to_numpy(), ddof=1)
    scores = scores.assign(rank=[_sha256_rank(key, seed) for key in scores["tie_break_key"]])
    treated = scores[scores["is_treated"]].sort_values(["logit_ps", order_by])
    controls = scores[~scores["is_treated"]].sort_values(["logit_ps", order_by])
    keys, logits = list(controls["tie_break_key"]), list(controls["logit_ps"])
    free = [True] * len(keys)
    pairs = []
    for position in np.random.default_rng(seed).permutation(len(treated)):
        value = treated["logit_ps"].iloc[position]
        candidates = [(abs(value - logits[i]), logits[i], i if logits[i] >= value else -i, i)
                      for i in range(len(keys)) if free[i]]
        if not candidates:
            continue
        distance, _, _, best = min(candidates)
        if distance > caliper:
            continue
        free[best] = False
        pairs.append((treated["tie_break_key"].iloc[position], keys[best]))
    return pairs


def _scores(seed: int, n: int = 300, decimals: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centers = rng.choice(["center_a", "center_b", "center_c"], n)
    scores = pd.DataFrame({
        "patient_id": [f"p{i:04d}" for i in rng.permutation(n)],
        # key-independent provenance: center, export and a raw row number
        "tie_break_key": [f"{center}:lines:{row}" for center, row
                          in zip(centers, rng.permutation(n) + 2, strict=True)],
        "is_treated": rng.random(n) < 0.4,
        # rounding creates exact ties among controls and between treated and controls
        "logit_ps": np.round(rng.normal(0, 1, n), decimals),
    })
    scores.loc[scores["is_treated"], "logit_ps"] += 0.3
    scores["logit_ps"] = scores["logit_ps"].round(decimals)
    return scores


def _key_pairs(pairs: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(pairs["treated_tie_break_key"], pairs["control_tie_break_key"], strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("caliper_sd", [0.01, 0.05, 0.2, np.inf])
def test_matching_equals_the_naive_reference(seed, caliper_sd):
    scores = _scores(100 + seed, decimals=1 if seed % 2 else 2)
    assert scores["logit_ps"].duplicated().sum() > 50  # ties are exercised
    pairs = match_nearest_neighbour(scores, caliper_sd=caliper_sd, seed=seed)
    expected = _naive_greedy(scores, caliper_sd, seed)
    assert _key_pairs(pairs) == expected
    by_key = scores.set_index("tie_break_key")["patient_id"]
    assert pairs["treated_patient_id"].tolist() == by_key[pairs["treated_tie_break_key"]].tolist()
    assert pairs["control_patient_id"].tolist() == by_key[pairs["control_tie_break_key"]].tolist()
    if caliper_sd == 0.01:
        assert len(pairs) < scores["is_treated"].sum()  # the caliper excluded someone


def test_pairs_respect_the_caliper_and_never_reuse_a_control():
    rng = np.random.default_rng(7)
    scores = pd.DataFrame({"patient_id": [f"p{i}" for i in range(3000)],
                           "tie_break_key": [f"center_a:lines:{i + 2}" for i in range(3000)],
                           "is_treated": rng.random(3000) < 0.45,
                           "logit_ps": rng.normal(0, 1, 3000)})
    scores.loc[scores["is_treated"], "logit_ps"] += 0.8
    pairs = match_nearest_neighbour(scores, caliper_sd=0.2, seed=3)
    assert list(pairs.columns) == ["pair_id", "treated_patient_id", "control_patient_id",
                                   "treated_logit_ps", "control_logit_ps", "distance",
                                   "treated_tie_break_key", "control_tie_break_key"]
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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pairs_do_not_depend_on_the_pseudonym_key_or_the_row_order(seed):
    """Re-pseudonymising (any bijection of ids, here one that reverses their sort order
    and one that scrambles it) and shuffling the rows must give the same pairs: the
    same tie-break keys in the same order, and the same pairs of patients."""
    scores = _scores(200 + seed, n=400, decimals=1)
    tied = scores["logit_ps"].duplicated(keep=False)
    assert tied.sum() > 300  # many patients share a logit PS with someone
    first = match_nearest_neighbour(scores, caliper_sd=0.2, seed=seed)
    ids = scores["patient_id"].tolist()
    reversed_ids = dict(zip(sorted(ids), sorted(ids, reverse=True), strict=True))
    rng = np.random.default_rng(seed)
    scrambled_ids = dict(zip(ids, [f"{value:016x}" for value in rng.permutation(10**6)[:400]],
                             strict=True))
    for relabel in (reversed_ids, scrambled_ids):
        renamed = scores.assign(patient_id=scores["patient_id"].map(relabel))
        renamed = renamed.sample(frac=1, random_state=seed + 10).reset_index(drop=True)
        again = match_nearest_neighbour(renamed, caliper_sd=0.2, seed=seed)
        assert _key_pairs(again) == _key_pairs(first)
        assert again["treated_patient_id"].tolist() == \
            first["treated_patient_id"].map(relabel).tolist()
        assert again["control_patient_id"].tolist() == \
            first["control_patient_id"].map(relabel).tolist()
        pd.testing.assert_frame_equal(
            again[["pair_id", "treated_logit_ps", "control_logit_ps", "distance"]],
            first[["pair_id", "treated_logit_ps", "control_logit_ps", "distance"]])
    # The check has teeth: the old rule (ties by pseudonymised id) changes the pairs
    # under the order-reversing relabelling of these data.
    old = _naive_greedy(scores, 0.2, seed, order_by="patient_id")
    old_relabelled = _naive_greedy(scores.assign(patient_id=scores["patient_id"].map(
        reversed_ids)), 0.2, seed, order_by="patient_id")
    assert old != old_relabelled


def test_caliper_uses_the_sample_sd_of_all_patients():
    # one treated at 0, controls at 1.2, 3 and 5: the nearest is 1.2 away. A caliper
    # of c x SD sits above 1.2 with ddof=1 and below it with ddof=0.
    scores = pd.DataFrame({"patient_id": ["t", "a", "b", "c"],
                           "tie_break_key": ["k1", "k2", "k3", "k4"],
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
    # Two controls share the treated t2's logit PS: the one with the lower rank,
    # the first 64 bits of sha256("<seed>:<key>"), wins, whatever the ids. By hand:
    # seed 0: sha256("0:center_b:lines:6") starts "e3", sha256("0:center_a:lines:3") "eb";
    # seed 1: "db..." for center_b:lines:6 and "cc..." for center_a:lines:3.
    ranks = {(seed, key): _sha256_rank(key, seed) for seed in (0, 1)
             for key in ("center_a:lines:3", "center_b:lines:6")}
    assert ranks[(0, "center_b:lines:6")] < ranks[(0, "center_a:lines:3")]
    assert ranks[(1, "center_a:lines:3")] < ranks[(1, "center_b:lines:6")]
    scores = pd.DataFrame({
        "patient_id": ["t1", "below", "above", "zzz", "aaa", "t2"],
        "tie_break_key": ["center_a:lines:1", "center_a:lines:2", "center_c:lines:5",
                          "center_b:lines:6", "center_a:lines:3", "center_c:lines:9"],
        "is_treated": [True, False, False, False, False, True],
        "logit_ps": [1.0, 0.5, 1.5, 3.0, 3.0, 3.0],
    })
    for seed, winner in ((0, "zzz"), (1, "aaa")):
        pairs = match_nearest_neighbour(scores, caliper_sd=np.inf, seed=seed).set_index(
            "treated_patient_id")["control_patient_id"]
        assert pairs["t1"] == "below"  # equal distance 0.5: the lower logit PS wins
        assert pairs["t2"] == winner  # equal logit PS: the lower tie-break rank


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
    with pytest.raises(ValueError, match="tie_break_key"):
        match_nearest_neighbour(scores.drop(columns="tie_break_key"), seed=0)
    with pytest.raises(ValueError, match="tie_break_key must be unique"):
        match_nearest_neighbour(scores.assign(tie_break_key="same"), seed=0)


def test_a_repeated_or_missing_tie_break_key_is_rejected():
    scores = _scores(31, n=20)
    repeated = scores.assign(tie_break_key=scores["tie_break_key"].where(
        scores.index != 5, scores["tie_break_key"].iloc[4]))
    with pytest.raises(ValueError, match=r"tie_break_key must be unique .*; 1 value") as raised:
        match_nearest_neighbour(repeated, seed=0)
    assert str(scores["tie_break_key"].iloc[4]) not in str(raised.value)
    missing = scores.assign(tie_break_key=scores["tie_break_key"].where(scores.index != 3))
    with pytest.raises(ValueError, match="tie_break_key has missing values"):
        match_nearest_neighbour(missing, seed=0)


@pytest.mark.parametrize("caliper_sd", [0.05, np.inf])
def test_colliding_ranks_fall_back_to_the_key(monkeypatch, caliper_sd):
    # Distinct ranks prove the keys unique; when ranks collide, distinct keys must
    # still be accepted and order the tie (here every rank is 0, so the key decides).
    monkeypatch.setattr("rwe_stats.matching.tie_break_ranks",
                        lambda keys, seed: np.zeros(len(keys), dtype=np.uint64))
    scores = _scores(32)
    pairs = match_nearest_neighbour(scores, caliper_sd=caliper_sd, seed=2)
    assert _key_pairs(pairs) == _naive_greedy(scores, caliper_sd, 2, order_by="tie_break_key")

"""rwe_stats.rmst: RMST per arm and between arms, milestone survival differences.

Expected values: R survival's own ``summary(survfit(...), rmean = tau)``
and ``summary(fit, times = )``, saved by tests/python/reference/rmst.R, and
an independent loop implementation written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rwe_stats.rmst import (
    largest_common_tau,
    milestone_survival_difference,
    rmst_by_arm,
    rmst_contrasts,
)

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-9  # closed forms vs R (measured agreement: about 1e-14)
TAUS = {"lung": (90, 365, 500), "rossi": (26, 52), "synthetic": (12, 24)}
LANDMARKS = {"lung": (180, 365, 730), "rossi": (26, 52), "synthetic": (6, 12, 24)}


def _dataset(name: str) -> pd.DataFrame:
    """The three data sets of rmst.R, as (time, event, treated)."""
    if name == "lung":  # lifelines' copy: status 1 = death; "treated" = female
        data = pd.read_csv(REFERENCE / "data" / "lung.csv")
        return pd.DataFrame({"time": data["time"].astype(float), "event": data["status"] == 1,
                             "treated": data["sex"] == 2})
    if name == "rossi":
        data = pd.read_csv(REFERENCE / "data" / "rossi.csv")
        return pd.DataFrame({"time": data["week"].astype(float), "event": data["arrest"] == 1,
                             "treated": data["fin"] == 1})
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    return pd.DataFrame({"time": data["months"], "event": data["event"] == 1,
                         "treated": data["treated"] == 1})


def _rmst_by_hand(times: np.ndarray, events: np.ndarray, tau: float) -> tuple[float, float]:
    """Area under the KM curve to tau and the survmean SE, one loop over the times.

    Independent of rwe_stats: the area after each step to tau is summed
    explicitly for each step (O(n^2), fine for a test)."""
    steps = []  # (time, S after the step, d, n)
    survival = 1.0
    for time in np.unique(times):
        n = int((times >= time).sum())
        d = int(((times == time) & events).sum())
        survival *= 1 - d / n
        steps.append((time, survival, d, n))
    kept = [step for step in steps if step[0] <= tau]
    area, previous_time, previous_s = 0.0, 0.0, 1.0
    for time, s, _, _ in kept:
        area += (time - previous_time) * previous_s
        previous_time, previous_s = time, s
    area += (tau - previous_time) * previous_s
    variance = 0.0
    for index, (time, s, d, n) in enumerate(kept):
        following = [step[0] for step in kept[index + 1:]] + [tau]
        area_to_tau, start, level = 0.0, time, s
        for nxt in following:
            area_to_tau += (nxt - start) * level
            start = nxt
            later = [step for step in kept if step[0] == nxt]
            level = later[0][1] if later else level
        if n > d:
            variance += area_to_tau ** 2 * d / (n * (n - d))
    return area, float(np.sqrt(variance))


@pytest.mark.parametrize("name", list(TAUS))
def test_rmst_per_arm_reproduces_r_survfit_rmean(name):
    reference = pd.read_csv(REFERENCE / "rmst_by_arm.csv")
    reference = reference[reference["dataset"] == name]
    ours = rmst_by_arm(_dataset(name), "time", "event", "treated", taus=TAUS[name])
    assert len(ours) == len(reference)
    for _, expected in reference.iterrows():
        arm = "treated" if expected["arm"] == 1 else "control"
        row = ours[(ours["tau_months"] == expected["tau"]) & (ours["arm"] == arm)].iloc[0]
        assert row["tau_rule"] == ("largest" if expected["is_default_tau"] else "requested")
        assert row["n"] == expected["n"]
        assert row["rmst"] == pytest.approx(expected["rmean"], rel=RTOL)
        assert row["se"] == pytest.approx(expected["se_rmean"], rel=RTOL)
        z = stats.norm.ppf(0.975)
        assert row["ci_lower"] == pytest.approx(expected["rmean"] - z * expected["se_rmean"],
                                                rel=RTOL)
        assert row["estimation_status"] == "estimated" and row["status_reason"] is None


@pytest.mark.parametrize("name", list(TAUS))
def test_rmst_contrasts_reproduce_the_survrm2_formulas_on_r_values(name):
    reference = pd.read_csv(REFERENCE / "rmst_contrast.csv")
    reference = reference[reference["dataset"] == name]
    ours = rmst_contrasts(_dataset(name), "time", "event", "treated", taus=TAUS[name])
    assert len(ours) == len(reference)
    merged = ours.merge(reference, left_on=["tau_months", "measure"],
                        right_on=["tau", "measure"], suffixes=("", "_r"))
    assert len(merged) == len(ours)
    for column in ("estimate", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_r"], rtol=RTOL)


def test_rmst_equals_an_independent_loop_on_simulated_ties():
    rng = np.random.default_rng(7)
    times = np.ceil(rng.exponential(6, 120) * 2) / 2  # many ties
    events = rng.random(120) < 0.7
    treated = rng.random(120) < 0.5
    data = pd.DataFrame({"t": times, "e": events, "a": treated})
    ours = rmst_by_arm(data, "t", "e", "a", taus=(3.0, 7.5, 10.0), include_largest=False)
    for _, row in ours.iterrows():
        mask = treated if row["arm"] == "treated" else ~treated
        if row["estimation_status"] != "estimated":
            continue
        area, se = _rmst_by_hand(times[mask], events[mask], row["tau_months"])
        assert row["rmst"] == pytest.approx(area, rel=1e-12)
        assert row["se"] == pytest.approx(se, rel=1e-12)


@pytest.mark.parametrize(("treated", "control", "expected"), [
    # both arms end censored: the shorter arm's last time
    (([1, 5, 9], [1, 0, 0]), ([2, 4, 12], [1, 1, 0]), 9.0),
    # the shorter arm ends on an event (its curve is 0 after): the longer arm's last time
    (([1, 5, 9], [1, 0, 1]), ([2, 4, 12], [1, 1, 0]), 12.0),
    # the longer arm ends on an event, the shorter censored: the shorter arm's last time
    (([1, 5, 9], [1, 0, 0]), ([2, 4, 12], [1, 1, 1]), 9.0),
    # a tie of censored and event at the shorter arm's last time is not "ends on events"
    (([1, 9, 9], [1, 1, 0]), ([2, 4, 12], [1, 1, 0]), 9.0),
    # equal last times
    (([1, 9], [1, 0]), ([2, 9], [1, 0]), 9.0),
])
def test_largest_tau_follows_the_survrm2_rule(treated, control, expected):
    assert largest_common_tau(np.array(treated[0], float), np.array(treated[1], bool),
                              np.array(control[0], float), np.array(control[1], bool)) == expected


def test_a_tau_beyond_follow_up_is_a_row_not_an_error():
    data = _dataset("rossi")  # everyone is followed to week 52 at most
    by_arm = rmst_by_arm(data, "time", "event", "treated", taus=(26, 60))
    beyond = by_arm[by_arm["tau_months"] == 60]
    assert list(beyond["estimation_status"]) == ["not_estimable"] * 2
    assert set(beyond["status_reason"]) == {"tau_beyond_follow_up"}
    assert beyond["rmst"].isna().all()
    contrasts = rmst_contrasts(data, "time", "event", "treated", taus=(26, 60))
    assert contrasts.loc[contrasts["tau_months"] == 60, "status_reason"].tolist() == [
        "tau_beyond_follow_up"] * 2
    assert (contrasts.loc[contrasts["tau_months"] == 26, "estimation_status"]
            == "estimated").all()
    # the largest allowed tau (52) is added once
    assert by_arm["tau_rule"].tolist().count("largest") == 2


def test_no_event_before_tau_and_an_empty_arm_are_rows():
    data = pd.DataFrame({"t": [5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
                         "e": [False, False, True, False, True, True],
                         "a": [True, True, True, False, False, False]})
    early = rmst_contrasts(data, "t", "e", "a", taus=(4.0,), include_largest=False)
    assert set(early["status_reason"]) == {"no_events_before_tau"}
    assert early["rmst_treated"].tolist() == [4.0, 4.0]  # the arm means stay
    one_arm = data.assign(a=True)
    assert set(rmst_by_arm(one_arm, "t", "e", "a")["status_reason"]) == {"empty_arm"}
    assert set(rmst_contrasts(one_arm, "t", "e", "a")["status_reason"]) == {"empty_arm"}
    assert set(milestone_survival_difference(one_arm, "t", "e", "a", [3.0])[
        "status_reason"]) == {"empty_arm"}


def test_invalid_input_still_raises():
    data = _dataset("synthetic")
    with pytest.raises(ValueError, match="time has missing"):
        rmst_by_arm(data.assign(time=np.where(np.arange(len(data)) == 3, np.nan, data["time"])),
                    "time", "event", "treated")
    with pytest.raises(ValueError, match="needs column"):
        rmst_contrasts(data, "months", "event", "treated")
    with pytest.raises(ValueError, match="taus must be positive"):
        rmst_by_arm(data, "time", "event", "treated", taus=(0.0,))
    with pytest.raises(ValueError, match="landmark"):
        milestone_survival_difference(data, "time", "event", "treated", [])


@pytest.mark.parametrize("name", list(LANDMARKS))
def test_milestone_difference_reproduces_r_summary_survfit(name):
    reference = pd.read_csv(REFERENCE / "milestone_difference.csv")
    reference = reference[reference["dataset"] == name]
    ours = milestone_survival_difference(_dataset(name), "time", "event", "treated",
                                         LANDMARKS[name])
    ours = ours[ours["estimation_status"] == "estimated"].reset_index(drop=True)
    assert ours["time_months"].tolist() == reference["time"].tolist()
    pairs = {"survival_treated": "surv_treated", "survival_control": "surv_control",
             "se_treated": "se_treated", "se_control": "se_control", "difference": "difference",
             "ci_lower": "ci_lower", "ci_upper": "ci_upper", "p_value": "p_value"}
    for column, r_column in pairs.items():
        np.testing.assert_allclose(ours[column], reference[r_column].to_numpy(), rtol=RTOL)


def test_milestone_beyond_follow_up_or_at_zero_survival_is_a_row():
    data = pd.DataFrame({"t": [1.0, 2.0, 3.0, 1.0, 2.0, 4.0],
                         "e": [True, True, True, True, False, False],
                         "a": [True, True, True, False, False, False]})
    table = milestone_survival_difference(data, "t", "e", "a", [0.5, 1.5, 3.0, 3.5])
    assert table["estimation_status"].tolist() == ["estimated", "estimated", "not_estimable",
                                                   "not_estimable"]
    assert table["status_reason"].tolist()[2:] == ["survival_reaches_zero",
                                                   "landmark_beyond_follow_up"]
    # before any event both curves are 1 with no variance: difference 0, CI [0, 0]
    assert table.iloc[0][["difference", "ci_lower", "ci_upper"]].tolist() == [0.0, 0.0, 0.0]
    # at 1.5: treated 2/3 (var (2/3)^2 * 1/(3*2)), control 2/3 (same): difference 0
    assert table.iloc[1]["se_treated"] == pytest.approx((2 / 3) * np.sqrt(1 / 6), rel=1e-12)

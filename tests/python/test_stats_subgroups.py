"""rwe_stats.subgroups: per-level Cox HRs and likelihood-ratio interaction tests,
checked against statsmodels' independent Cox implementation (Efron ties)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rwe_stats.regression import survival_times
from rwe_stats.subgroups import MIN_EVENTS_PER_ARM, subgroup_hazard_ratios
from rwe_stats.survival import hazard_ratio

sm = pytest.importorskip("statsmodels.api")


def _data(seed: int = 12, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated, flag = rng.random(n) < 0.5, rng.random(n) < 0.4
    site = rng.choice(["a", "b", "c"], n)
    hazard = np.exp(-0.6 * treated + 0.3 * flag + 0.5 * treated * flag)
    event_time, censor_time = rng.exponential(1 / hazard), rng.exponential(2.0, n)
    return pd.DataFrame({"t": np.ceil(np.minimum(event_time, censor_time) * 50) / 50,
                         "e": event_time <= censor_time, "treated": treated, "flag": flag,
                         "site": site})


def _phreg(data: pd.DataFrame, columns: list[str]):
    return sm.PHReg(data["t"], data[columns].astype(float), status=data["e"].astype(int),
                    ties="efron").fit()


def test_interaction_is_a_likelihood_ratio_test_and_levels_fit_alone():
    df = _data()
    result = subgroup_hazard_ratios(df, "t", "e", "treated", {"Flag": "flag"})
    assert list(result.columns) == ["subgroup", "level", "n", "events", "n_treated",
                                    "n_control", "events_treated", "events_control", "hr",
                                    "ci_lower", "ci_upper", "p_value", "ties_method",
                                    "variance_method", "ci_method", "interaction_p_value",
                                    "interaction_method", "note"]
    assert (result["ties_method"] == "efron").all()
    assert result["variance_method"].str.startswith("model-based").all()
    assert result["ci_method"].str.startswith("Wald 95% CI on the log-HR scale").all()
    data = df.assign(both=df["treated"] & df["flag"])
    full = _phreg(data, ["treated", "flag", "both"])
    reduced = _phreg(data, ["treated", "flag"])
    expected = stats.chi2.sf(2 * (full.llf - reduced.llf), 1)
    assert result["interaction_p_value"].tolist() == pytest.approx([expected] * 2, rel=1e-6)
    assert result["level"].tolist() == ["yes", "no"]
    for level, mask in (("yes", df["flag"]), ("no", ~df["flag"])):
        row = result.set_index("level").loc[level]
        alone = _phreg(df[mask], ["treated"])
        assert row["hr"] == pytest.approx(np.exp(alone.params[0]), rel=1e-6)
        assert row["ci_lower"] == pytest.approx(np.exp(alone.params[0] - 1.959963984540054
                                                       * alone.bse[0]), rel=1e-6)
        assert row["p_value"] == pytest.approx(alone.pvalues[0], rel=1e-5)
        assert row["n"] == mask.sum() and row["events"] == df.loc[mask, "e"].sum()
        assert row["n_treated"] == (mask & df["treated"]).sum()
        assert row["events_control"] == (mask & ~df["treated"] & df["e"]).sum()
        assert row["n_treated"] + row["n_control"] == row["n"]
        assert row["events_treated"] + row["events_control"] == row["events"]
        assert row["note"] is None


def test_levels_fitted_on_the_subsets_of_one_sort_equal_levels_sorted_alone():
    df = _data()
    times = survival_times(df, "t", "e")
    given = subgroup_hazard_ratios(df, "t", "e", "treated", {"Flag": "flag"}, times=times)
    pd.testing.assert_frame_equal(
        given, subgroup_hazard_ratios(df, "t", "e", "treated", {"Flag": "flag"}),
        check_exact=True)
    for level, mask in (("yes", df["flag"]), ("no", ~df["flag"])):
        alone = hazard_ratio(df[mask], "t", "e", "treated").iloc[0]
        assert given.set_index("level").loc[level, "hr"] == alone["hr"]
    with pytest.raises(ValueError, match="times was built from other rows"):
        subgroup_hazard_ratios(df, "t", "e", "treated", {"Flag": "flag"},
                               times=survival_times(df.iloc[::-1], "t", "e"))


def test_text_subgroup_has_one_row_per_level_and_a_multi_df_interaction():
    df = _data(13)
    result = subgroup_hazard_ratios(df, "t", "e", "treated", {"Site": "site"})
    assert result["level"].tolist() == ["a", "b", "c"]
    data = df.assign(b=df["site"] == "b", c=df["site"] == "c")
    data = data.assign(tb=data["treated"] & data["b"], tc=data["treated"] & data["c"])
    full = _phreg(data, ["treated", "b", "c", "tb", "tc"])
    reduced = _phreg(data, ["treated", "b", "c"])
    expected = stats.chi2.sf(2 * (full.llf - reduced.llf), 2)
    assert result.loc[0, "interaction_p_value"] == pytest.approx(expected, rel=1e-6)
    assert "(levels - 1 df)" in result.loc[0, "interaction_method"]


def test_levels_with_too_few_events_are_not_estimated():
    df = _data(14)
    rare = np.zeros(len(df), dtype=bool)
    treated_events = np.nonzero(df["treated"] & df["e"])[0]
    control_events = np.nonzero(~df["treated"] & df["e"])[0]
    rare[treated_events[:MIN_EVENTS_PER_ARM - 1]] = True  # 4 treated events in the level
    rare[control_events[:20]] = True
    result = subgroup_hazard_ratios(df.assign(rare=rare), "t", "e", "treated",
                                    {"Rare": "rare"}).set_index("level")
    assert np.isnan(result.loc["yes", "hr"])
    assert result.loc["yes", "note"] == "fewer than 5 events in an arm: not estimated"
    assert (result.loc["yes", "events_treated"], result.loc["yes", "events_control"]) == (4, 20)
    assert not np.isnan(result.loc["no", "hr"])
    assert not np.isnan(result.loc["yes", "interaction_p_value"])  # every level has events
    rare[treated_events[:MIN_EVENTS_PER_ARM - 1]] = False
    rare[np.nonzero(df["treated"] & ~df["e"])[0][:3]] = True  # treated, but no event
    result = subgroup_hazard_ratios(df.assign(rare=rare), "t", "e", "treated",
                                    {"Rare": "rare"}).set_index("level")
    assert np.isnan(result.loc["yes", "interaction_p_value"])
    assert "interaction not tested" in result.loc["no", "note"]


def test_missing_subgroup_values_are_rejected():
    df = _data(15)
    df["flag"] = df["flag"].astype(object)
    df.loc[0, "flag"] = None
    with pytest.raises(ValueError, match="flag has missing"):
        subgroup_hazard_ratios(df, "t", "e", "treated", {"Flag": "flag"})

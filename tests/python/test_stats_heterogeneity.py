"""rwe_stats.heterogeneity: Cochran's Q, I^2, DerSimonian-Laird tau^2 and pooled HRs.

Expected values: R metafor 3.8 (rma DL and FE, confint Q-profile) saved by
tests/python/reference/heterogeneity.R on the per-center Cox HRs of the
synthetic data (one center has the opposite effect) and two hand-made sets;
and the closed forms written out here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rwe_stats.heterogeneity import (
    center_heterogeneity,
    generalised_q,
    per_center_hazard_ratios,
)

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-9  # closed forms and root finding vs metafor (measured: below 1e-13)


def _sets() -> dict[str, dict]:
    return json.loads((REFERENCE / "heterogeneity.json").read_text())


@pytest.mark.parametrize("name", list(_sets()))
def test_heterogeneity_reproduces_metafor(name):
    expected = _sets()[name]
    row = center_heterogeneity(pd.DataFrame({"log_hr": expected["yi"],
                                             "se": expected["se"]})).iloc[0]
    assert row["k_centers"] == expected["k"] and row["q_df"] == expected["q_df"]
    for ours, theirs in {"q": "q", "q_p_value": "q_p_value", "tau2": "tau2",
                         "tau2_ci_lower": "tau2_ci_lower", "tau2_ci_upper": "tau2_ci_upper",
                         "i2_percent": "i2_percent",
                         "i2_ci_lower_percent": "i2_ci_lower_percent",
                         "i2_ci_upper_percent": "i2_ci_upper_percent",
                         "fixed_p_value": "fixed_p_value",
                         "random_p_value": "random_p_value"}.items():
        assert row[ours] == pytest.approx(expected[theirs], rel=RTOL, abs=1e-300), ours
    for pool in ("fixed", "random"):
        assert np.log(row[f"{pool}_hr"]) == pytest.approx(expected[f"{pool}_log_hr"], rel=RTOL)
        assert np.log(row[f"{pool}_ci_lower"]) == pytest.approx(expected[f"{pool}_ci_lower"],
                                                                rel=RTOL)
        assert np.log(row[f"{pool}_ci_upper"]) == pytest.approx(expected[f"{pool}_ci_upper"],
                                                                rel=RTOL)
    assert row["estimation_status"] == "estimated"


def test_closed_forms_written_out_independently():
    y = np.array([0.2, -0.9, -0.4, 0.1, -0.3])
    se = np.array([0.22, 0.23, 0.30, 0.30, 0.15])
    row = center_heterogeneity(pd.DataFrame({"log_hr": y, "se": se})).iloc[0]
    w = 1 / se ** 2
    mean = (w * y).sum() / w.sum()
    q = (w * (y - mean) ** 2).sum()
    tau2 = max(0.0, (q - 4) / (w.sum() - (w ** 2).sum() / w.sum()))
    w_star = 1 / (se ** 2 + tau2)
    assert row["q"] == pytest.approx(q, rel=1e-12)
    assert row["q_p_value"] == pytest.approx(stats.chi2.sf(q, 4), rel=1e-12)
    assert row["tau2"] == pytest.approx(tau2, rel=1e-12)
    assert row["i2_percent"] == pytest.approx(100 * (q - 4) / q, rel=1e-12)  # DL identity
    assert np.log(row["random_hr"]) == pytest.approx((w_star * y).sum() / w_star.sum(),
                                                     rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert np.log(row["fixed_ci_upper"]) == pytest.approx(mean + z / np.sqrt(w.sum()), rel=1e-12)
    # Q-profile: the generalised Q at the tau^2 limits equals the chi-square quantiles
    assert generalised_q(y, se, row["tau2_ci_lower"]) == pytest.approx(
        stats.chi2.ppf(0.975, 4), rel=1e-10)
    assert generalised_q(y, se, row["tau2_ci_upper"]) == pytest.approx(
        stats.chi2.ppf(0.025, 4), rel=1e-10)


def test_the_opposite_effect_center_shows_as_heterogeneity():
    """The synthetic data's center_d has log-HR +0.5 where the others have -0.5 (made by
    synthetic_weighted.R); R's per-center Cox fits feed the analysis."""
    per_center = pd.read_csv(REFERENCE / "cox_per_center.csv")
    row = center_heterogeneity(per_center.rename(columns={"coef": "log_hr"})).iloc[0]
    assert row["q_p_value"] < 0.05 and row["i2_percent"] > 50
    # the random-effects interval is wider than the fixed-effect one
    assert (np.log(row["random_ci_upper"]) - np.log(row["random_ci_lower"])
            > np.log(row["fixed_ci_upper"]) - np.log(row["fixed_ci_lower"]))


def test_failed_centers_are_left_out_and_too_few_centers_is_a_row():
    per_center = pd.DataFrame({"log_hr": [-0.3, np.nan, -0.1], "se": [0.2, np.nan, 0.25],
                               "estimation_status": ["estimated", "not_estimable",
                                                     "estimated"]})
    row = center_heterogeneity(per_center).iloc[0]
    assert row["k_centers"] == 2 and row["k_not_estimable"] == 1
    assert row["estimation_status"] == "estimated"
    single = center_heterogeneity(per_center.iloc[:2]).iloc[0]
    assert single["estimation_status"] == "not_estimable"
    assert single["status_reason"] == "too_few_centers"
    assert np.isnan(single["q"]) and np.isnan(single["random_hr"])


def test_invalid_input_raises():
    with pytest.raises(ValueError, match="finite"):
        center_heterogeneity(pd.DataFrame({"log_hr": [-0.3, np.nan], "se": [0.2, 0.3]}))
    with pytest.raises(ValueError, match="positive"):
        center_heterogeneity(pd.DataFrame({"log_hr": [-0.3, 0.1], "se": [0.2, 0.0]}))
    with pytest.raises(ValueError, match="needs column"):
        center_heterogeneity(pd.DataFrame({"coef": [-0.3, 0.1], "se": [0.2, 0.3]}))


def test_per_center_hazard_ratios_reproduce_r_coxph_per_center():
    """cox_weighted_stratified.R: coxph(Surv(months, event) ~ treated) on each center's rows.
    R stops at its default convergence (relative log-likelihood change 1e-9), which leaves
    up to 3.3e-10 in these coefficients (ours iterate to machine precision): tolerance 1e-9
    absolute on the log HR, 1e-9 relative on the SE."""
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    expected = pd.read_csv(REFERENCE / "cox_per_center.csv")
    ours = per_center_hazard_ratios(data, "months", "event", "treated")
    assert ours["center"].tolist() == expected["center"].tolist()
    assert ours["n"].tolist() == expected["n"].tolist()
    assert ours["events"].tolist() == expected["events"].tolist()
    np.testing.assert_allclose(ours["log_hr"], expected["coef"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["se"], expected["se"], rtol=1e-9)
    np.testing.assert_allclose(ours["p_value"], expected["p_value"], rtol=1e-6)
    assert (ours["estimation_status"] == "estimated").all()
    # and through the heterogeneity analysis: metafor's result on R's per-center fits
    reference = _sets()["synthetic_centers"]
    row = center_heterogeneity(ours).iloc[0]
    for name in ("q", "tau2", "i2_percent", "tau2_ci_lower", "tau2_ci_upper"):
        assert row[name] == pytest.approx(reference[name], rel=1e-7), name


def test_a_center_without_both_arms_or_events_is_a_not_estimable_row():
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    only_treated = (data["center"] == "center_c") & (data["treated"] == 0)
    data = data[~only_treated].copy()
    data.loc[data["center"] == "center_d", "event"] = 0
    ours = per_center_hazard_ratios(data, "months", "event", "treated").set_index("center")
    assert ours.loc["center_c", "status_reason"] == "empty_arm"
    assert ours.loc["center_d", "status_reason"] == "no_events"
    assert ours.loc[["center_c", "center_d"], "log_hr"].isna().all()
    assert ours.loc["center_a", "estimation_status"] == "estimated"
    assert center_heterogeneity(ours).iloc[0]["k_not_estimable"] == 2
    with pytest.raises(ValueError, match="center has missing values"):
        per_center_hazard_ratios(data.assign(center=None), "months", "event", "treated")

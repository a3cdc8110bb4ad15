"""Survival estimates checked against published R output and independent code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi
from scipy import stats

from rwe_stats.regression import cox_table
from rwe_stats.survival import (
    hazard_ratio,
    kaplan_meier_table,
    logrank,
    median_survival,
    survival_at,
    survival_quantile,
)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    # R's survival::lung as shipped by lifelines (status recoded 1 = death).
    data = load_lung()
    return data.assign(event=data["status"] == 1, group=np.where(data["sex"] == 1, "m", "f"),
                       female=data["sex"] == 2)


def _simulated(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    event_time = rng.exponential(np.where(treated, 8.0, 5.0))
    censor_time = rng.uniform(0, 15, n)
    # round to create tied times, as monthly data have
    duration = np.round(np.minimum(event_time, censor_time), 1)
    return pd.DataFrame({"months": duration, "event": event_time <= censor_time,
                         "treated": treated, "arm": np.where(treated, "ICI", "non-ICI"),
                         "pair": np.arange(n) // 2})


# ---------------------------------------------------------------- Kaplan-Meier


def test_kaplan_meier_matches_lifelines_with_exponential_greenwood_ci():
    """lifelines is an independent implementation; its default CI is R's log-log."""
    data = _simulated(1)
    table = kaplan_meier_table(data, "months", "event", "arm", alpha=0.05)
    for arm, frame in data.groupby("arm"):
        fitter = KaplanMeierFitter(alpha=0.05).fit(frame["months"], frame["event"])
        ours = table[table["group"] == arm].set_index("time_months")
        theirs = fitter.survival_function_.iloc[:, 0]
        ci = fitter.confidence_interval_
        common = ours.index.intersection(theirs.index)
        assert len(common) == len(ours)
        np.testing.assert_allclose(ours.loc[common, "survival"], theirs.loc[common], rtol=1e-12)
        informative = ours.loc[common, "survival"].between(1e-9, 1 - 1e-9)
        idx = common[informative.to_numpy()]
        np.testing.assert_allclose(ours.loc[idx, "ci_lower"], ci.loc[idx].iloc[:, 0], rtol=1e-9)
        np.testing.assert_allclose(ours.loc[idx, "ci_upper"], ci.loc[idx].iloc[:, 1], rtol=1e-9)
        events = fitter.event_table
        np.testing.assert_array_equal(ours.loc[idx, "n_at_risk"], events.loc[idx, "at_risk"])
        np.testing.assert_array_equal(ours.loc[idx, "n_events"], events.loc[idx, "observed"])
        np.testing.assert_array_equal(ours.loc[idx, "n_censored"], events.loc[idx, "censored"])


def test_kaplan_meier_hand_computed_example():
    # times 1,2,2,3+,4 ; S: 0.8, 0.4, 0.4, 0.0 ; Greenwood by hand.
    data = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 1, 0, 1], "g": "a"})
    table = kaplan_meier_table(data, "t", "e", "g").set_index("time_months")
    assert table.loc[0.0, "survival"] == 1.0 and table.loc[0.0, "n_at_risk"] == 5
    np.testing.assert_allclose(table["survival"].to_numpy(), [1, 0.8, 0.4, 0.4, 0.0])
    variance = 1 / (5 * 4) + 2 / (4 * 2)  # sum d / (n (n - d)) up to t = 2
    s, z = 0.4, stats.norm.ppf(0.975)
    # log(-log S) +/- z se / |log S|, mapped back: the larger exponent gives the lower limit
    lower = s ** np.exp(z * np.sqrt(variance) / abs(np.log(s)))
    upper = s ** np.exp(-z * np.sqrt(variance) / abs(np.log(s)))
    assert table.loc[2.0, "ci_lower"] == pytest.approx(lower, rel=1e-12)
    assert table.loc[2.0, "ci_upper"] == pytest.approx(upper, rel=1e-12)
    assert np.isnan(table.loc[4.0, "ci_lower"])  # undefined where S = 0


# --------------------------------------------------------------------- medians


@pytest.mark.parametrize(
    ("times", "events", "expected"),
    [
        # R: survfit(Surv(1:4, rep(1, 4)) ~ 1) has median 2.5 (flat at exactly 0.5).
        ([1, 2, 3, 4], [1, 1, 1, 1], 2.5),
        ([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], 3.0),
        # a flat at exactly 0.5 that runs to the end: midpoint with the last time
        ([1, 2, 3, 4], [1, 1, 0, 0], 2.0 + (4.0 - 2.0) / 2),
        # never reaches 0.5: not reached
        ([1, 2, 3, 4], [1, 0, 0, 0], float("nan")),
    ],
)
def test_median_follows_r_quantile_rule(times, events, expected):
    data = pd.DataFrame({"t": times, "e": events, "g": "a"})
    median = median_survival(data, "t", "e", "g").loc[0, "median_months"]
    if np.isnan(expected):
        assert np.isnan(median)
    else:
        assert median == pytest.approx(expected, abs=1e-12)


def test_quantile_rule_reproduces_published_r_medians_and_cis(lung):
    """R prints for survfit(Surv(time, status) ~ sex, data = lung) with its
    default log CI: sex=1 270 (212, 310), sex=2 426 (348, 550), and overall
    310 (285, 363). Applying our quantile rule to the log-CI band (built here
    from the same Greenwood variance) must give exactly those numbers."""
    z = stats.norm.ppf(0.975)

    def medians(frame):
        fitter = KaplanMeierFitter().fit(frame["time"], frame["event"])
        times = fitter.survival_function_.index.to_numpy()[1:]
        surv = fitter.survival_function_.iloc[1:, 0].to_numpy()
        table = fitter.event_table.iloc[1:]
        d, n = table["observed"].to_numpy(), table["at_risk"].to_numpy()
        se = np.sqrt(np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0)))
        lower, upper = surv * np.exp(-z * se), np.minimum(surv * np.exp(z * se), 1.0)
        return [survival_quantile(times, curve) for curve in (surv, lower, upper)]

    assert medians(lung) == [310, 285, 363]
    assert medians(lung[lung["sex"] == 1]) == [270, 212, 310]
    assert medians(lung[lung["sex"] == 2]) == [426, 348, 550]


def test_median_ci_is_where_the_log_log_band_crosses_half():
    data = _simulated(2)
    result = median_survival(data, "months", "event", "arm").set_index("group")
    table = kaplan_meier_table(data, "months", "event", "arm")
    for arm in ("ICI", "non-ICI"):
        curve = table[(table["group"] == arm) & (table["time_months"] > 0)]
        first_below = curve.loc[curve["ci_lower"] <= 0.5, "time_months"].min()
        assert result.loc[arm, "median_ci_lower"] == pytest.approx(first_below)
        assert result.loc[arm, "median_ci_lower"] <= result.loc[arm, "median_months"]
        assert result.loc[arm, "median_months"] <= result.loc[arm, "median_ci_upper"]


def test_landmark_survival_reads_the_step_function():
    data = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 1, 0, 1], "g": "a"})
    result = survival_at(data, "t", "e", "g", times=[0.5, 2.0, 2.5, 10.0]).set_index(
        "time_months")
    assert result.loc[0.5, "survival"] == 1.0
    assert result.loc[2.0, "survival"] == pytest.approx(0.4)
    assert result.loc[2.5, "survival"] == pytest.approx(0.4)
    assert np.isnan(result.loc[10.0, "survival"])


# -------------------------------------------------------------------- log-rank


def _logrank_by_hand(frame: pd.DataFrame) -> float:
    times = np.sort(frame.loc[frame["event"], "months"].unique())
    observed_minus_expected, variance = 0.0, 0.0
    for time in times:
        at_risk = frame[frame["months"] >= time]
        n, n1 = len(at_risk), int(at_risk["treated"].sum())
        d = int(((at_risk["months"] == time) & at_risk["event"]).sum())
        d1 = int(((at_risk["months"] == time) & at_risk["event"] & at_risk["treated"]).sum())
        observed_minus_expected += d1 - d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return observed_minus_expected**2 / variance


def test_logrank_matches_an_independent_computation():
    data = _simulated(3)
    result = logrank(data, "months", "event", "arm").iloc[0]
    assert result["chi_square"] == pytest.approx(_logrank_by_hand(data), rel=1e-10)
    assert result["p_value"] == pytest.approx(stats.chi2.sf(result["chi_square"], 1), rel=1e-10)


def test_logrank_matches_published_r_survdiff(lung):
    # survdiff(Surv(time, status) ~ sex, data = lung): Chisq = 10.3, p = 0.00131
    result = logrank(lung, "time", "event", "group").iloc[0]
    assert round(result["chi_square"], 1) == 10.3
    assert round(result["p_value"], 5) == 0.00131


# ------------------------------------------------------------------------- Cox


def test_cox_matches_published_r_coxph_lung_sex(lung):
    # coxph(Surv(time, status) ~ sex, data = lung): coef -0.5310, se 0.1672,
    # exp(coef) 0.588 (0.4237, 0.816), p 0.00149 (sex coded 1/2: one unit = female)
    result = hazard_ratio(lung, "time", "event", "female").iloc[0]
    assert np.log(result["hr"]) == pytest.approx(-0.5310, abs=5e-5)
    assert result["ci_lower"] == pytest.approx(0.4237, abs=5e-5)
    assert result["ci_upper"] == pytest.approx(0.816, abs=5e-4)
    assert result["p_value"] == pytest.approx(0.00149, abs=5e-6)
    assert result["ties_method"] == "efron"


def test_multivariate_cox_matches_published_rossi_coefficients():
    # Fox & Weisberg, Cox regression appendix: coxph(Surv(week, arrest) ~ fin +
    # age + race + wexp + mar + paro + prio, data = Rossi), Efron ties.
    published = {"fin": -0.37942, "age": -0.05744, "race": 0.31390, "wexp": -0.14980,
                 "mar": -0.43370, "paro": -0.08487, "prio": 0.09150}
    rossi = load_rossi().assign(arrest=lambda frame: frame["arrest"] == 1)
    table = cox_table(rossi, "week", "arrest", list(published), "multivariate").set_index("term")
    for term, coefficient in published.items():
        assert np.log(table.loc[term, "hr"]) == pytest.approx(coefficient, abs=5e-5), term
    assert (table["n"] == 432).all() and (table["events"] == 114).all()


def test_cox_matches_statsmodels_phreg_efron():
    """statsmodels' PHReg is an independent Efron-ties implementation."""
    sm = pytest.importorskip("statsmodels.api")
    data = _simulated(4)
    data["age"] = np.random.default_rng(5).normal(60, 8, len(data))
    table = cox_table(data, "months", "event", ["treated", "age"], "multivariate").set_index(
        "term")
    fit = sm.PHReg(data["months"], data[["treated", "age"]].astype(float),
                   status=data["event"].astype(int), ties="efron").fit()
    np.testing.assert_allclose(np.log(table["hr"].to_numpy()), fit.params, rtol=1e-6)
    np.testing.assert_allclose(table["p_value"].to_numpy(), fit.pvalues, rtol=1e-4)


def _clustered_sandwich_se(times, events, x, beta, clusters) -> float:
    """Lin-Wei robust SE of a one-covariate Cox model, by hand (no tied times:
    Efron and Breslow coincide): score residuals summed within clusters."""
    weights = np.exp(beta * x)
    information, residuals = 0.0, np.zeros(len(times))
    for i in np.nonzero(events)[0]:
        at_risk = times >= times[i]
        s0 = weights[at_risk].sum()
        x_bar = (weights[at_risk] * x[at_risk]).sum() / s0
        information += (weights[at_risk] * x[at_risk] ** 2).sum() / s0 - x_bar**2
        residuals[i] += x[i] - x_bar
        residuals[at_risk] -= weights[at_risk] * (x[at_risk] - x_bar) / s0
    per_cluster = pd.Series(residuals).groupby(clusters).sum().to_numpy()
    return float(np.sqrt((per_cluster**2).sum()) / information)


def test_clustered_robust_variance_matches_a_hand_computed_sandwich():
    rng = np.random.default_rng(6)
    treated = rng.random(300) < 0.5
    event_time, censor_time = rng.exponential(np.where(treated, 8.0, 5.0)), rng.uniform(0, 15, 300)
    data = pd.DataFrame({"months": np.minimum(event_time, censor_time),
                         "event": event_time <= censor_time, "treated": treated,
                         "pair": np.arange(300) // 2})
    assert data["months"].is_unique
    result = hazard_ratio(data, "months", "event", "treated", cluster_col="pair").iloc[0]
    beta = np.log(result["hr"])
    se = _clustered_sandwich_se(data["months"].to_numpy(), data["event"].to_numpy(),
                                treated.astype(float), beta, data["pair"].to_numpy())
    z = stats.norm.ppf(0.975)
    assert result["ci_lower"] == pytest.approx(np.exp(beta - z * se), rel=1e-8)
    assert result["ci_upper"] == pytest.approx(np.exp(beta + z * se), rel=1e-8)
    assert result["p_value"] == pytest.approx(2 * stats.norm.sf(abs(beta / se)), rel=1e-6)
    assert result["variance_method"].startswith("robust sandwich")


def test_univariate_models_fit_one_term_each():
    data = _simulated(7)
    data["age"] = np.random.default_rng(8).normal(60, 8, len(data))
    univariate = cox_table(data, "months", "event", ["treated", "age"], "univariate")
    alone = cox_table(data, "months", "event", ["age"], "multivariate")
    assert univariate.set_index("term").loc["age", "hr"] == pytest.approx(alone.loc[0, "hr"])
    assert univariate["ph_test_p_value"].between(0, 1).all()

"""rwe_stats.survival: Kaplan-Meier, medians, landmarks, log-rank and hazard ratios.

Every estimate is checked against R's published output (sources in
tests/python/reference/README.md) and against independent code written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from independent_cox import efron_score_residuals_by_hand
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung
from scipy import stats

from rwe_stats.regression import survival_times
from rwe_stats.survival import (
    CI_METHODS,
    hazard_ratio,
    kaplan_meier_table,
    logrank,
    median_survival,
    survival_at,
    survival_quantile,
)

Z95 = stats.norm.ppf(0.975)
REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    """R's survival::lung as shipped by lifelines (status 1 = death there)."""
    data = load_lung()
    assert len(data) == 228 and int(data["status"].sum()) == 165
    return data.assign(death=data["status"] == 1, female=data["sex"] == 2)


def _simulated(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    event_time = rng.exponential(np.where(treated, 8.0, 5.0))
    censor_time = rng.uniform(0, 15, n)
    # rounded up to 0.1 month: many tied times, as in real data, none at 0
    return pd.DataFrame({"months": np.ceil(np.minimum(event_time, censor_time) * 10) / 10,
                         "event": event_time <= censor_time, "treated": treated,
                         "arm": np.where(treated, "ICI", "non-ICI"),
                         "pair": np.arange(n) // 2})


def _printed(value: float, text: str) -> bool:
    """True when ``value`` prints as R printed ``text`` (same number of decimals)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(value, decimals) == pytest.approx(float(text), abs=10 ** -(decimals + 3))


# ------------------------------------------------------------------ Kaplan-Meier


def _km_by_hand(times: np.ndarray, events: np.ndarray) -> pd.DataFrame:
    """Independent product-limit + Greenwood + log-log interval, one loop per time."""
    rows, survival, greenwood = [], 1.0, 0.0
    for time in np.unique(times):
        n = int((times >= time).sum())
        d = int(((times == time) & events).sum())
        survival *= 1 - d / n
        greenwood += d / (n * (n - d)) if d < n else np.inf
        if 0 < survival < 1:
            se = np.sqrt(greenwood)
            # log(-log S) +/- z se / |log S|, back-transformed (larger exponent -> lower limit)
            lower = survival ** np.exp(Z95 * se / abs(np.log(survival)))
            upper = survival ** np.exp(-Z95 * se / abs(np.log(survival)))
        elif survival == 1:
            lower = upper = 1.0
        else:
            lower = upper = np.nan
        rows.append((time, n, d, survival, lower, upper))
    return pd.DataFrame(rows, columns=["time", "n", "d", "s", "lower", "upper"])


def test_kaplan_meier_equals_an_independent_loop_implementation():
    data = _simulated(1)
    table = kaplan_meier_table(data, "months", "event", "arm")
    assert list(table.columns) == ["group", "time_months", "n_at_risk", "n_events",
                                   "n_censored", "survival", "ci_lower", "ci_upper", "ci_method"]
    for arm, frame in data.groupby("arm"):
        ours = table[table["group"] == arm]
        assert ours.iloc[0][["time_months", "survival", "ci_lower", "ci_upper"]].tolist() == [
            0.0, 1.0, 1.0, 1.0]
        assert ours.iloc[0]["n_at_risk"] == len(frame)
        ours = ours.iloc[1:]
        expected = _km_by_hand(frame["months"].to_numpy(), frame["event"].to_numpy())
        np.testing.assert_array_equal(ours["time_months"], expected["time"])
        np.testing.assert_array_equal(ours["n_at_risk"], expected["n"])
        np.testing.assert_array_equal(ours["n_events"], expected["d"])
        np.testing.assert_allclose(ours["survival"], expected["s"], rtol=1e-12)
        np.testing.assert_allclose(ours["ci_lower"], expected["lower"], rtol=1e-10)
        np.testing.assert_allclose(ours["ci_upper"], expected["upper"], rtol=1e-10)
        counts = frame.groupby("months").size().to_numpy()
        np.testing.assert_array_equal(ours["n_censored"], counts - expected["d"].to_numpy())
    assert set(table["ci_method"]) == {CI_METHODS["log-log"]}


def test_kaplan_meier_log_log_interval_equals_lifelines_exponential_greenwood():
    """lifelines is a second independent implementation of the same interval."""
    data = _simulated(2)
    table = kaplan_meier_table(data, "months", "event", "arm")
    for arm, frame in data.groupby("arm"):
        fitter = KaplanMeierFitter(alpha=0.05).fit(frame["months"], frame["event"])
        ours = table[table["group"] == arm].set_index("time_months")
        inside = ours["survival"].between(1e-12, 1 - 1e-12)
        idx = ours.index[inside.to_numpy()]
        np.testing.assert_allclose(ours.loc[idx, "survival"],
                                   fitter.survival_function_.loc[idx].iloc[:, 0], rtol=1e-12)
        np.testing.assert_allclose(ours.loc[idx, "ci_lower"],
                                   fitter.confidence_interval_.loc[idx].iloc[:, 0], rtol=1e-9)
        np.testing.assert_allclose(ours.loc[idx, "ci_upper"],
                                   fitter.confidence_interval_.loc[idx].iloc[:, 1], rtol=1e-9)


def test_kaplan_meier_hand_computed_example():
    # times 1, 2, 2, 3+, 4: S = 0.8, 0.4, 0.4, 0; Greenwood up to t = 2 by hand
    data = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 1, 0, 1], "g": "a"})
    table = kaplan_meier_table(data, "t", "e", "g").set_index("time_months")
    np.testing.assert_allclose(table["survival"].to_numpy(), [1, 0.8, 0.4, 0.4, 0.0])
    np.testing.assert_array_equal(table["n_at_risk"].to_numpy(), [5, 5, 4, 2, 1])
    variance = 1 / (5 * 4) + 2 / (4 * 2)
    log_s = np.log(0.4)
    assert table.loc[2.0, "ci_lower"] == pytest.approx(
        np.exp(-np.exp(np.log(-log_s) - Z95 * np.sqrt(variance) / log_s)), rel=1e-12)
    assert table.loc[2.0, "ci_upper"] == pytest.approx(
        np.exp(-np.exp(np.log(-log_s) + Z95 * np.sqrt(variance) / log_s)), rel=1e-12)
    assert np.isnan(table.loc[4.0, "ci_lower"]) and np.isnan(table.loc[4.0, "ci_upper"])


def test_kaplan_meier_with_events_at_time_zero_starts_below_one():
    data = pd.DataFrame({"t": [0, 0, 1, 2], "e": [1, 0, 1, 0], "g": "a"})
    table = kaplan_meier_table(data, "t", "e", "g")
    assert table["time_months"].tolist() == [0.0, 1.0, 2.0]
    assert table["survival"].iloc[0] == pytest.approx(0.75)
    assert table["n_at_risk"].iloc[0] == 4


# R survival's published regression output, tests/cancer.Rout.save:
# summary(survfit(Surv(time, status) ~ ph.ecog, lung), times = c(30 * 1:11, 365 * 1:3))
# (conf.type "log", R's default). Columns: time, n.risk, survival, lower, upper.
R_LUNG_ECOG_SUMMARY = {
    0: [(30, "0.952", "0.9012", "1.000"), (180, "0.841", "0.7553", "0.936"),
        (365, "0.535", "0.4100", "0.699"), (730, "0.193", "0.0943", "0.396")],
    1: [(30, "0.982", "0.9583", "1.000"), (210, "0.666", "0.5831", "0.760"),
        (365, "0.431", "0.3417", "0.543"), (730, "0.114", "0.0582", "0.222")],
    2: [(30, "0.9000", "0.82057", "0.987"), (270, "0.3766", "0.26100", "0.543"),
        (730, "0.0371", "0.00601", "0.229")],
    3: [(30, "1", "1", "1"), (90, "1", "1", "1")],
}


def test_landmark_survival_reproduces_r_summary_survfit(lung):
    data = lung.dropna(subset=["ph.ecog"])
    times = sorted({time for rows in R_LUNG_ECOG_SUMMARY.values() for time, *_ in rows})
    result = survival_at(data, "time", "death", "ph.ecog", times=times, conf_type="log")
    result = result.set_index(["group", "time_months"])
    for ecog, rows in R_LUNG_ECOG_SUMMARY.items():
        for time, survival, lower, upper in rows:
            got = result.loc[(float(ecog), float(time))]
            assert _printed(got["survival"], survival), (ecog, time, got["survival"])
            assert _printed(got["ci_lower"], lower), (ecog, time, got["ci_lower"])
            assert _printed(got["ci_upper"], upper), (ecog, time, got["ci_upper"])


def test_landmark_survival_reads_the_right_continuous_step_function():
    data = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 1, 0, 0], "g": "a"})
    result = survival_at(data, "t", "e", "g", times=[0.5, 2.0, 2.5, 4.0, 10.0])
    result = result.set_index("time_months")
    assert result.loc[0.5, ["survival", "ci_lower", "ci_upper"]].tolist() == [1.0, 1.0, 1.0]
    assert result.loc[2.0, "survival"] == pytest.approx(0.4)  # events at 2 included
    assert result.loc[2.5, "survival"] == pytest.approx(0.4)
    assert result.loc[4.0, "survival"] == pytest.approx(0.4)  # last time: still estimable
    assert np.isnan(result.loc[10.0, "survival"])  # beyond follow-up: not estimable
    table = kaplan_meier_table(data, "t", "e", "g").set_index("time_months")
    assert result.loc[2.5, "ci_lower"] == table.loc[2.0, "ci_lower"]


# ----------------------------------------------------------------------- medians

# R survival's published output: print(survfit(Surv(time, status) ~ ph.ecog, lung))
# in tests/Examples/survival-Ex.Rout.save; ~ sex and ~ 1 printed in many R tutorials
# (e.g. Zabor's survival tutorial; the same numbers as R's example). conf.type "log".
R_LUNG_MEDIANS = {
    ("ph.ecog", 0.0): (63, 37, 394, 348, 574),
    ("ph.ecog", 1.0): (113, 82, 306, 268, 429),
    ("ph.ecog", 2.0): (50, 44, 199, 156, 288),
    ("ph.ecog", 3.0): (1, 1, 118, np.nan, np.nan),
    ("sex", 1): (138, 112, 270, 212, 310),
    ("sex", 2): (90, 53, 426, 348, 550),
    ("all", 1): (228, 165, 310, 285, 363),
}


def test_median_and_its_interval_reproduce_r_print_survfit(lung):
    data = lung.dropna(subset=["ph.ecog"]).assign(all=1)
    for column in ("ph.ecog", "sex", "all"):
        frame = lung.assign(all=1) if column != "ph.ecog" else data
        result = median_survival(frame, "time", "death", column, conf_type="log")
        for _, row in result.iterrows():
            expected = R_LUNG_MEDIANS[(column, row["group"])]
            got = (row["n"], row["events"], row["median_months"], row["median_ci_lower"],
                   row["median_ci_upper"])
            np.testing.assert_array_equal(np.asarray(got, dtype=float),
                                          np.asarray(expected, dtype=float))


# R survival's own test of quantile.survfit (tests/quantile.R / quantile.Rout.save):
# data time = c(9, 3, 1, 1, 6, 6, 8, 10), status = c(1, NA, 1, 0, 1, 1, 0, 0),
# x = c(0, 2, 1, 1, 1, 0, 0, 0); the NA row is dropped. Quantiles at 1 - qq with
# qq = c(13/14, 6/7, 2/3, .5, 9/35, .1) hit flats of the curve exactly.
R_QUANTILE_DATA = pd.DataFrame({"time": [9, 1, 1, 6, 6, 8, 10], "status": [1, 1, 0, 1, 1, 0, 0],
                                "x": [0, 1, 1, 1, 0, 0, 0]})
R_QQ = [13 / 14, 6 / 7, 2 / 3, 0.5, 9 / 35, 0.1]
R_QUANTILES = {  # group -> (quantile, lower) ; upper is NA everywhere in R's test
    "all": ([1, 3.5, 6, 9, 9.5, np.nan], [1, 1, 1, 6, 6, 9]),
    0: ([6, 6, 9, 9, np.nan, np.nan], [6, 6, 6, 6, 9, 9]),
    1: ([1, 1, 3.5, 6, 6, 6], [1, 1, 1, 1, np.nan, np.nan]),
}


@pytest.mark.parametrize("group", ["all", 0, 1])
def test_quantile_rule_reproduces_r_quantile_survfit_test_cases(group):
    data = R_QUANTILE_DATA.assign(all="all")
    column = "all" if group == "all" else "x"
    table = kaplan_meier_table(data, "time", "status", column, conf_type="log")
    curve = table[table["group"] == group]
    curve = curve[curve["time_months"] > 0]
    quantile, lower = R_QUANTILES[group]
    for q, expected_q, expected_lower in zip(R_QQ, quantile, lower, strict=True):
        args = (curve["time_months"].to_numpy(),)
        got_q = survival_quantile(*args, curve["survival"].to_numpy(), 1 - q)
        got_lower = survival_quantile(*args, curve["ci_lower"].to_numpy(), 1 - q)
        got_upper = survival_quantile(*args, curve["ci_upper"].to_numpy(), 1 - q)
        np.testing.assert_equal(got_q, expected_q)
        np.testing.assert_equal(got_lower, expected_lower)
        assert np.isnan(got_upper)


@pytest.mark.parametrize(
    ("times", "events", "expected"),
    [
        # S = 0.75, 0.5, 0.25, 0: flat at exactly 0.5 from 2 to 3 -> midpoint 2.5
        ([1, 2, 3, 4], [1, 1, 1, 1], 2.5),
        ([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], 3.0),
        # S = 0.75, 0.5, 0.5 (censored), 0.5: flat at 0.5 to the last time -> (2 + 4) / 2
        ([1, 2, 3, 4], [1, 1, 0, 0], 3.0),
        # S never reaches 0.5: not reached
        ([1, 2, 3, 4], [1, 0, 0, 0], np.nan),
        # S = 5/6, 4/6 (censor at 3 keeps it), then 2/3 * 2/3 = 4/9 at t = 4
        ([1, 2, 3, 4, 4, 5], [1, 1, 0, 1, 0, 0], 4.0),
    ],
)
def test_median_follows_r_rule_on_hand_computed_curves(times, events, expected):
    data = pd.DataFrame({"t": times, "e": events, "g": "a"})
    np.testing.assert_equal(median_survival(data, "t", "e", "g").loc[0, "median_months"],
                            expected)


def test_quantile_rule_on_a_band_with_an_exact_half_plateau_and_a_bump():
    times = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # band at exactly 0.5 from t = 2 (repeated at 3: a censoring) until the drop at 4
    assert survival_quantile(times, [0.8, 0.5, 0.5, 0.3, 0.2]) == 3.0
    # within R's tolerance (sqrt(eps)) of 0.5 counts as exactly 0.5
    assert survival_quantile(times, [0.8, 0.5 + 1e-10, 0.5 + 1e-10, 0.3, 0.2]) == 3.0
    # a confidence band need not be monotone. R's approx() sorts the CDF values, so the
    # quantile is the time of the smallest CDF value >= p (0.55 at t = 3), not the first
    # time the band crosses 0.5 (t = 2)
    assert survival_quantile(times[:4], [0.9, 0.4, 0.45, 0.3]) == 3.0
    # undefined (NaN) band values are skipped, as R's approx() drops NA points
    assert survival_quantile(times, [np.nan, 0.7, 0.4, np.nan, np.nan]) == 3.0
    assert np.isnan(survival_quantile(times, [np.nan] * 5))


def test_median_interval_is_where_the_log_log_band_crosses_half():
    data = _simulated(3)
    result = median_survival(data, "months", "event", "arm").set_index("group")
    table = kaplan_meier_table(data, "months", "event", "arm")
    for arm in ("ICI", "non-ICI"):
        curve = table[(table["group"] == arm) & (table["time_months"] > 0)]
        # no flat at exactly 0.5 here, so each limit is the first crossing of 0.5
        assert result.loc[arm, "median_ci_lower"] == curve.loc[curve["ci_lower"] <= 0.5,
                                                               "time_months"].min()
        assert result.loc[arm, "median_months"] == curve.loc[curve["survival"] <= 0.5,
                                                             "time_months"].min()
        upper = curve.loc[curve["ci_upper"] <= 0.5, "time_months"]
        np.testing.assert_equal(result.loc[arm, "median_ci_upper"],
                                upper.min() if len(upper) else np.nan)
        assert result.loc[arm, "n"] == (data["arm"] == arm).sum()


# ---------------------------------------------------------------------- log-rank


def _logrank_by_hand(durations, events, labels) -> float:
    """Independent k-group log-rank (survdiff, rho = 0), one loop per event time."""
    groups = sorted(set(labels))
    observed_minus_expected = np.zeros(len(groups))
    variance = np.zeros((len(groups), len(groups)))
    for time in np.unique(durations[events]):
        at_risk = durations >= time
        n = at_risk.sum()
        d = ((durations == time) & events).sum()
        for a, ga in enumerate(groups):
            n_a = (at_risk & (labels == ga)).sum()
            observed_minus_expected[a] += ((durations == time) & events
                                           & (labels == ga)).sum() - d * n_a / n
            for b, gb in enumerate(groups):
                n_b = (at_risk & (labels == gb)).sum()
                if n > 1:
                    variance[a, b] += d * (n - d) / (n - 1) * n_a / n * ((a == b) - n_b / n)
    k = len(groups) - 1
    return float(observed_minus_expected[:k] @ np.linalg.solve(variance[:k, :k],
                                                                observed_minus_expected[:k]))


def test_logrank_matches_an_independent_computation_two_and_three_groups():
    data = _simulated(4)
    result = logrank(data, "months", "event", "arm").iloc[0]
    expected = _logrank_by_hand(data["months"].to_numpy(), data["event"].to_numpy(),
                                data["arm"].to_numpy())
    assert result["chi_square"] == pytest.approx(expected, rel=1e-10)
    assert result["df"] == 1
    assert result["p_value"] == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-10)
    three = data.assign(site=np.arange(len(data)) % 3)
    result = logrank(three, "months", "event", "site").iloc[0]
    expected = _logrank_by_hand(three["months"].to_numpy(), three["event"].to_numpy(),
                                three["site"].to_numpy())
    assert result["chi_square"] == pytest.approx(expected, rel=1e-10)
    assert result["df"] == 2


def test_logrank_reproduces_published_r_survdiff(lung):
    # survdiff(Surv(time, status) ~ sex, lung): (O-E)^2/V = 10.3267, p = 0.00131116
    # (printed with more digits in "Machine Learning with R Cookbook", 2nd ed., Packt,
    # "Using the log-rank test"; Chisq = 10.3 in every R tutorial)
    result = logrank(lung, "time", "death", "sex").iloc[0]
    assert result["chi_square"] == pytest.approx(10.3267, abs=5e-5)
    assert result["p_value"] == pytest.approx(0.00131116, abs=5e-9)


# --------------------------------------------------------------- hazard ratios


def test_hazard_ratio_reproduces_published_r_coxph(lung):
    # summary(coxph(Surv(time, status) ~ sex, lung)): coef -0.5310, se 0.1672,
    # exp(coef) 0.5880, 95% 0.4237-0.816, p 0.00149 (sex 1/2: one unit = female)
    result = hazard_ratio(lung, "time", "death", "female").iloc[0]
    assert np.log(result["hr"]) == pytest.approx(-0.5310, abs=5e-5)
    assert result["hr"] == pytest.approx(0.5880, abs=5e-5)
    assert result["ci_lower"] == pytest.approx(0.4237, abs=5e-5)
    assert result["ci_upper"] == pytest.approx(0.816, abs=5e-4)
    assert result["p_value"] == pytest.approx(0.00149, abs=5e-6)
    assert result["ties_method"] == "efron"
    assert result["variance_method"].startswith("model-based")


def test_robust_variance_with_ties_equals_an_independent_efron_sandwich():
    data = _simulated(5, n=240)
    data["pair"] = np.arange(len(data)) // 2
    assert data["months"].duplicated().sum() > 50  # plenty of tied times
    result = hazard_ratio(data, "months", "event", "treated", cluster_col="pair").iloc[0]
    model = hazard_ratio(data, "months", "event", "treated").iloc[0]
    beta = np.log(result["hr"])
    assert beta == pytest.approx(np.log(model["hr"]), rel=1e-12)
    x = data["treated"].to_numpy(dtype=float)
    times, events = data["months"].to_numpy(), data["event"].to_numpy()
    model_se = (np.log(model["ci_upper"]) - beta) / Z95
    dfbeta = efron_score_residuals_by_hand(times, events, x[:, None],
                                           np.array([beta]))[:, 0] * model_se**2
    robust_se = np.sqrt((pd.Series(dfbeta).groupby(data["pair"]).sum() ** 2).sum())
    assert result["ci_lower"] == pytest.approx(np.exp(beta - Z95 * robust_se), rel=1e-9)
    assert result["ci_upper"] == pytest.approx(np.exp(beta + Z95 * robust_se), rel=1e-9)
    assert result["p_value"] == pytest.approx(2 * stats.norm.sf(abs(beta / robust_se)),
                                              rel=1e-8)
    assert result["variance_method"].startswith("robust sandwich clustered on pair")


def test_robust_variance_without_ties_equals_statsmodels_clustered_phreg():
    """statsmodels' PHReg(groups=...) is an independent sandwich (valid without ties)."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(6)
    treated = rng.random(300) < 0.5
    event_time, censor_time = rng.exponential(np.where(treated, 8.0, 5.0)), rng.uniform(0, 15, 300)
    data = pd.DataFrame({"months": np.minimum(event_time, censor_time),
                         "event": event_time <= censor_time, "treated": treated,
                         "pair": np.arange(300) // 2})
    assert data["months"].is_unique
    result = hazard_ratio(data, "months", "event", "treated", cluster_col="pair").iloc[0]
    fit = sm.PHReg(data["months"], data[["treated"]].astype(float),
                   status=data["event"].astype(int), ties="breslow").fit(groups=data["pair"])
    assert np.log(result["hr"]) == pytest.approx(fit.params[0], rel=1e-7)
    robust_se = (np.log(result["ci_upper"]) - np.log(result["hr"])) / Z95
    assert robust_se == pytest.approx(fit.bse[0], rel=1e-6)


def test_weighted_and_stratified_hazard_ratios_reproduce_r_coxph():
    """tests/python/reference/cox_weights_strata.R: coxph(Surv(months, event) ~ treated,
    weights = ipw) (robust, R's default with non-integer weights) and, through
    cox_table's test, the stratified and clustered models."""
    reference = pd.read_csv(REFERENCE / "cox_weights_strata.csv").query(
        "model == 'weighted_univariate'").set_index("quantity")["value"]
    data = pd.read_csv(REFERENCE / "cox_weights_strata_data.csv")
    result = hazard_ratio(data, "months", "event", "treated", weights_col="ipw").iloc[0]
    beta, se = reference["coefficients"], np.sqrt(reference["variance"])
    assert np.log(result["hr"]) == pytest.approx(beta, rel=1e-9)
    assert result["ci_upper"] == pytest.approx(np.exp(beta + Z95 * se), rel=1e-9)
    assert result["variance_method"] == ("robust sandwich (one cluster per row), case weights "
                                         "ipw (Lin-Wei; R coxph(..., weights = , robust = TRUE))")
    stratified = hazard_ratio(data, "months", "event", "treated", strata_col="center").iloc[0]
    assert stratified["strata"] == "center (separate baseline hazards; R + strata(center))"
    assert "strata" not in hazard_ratio(data, "months", "event", "treated").columns


def test_curves_and_tests_given_the_rows_sorted_by_group_equal_those_that_sort_themselves():
    data = _simulated(9)
    by_arm = survival_times(data, "months", "event", strata_col="arm")
    calls = {
        kaplan_meier_table: (), median_survival: (), survival_at: ([3.0, 6.0],), logrank: ()}
    for function, extra in calls.items():
        given = function(data, "months", "event", "arm", *extra, times_by_group=by_arm)
        pd.testing.assert_frame_equal(given, function(data, "months", "event", "arm", *extra),
                                      check_exact=True)
    unsorted_by_arm = survival_times(data, "months", "event")
    with pytest.raises(ValueError, match="times was built from other rows"):
        median_survival(data, "months", "event", "arm", times_by_group=unsorted_by_arm)


def test_hazard_ratio_rejects_a_single_arm_and_missing_values():
    data = _simulated(7)
    with pytest.raises(ValueError, match="both treated and untreated"):
        hazard_ratio(data.assign(treated=True), "months", "event", "treated")
    broken = data.copy()
    broken.loc[3, "months"] = np.nan
    with pytest.raises(ValueError, match="months has missing"):
        hazard_ratio(broken, "months", "event", "treated")
    with pytest.raises(ValueError, match="pair has missing"):
        hazard_ratio(data.assign(pair=np.where(data.index == 0, np.nan, data["pair"])),
                     "months", "event", "treated", cluster_col="pair")


def test_inputs_are_validated_with_named_columns():
    data = _simulated(8)
    with pytest.raises(ValueError, match="missing_col"):
        kaplan_meier_table(data, "missing_col", "event", "arm")
    with pytest.raises(ValueError, match="event must be boolean"):
        kaplan_meier_table(data.assign(event="yes"), "months", "event", "arm")
    with pytest.raises(ValueError, match="negative"):
        median_survival(data.assign(months=-1.0), "months", "event", "arm")
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier_table(data, "months", "event", "arm", conf_type="logit")
    with pytest.raises(ValueError, match="two groups"):
        logrank(data.assign(arm="ICI"), "months", "event", "arm")

"""rwe_stats.regression.cox_table: Cox coefficients and the cox.zph proportional-hazards test.

Checked against R's published coxph output, Therneau & Grambsch's closed-form
Efron results (the tests of R's survival package), statsmodels' independent
Cox implementation and an independent counting-process score test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from independent_cox import efron_score_residuals_by_hand
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi
from lifelines.exceptions import ConvergenceWarning
from scipy import stats

from rwe_stats import _cox, _zph
from rwe_stats.regression import COLUMNS, SurvivalTimes, cox_table, survival_times

sm = pytest.importorskip("statsmodels.api")
Z95 = stats.norm.ppf(0.975)
REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    data = load_lung()  # R survival::lung; status 1 = death in lifelines' copy
    return data.assign(death=data["status"] == 1)


def _log_hr(table: pd.DataFrame, term: str) -> float:
    return float(np.log(table.set_index("term").loc[term, "hr"]))


def _se(table: pd.DataFrame, term: str) -> float:
    row = table.set_index("term").loc[term]
    return float((np.log(row["ci_upper"]) - np.log(row["hr"])) / Z95)


def test_multivariate_cox_reproduces_r_summary_coxph(lung):
    # R survival, tests/Examples/survival-Ex.Rout.save (example of summary.coxph):
    # coxph(Surv(time, status) ~ age + sex, lung):
    #   age  0.017045 (se 0.009223) p 0.06459, 95% 0.9990-1.0357
    #   sex -0.513219 (se 0.167458) p 0.00218, 95% 0.4311-0.8311
    table = cox_table(lung, "time", "death", ["age", "sex"], "multivariate")
    assert list(table.columns) == COLUMNS
    assert _log_hr(table, "age") == pytest.approx(0.017045, abs=5e-7)
    assert _se(table, "age") == pytest.approx(0.009223, abs=5e-7)
    assert _log_hr(table, "sex") == pytest.approx(-0.513219, abs=5e-7)
    assert _se(table, "sex") == pytest.approx(0.167458, abs=5e-7)
    rows = table.set_index("term")
    assert rows.loc["age", "p_value"] == pytest.approx(0.06459, abs=5e-6)
    assert rows.loc["sex", "p_value"] == pytest.approx(0.00218, abs=5e-6)
    assert rows.loc["age", ["ci_lower", "ci_upper"]].tolist() == pytest.approx([0.9990, 1.0357],
                                                                              abs=5e-5)
    assert rows.loc["sex", ["ci_lower", "ci_upper"]].tolist() == pytest.approx([0.4311, 0.8311],
                                                                              abs=5e-5)
    assert (table["n"] == 228).all() and (table["events"] == 165).all()
    assert (table["ties_method"] == "efron").all()


def test_cox_reproduces_r_fit_with_ecog_after_dropping_the_missing_row(lung):
    # R survival, tests/Examples/survival-Ex.Rout.save (pspline example, fit0):
    # coxph(Surv(time, status) ~ ph.ecog + age, lung), n = 227, 164 events:
    #   ph.ecog 0.443485 (se 0.115831), age 0.011281 (se 0.009319)
    data = lung.dropna(subset=["ph.ecog"])
    table = cox_table(data, "time", "death", ["ph.ecog", "age"], "multivariate")
    assert _log_hr(table, "ph.ecog") == pytest.approx(0.443485, abs=5e-7)
    assert _se(table, "ph.ecog") == pytest.approx(0.115831, abs=5e-7)
    assert _log_hr(table, "age") == pytest.approx(0.011281, abs=5e-7)
    assert _se(table, "age") == pytest.approx(0.009319, abs=5e-7)
    assert (table["n"] == 227).all() and (table["events"] == 164).all()


def test_rossi_financial_aid_coefficient_matches_published_r():
    # Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R"
    # (appendix to An R Companion to Applied Regression): coxph(Surv(week, arrest) ~
    # fin + age + race + wexp + mar + paro + prio, Rossi): fin coef -0.37942,
    # se 0.19138, p 0.04742, exp(coef) 95% CI 0.4702-0.9957.
    rossi = load_rossi()
    terms = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    table = cox_table(rossi, "week", "arrest", terms, "multivariate")
    assert _log_hr(table, "fin") == pytest.approx(-0.37942, abs=5e-6)
    assert _se(table, "fin") == pytest.approx(0.19138, abs=5e-6)
    fin = table.set_index("term").loc["fin"]
    assert fin["p_value"] == pytest.approx(0.04742, abs=5e-6)
    assert [fin["ci_lower"], fin["ci_upper"]] == pytest.approx([0.4702, 0.9957], abs=5e-5)
    assert (table["n"] == 432).all() and (table["events"] == 114).all()


def test_cox_coefficients_and_standard_errors_equal_statsmodels_phreg_efron():
    """statsmodels' PHReg is an independent Efron-ties implementation."""
    rossi = load_rossi()
    terms = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    table = cox_table(rossi, "week", "arrest", terms, "multivariate")
    fit = sm.PHReg(rossi["week"], rossi[terms].astype(float), status=rossi["arrest"],
                   ties="efron").fit()
    np.testing.assert_allclose([_log_hr(table, t) for t in terms], fit.params, rtol=1e-6)
    np.testing.assert_allclose([_se(table, t) for t in terms], fit.bse, rtol=1e-6)
    np.testing.assert_allclose(table["p_value"], fit.pvalues, rtol=1e-5)


# Therneau & Grambsch (2000), appendix E, data set 1 -- the closed-form Efron results
# that R's survival package tests itself against (tests/book2.R, tests/zph.R):
# time = c(9, 3, 1, 1, 6, 6, 8), status = c(1, NA, 1, 0, 1, 1, 0), x = c(0, 2, 1, 1, 1, 0, 0);
# the NA row is dropped. Efron MLE: beta = log(r), r = 2 sqrt(23/3) cos(phi / 3),
# phi = acos((45/23) sqrt(3/23)); information sum of p - p^2 at r/(r+1), r/(r+3), r/(r+5).
TEST1 = pd.DataFrame({"time": [9, 1, 1, 6, 6, 8], "status": [1, 1, 0, 1, 1, 0],
                      "x": [0, 1, 1, 1, 0, 0]})
_PHI = np.arccos((45 / 23) * np.sqrt(3 / 23))
R_EFRON = 2 * np.sqrt(23 / 3) * np.cos(_PHI / 3)


def _test1_score_and_information(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tests/zph.R: per death time (1, 6, 6, 9) score U and information, Efron."""
    r = R_EFRON
    u = np.array([1 / (r + 1), 3 / (r + 3), -r / (r + 5), 0.0])
    info = np.array([r / (r + 1) ** 2, 3 * r / (r + 3) ** 2, 5 * r / (r + 5) ** 2, 0.0])
    score = np.array([u.sum(), (g * u).sum()])
    information = np.array([[info.sum(), (g * info).sum()], [(g * info).sum(),
                                                             (g**2 * info).sum()]])
    return score, information


def test_efron_fit_equals_the_closed_form_of_therneau_and_grambsch():
    table = cox_table(TEST1, "time", "status", ["x"], "univariate")
    assert _log_hr(table, "x") == pytest.approx(np.log(R_EFRON), abs=1e-9)
    r = R_EFRON
    information = sum(p - p**2 for p in (r / (r + 1), r / (r + 5), r / (r + 3)))
    assert _se(table, "x") == pytest.approx(np.sqrt(1 / information), rel=1e-7)


@pytest.mark.parametrize("transform", ["identity", "log", "km"])
def test_ph_test_equals_the_closed_form_score_test(transform):
    """tests/zph.R: cox.zph is u' I^-1 u for adding x * g(t), g centred on the deaths.

    Death times 1, 6, 6, 9. km: the left-continuous KM of the data is 1 at t = 1,
    5/6 at t = 6 and 5/12 at t = 9 (by hand), so g = 1 - KM(t-) = 0, 1/6, 1/6, 7/12."""
    death_times = np.array([1.0, 6.0, 6.0, 9.0])
    g = {"identity": death_times, "log": np.log(death_times),
         "km": np.array([0.0, 1 / 6, 1 / 6, 7 / 12])}[transform]
    score, information = _test1_score_and_information(g - g.mean())
    expected = score @ np.linalg.solve(information, score)
    table = cox_table(TEST1, "time", "status", ["x"], "univariate", ph_transform=transform)
    # the closed form is at the exact MLE; ours at the fitted one (|error| < 1e-9)
    assert table.loc[0, "ph_test_statistic"] == pytest.approx(expected, rel=1e-7)
    assert table.loc[0, "ph_test_p_value"] == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-6)
    assert f"transform='{transform}'" in table.loc[0, "ph_test_method"]


def _counting_process_zph(data: pd.DataFrame, duration: str, event: str, terms: list[str],
                          beta: np.ndarray, g_of_time) -> np.ndarray:
    """Independent cox.zph: split follow-up at every death time, add x * g(t) as a
    time-varying covariate and take statsmodels' Efron score and Hessian at
    (beta-hat, 0) -- the score test R's cox.zph computes in closed form.

    statsmodels counts a row at risk at its entry time itself, so entries are
    nudged by 1e-6 (far below the 1-day spacing of these times) to give the
    intervals (start, stop] of R's counting-process data."""
    death_times = np.unique(data.loc[data[event], duration])
    rows = []
    for _, subject in data.iterrows():
        stop = subject[duration]
        cuts = death_times[death_times < stop]
        starts = np.concatenate(([0.0], cuts))
        stops = np.concatenate((cuts, [stop]))
        for start, end in zip(starts, stops, strict=True):
            row = {"entry": start + 1e-6 if start > 0 else 0.0, "time": end,
                   "status": int(bool(subject[event]) and end == stop)}
            for term in terms:
                row[term] = float(subject[term])
                row[f"{term}_g"] = float(subject[term]) * g_of_time(end)
            rows.append(row)
    split = pd.DataFrame(rows)
    columns = terms + [f"{term}_g" for term in terms]
    model = sm.PHReg(split["time"], split[columns], status=split["status"],
                     entry=split["entry"], ties="efron")
    params = np.concatenate((beta, np.zeros(len(terms))))
    score = model.score(params)
    information = -model.hessian(params)
    p = len(terms)
    statistic = []
    for j in range(p):
        keep = list(range(p)) + [p + j]
        u = np.zeros(p + 1)
        u[-1] = score[p + j]
        statistic.append(u @ np.linalg.solve(information[np.ix_(keep, keep)], u))
    return np.array(statistic)


def test_km_ph_test_equals_an_independent_counting_process_score_test(lung):
    data = lung[["time", "death", "age", "sex"]].copy()
    table = cox_table(data, "time", "death", ["age", "sex"], "multivariate")
    beta = np.array([_log_hr(table, "age"), _log_hr(table, "sex")])
    km = KaplanMeierFitter().fit(data["time"], data["death"]).survival_function_.iloc[:, 0]

    def one_minus_km_before(t: float) -> float:
        earlier = km[km.index < t]
        return 1.0 - (float(earlier.iloc[-1]) if len(earlier) else 1.0)

    expected = _counting_process_zph(data, "time", "death", ["age", "sex"], beta,
                                     one_minus_km_before)
    np.testing.assert_allclose(table["ph_test_statistic"], expected, rtol=1e-6)
    np.testing.assert_allclose(table["ph_test_p_value"], stats.chi2.sf(expected, 1), rtol=1e-5)


def test_univariate_model_fits_each_term_alone(lung):
    univariate = cox_table(lung, "time", "death", ["age", "sex"], "univariate")
    for term in ("age", "sex"):
        alone = cox_table(lung, "time", "death", [term], "multivariate")
        row = univariate.set_index("term").loc[term]
        assert row["hr"] == pytest.approx(alone.loc[0, "hr"], rel=1e-12)
        assert row["ph_test_statistic"] == pytest.approx(alone.loc[0, "ph_test_statistic"],
                                                         rel=1e-12)
    multivariate = cox_table(lung, "time", "death", ["age", "sex"], "multivariate")
    assert _log_hr(univariate, "age") != pytest.approx(_log_hr(multivariate, "age"), rel=1e-3)


def test_booleans_enter_as_zero_one(lung):
    data = lung.assign(female=lung["sex"] == 2)
    table = cox_table(data, "time", "death", ["female"], "univariate")
    assert _log_hr(table, "female") == pytest.approx(-0.5310, abs=5e-5)  # R, as above


@pytest.mark.parametrize(
    ("change", "message"),
    [({"age": np.nan}, "covariate age has missing"), ({"age": 1.0}, "covariate age is constant"),
     ({"age": "old"}, "covariate age is text")],
)
def test_unusable_terms_are_rejected_by_name(lung, change, message):
    data = lung.copy()
    for column, value in change.items():
        data[column] = value if not (isinstance(value, float) and np.isnan(value)) else \
            data[column].where(data.index != 0)
    with pytest.raises(ValueError, match=message):
        cox_table(data, "time", "death", ["age", "sex"], "multivariate")


def test_model_and_transform_names_are_checked(lung):
    with pytest.raises(ValueError, match="univariate"):
        cox_table(lung, "time", "death", ["age"], "stepwise")
    with pytest.raises(ValueError, match="ph_transform"):
        cox_table(lung, "time", "death", ["age"], "univariate", ph_transform="spline")


# ------------------------------------------------------- robust (clustered) variance


def _paired(seed: int, n_pairs: int = 150) -> pd.DataFrame:
    """Matched-like pairs sharing a frailty (so clustering matters), tied monthly times."""
    rng = np.random.default_rng(seed)
    pair = np.repeat(np.arange(n_pairs), 2)
    treated = np.tile([True, False], n_pairs)
    age = rng.normal(62, 8, 2 * n_pairs).round()
    liver = rng.random(2 * n_pairs) < 0.3
    frailty = np.repeat(rng.gamma(2.0, 0.5, n_pairs), 2)
    hazard = frailty * np.exp(-0.5 * treated + 0.02 * (age - 62) + 0.4 * liver) / 4
    event_time, censor_time = rng.exponential(1 / hazard), rng.uniform(2, 20, 2 * n_pairs)
    return pd.DataFrame({"months": np.ceil(np.minimum(event_time, censor_time) * 2) / 2,
                         "event": event_time <= censor_time, "is_ici": treated,
                         "age_years": age, "has_liver_metastases": liver,
                         "pair_id": [f"pair_{p:06d}" for p in pair]})


@pytest.mark.parametrize("model", ["univariate", "multivariate"])
def test_clustered_cox_equals_an_independent_efron_sandwich(model):
    """R coxph(..., cluster = pair_id): V = D'D with D the dfbeta residuals (score
    residuals x model variance) summed within pairs. The model variance and the
    coefficients come from statsmodels' PHReg (independent Efron code), the score
    residuals from the loop above."""
    data = _paired(31)
    assert data["months"].duplicated().sum() > 100  # heavy ties: Efron matters
    terms = ["is_ici", "age_years", "has_liver_metastases"]
    robust = cox_table(data, "months", "event", terms, model, cluster_col="pair_id")
    naive = cox_table(data, "months", "event", terms, model)
    term_sets = [[term] for term in terms] if model == "univariate" else [terms]
    for term_set in term_sets:
        x = data[term_set].to_numpy(dtype=float)
        fit = sm.PHReg(data["months"], x, status=data["event"].astype(int), ties="efron").fit()
        beta = np.asarray(fit.params)
        scores = efron_score_residuals_by_hand(data["months"].to_numpy(), data["event"].to_numpy(),
                                             x, beta)
        dfbeta = scores @ np.asarray(fit.cov_params())
        summed = pd.DataFrame(dfbeta).groupby(data["pair_id"].to_numpy()).sum().to_numpy()
        robust_se = np.sqrt(np.diag(summed.T @ summed))
        for index, term in enumerate(term_set):
            assert _log_hr(robust, term) == pytest.approx(beta[index], rel=1e-6, abs=1e-9)
            assert _se(robust, term) == pytest.approx(robust_se[index], rel=1e-6)
            assert _se(naive, term) == pytest.approx(fit.bse[index], rel=1e-6)
            row = robust.set_index("term").loc[term]
            assert row["p_value"] == pytest.approx(
                2 * stats.norm.sf(abs(beta[index] / robust_se[index])), rel=1e-5)
    # the pairs share a frailty: the robust SE of treatment differs from the naive one
    assert _se(robust, "is_ici") != pytest.approx(_se(naive, "is_ici"), rel=0.02)
    assert robust["variance_method"].str.startswith("robust sandwich clustered on pair_id").all()
    assert naive["variance_method"].str.startswith("model-based").all()
    assert (robust["ci_method"] == "Wald 95% CI on the log-HR scale, exp(beta +/- z se); "
            "two-sided Wald p").all()
    # the PH score test does not use the variance: identical with and without clusters
    np.testing.assert_array_equal(robust["ph_test_statistic"], naive["ph_test_statistic"])


def test_categorical_pair_ids_give_the_variance_text_ids_give():
    """The matched cohort's pair_id is a categorical (its codes are used as they
    are, unused categories included): same clusters, same sandwich."""
    data = _paired(32)
    terms = ["is_ici", "age_years"]
    text = cox_table(data, "months", "event", terms, "multivariate", cluster_col="pair_id")
    categories = ["pair_unused", *sorted(data["pair_id"].unique(), reverse=True)]
    categorical = cox_table(data.assign(pair_id=pd.Categorical(data["pair_id"], categories)),
                            "months", "event", terms, "multivariate", cluster_col="pair_id")
    for column in ("hr", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(categorical[column], text[column], rtol=1e-12)
    # and the clusters matter: one cluster per patient gives another variance
    single = cox_table(data.assign(pair_id=[f"id_{i}" for i in range(len(data))]),
                       "months", "event", terms, "multivariate", cluster_col="pair_id")
    assert not np.allclose(single["ci_lower"], text["ci_lower"], rtol=1e-3)


def test_the_ph_test_reads_the_efron_sums_at_the_estimate(lung):
    """zph_test takes the Efron sums the fit ended on; recomputed from the
    coefficients they give the same test (so they are the sums at beta-hat)."""
    from dataclasses import replace

    data = lung.dropna(subset=["age", "sex", "ph.ecog"])
    fit = _cox.fit_cox(data, "time", "death", ["age", "sex", "ph.ecog"])
    fresh = replace(fit, efron=fit.efron.sums.at(fit.coefficients))
    kept, recomputed = _zph.zph_test(fit), _zph.zph_test(fresh)
    np.testing.assert_allclose(kept.statistic, recomputed.statistic, rtol=1e-12)
    assert kept.global_statistic == pytest.approx(recomputed.global_statistic, rel=1e-12)
    np.testing.assert_allclose(fit.efron.score, 0.0, atol=1e-8)  # the sums are at the maximum


# ------------------------------------------- the sorted time structure, passed to every fit


def _times_fields(times: SurvivalTimes) -> dict:
    return {name: getattr(times, name) for name in times.__dataclass_fields__}


def test_a_fit_given_the_time_structure_equals_one_that_sorts_itself(lung):
    data = lung.dropna(subset=["ph.ecog"])
    times = survival_times(data, "time", "death")
    for model in ("univariate", "multivariate"):
        given = cox_table(data, "time", "death", ["age", "sex", "ph.ecog"], model, times=times)
        alone = cox_table(data, "time", "death", ["age", "sex", "ph.ecog"], model)
        pd.testing.assert_frame_equal(given, alone, check_exact=True)


def test_a_time_structure_of_other_rows_is_refused(lung):
    data = lung[["time", "death", "age", "sex"]]
    times = survival_times(data, "time", "death")
    changed = {
        "time": data.assign(time=data["time"].where(data.index != 5, 1.0)),
        "event": data.assign(death=data["death"].where(data.index != 5, ~data["death"])),
        "order": data.iloc[::-1],
        "rows": data.iloc[1:],
    }
    for other in changed.values():
        with pytest.raises(ValueError, match="times was built from other rows"):
            cox_table(other, "time", "death", ["age"], "univariate", times=times)
    with pytest.raises(ValueError, match="times was built from other rows"):
        cox_table(data.assign(center=data["sex"]), "time", "death", ["age"], "univariate",
                  strata_col="center", times=times)
    with pytest.raises(ValueError, match="read-only"):
        times.order[0] = 1


def test_a_subset_structure_equals_the_one_sorted_from_the_subset_rows():
    data = _paired(33).assign(center=lambda frame: np.where(frame.index % 3 == 0, "c", "a"))
    rows = (data["age_years"] > 60).to_numpy()
    rows[data["center"].to_numpy() == "c"] = False  # a stratum with no row left
    for strata in (None, "center"):
        subset = survival_times(data, "months", "event", strata).subset(rows)
        direct = survival_times(data[rows], "months", "event", strata)
        for name, value in _times_fields(direct).items():
            np.testing.assert_array_equal(_times_fields(subset)[name], value, err_msg=name)
    # the strata's sorted runs merged: the grouping of the rows by time alone
    merged = survival_times(data, "months", "event", "center").without_strata()
    direct = survival_times(data, "months", "event")
    for name, value in _times_fields(direct).items():
        if name != "order":  # rows of one time may come in another order
            np.testing.assert_array_equal(_times_fields(merged)[name], value, err_msg=name)
    np.testing.assert_array_equal(merged.group[merged.order], direct.group[direct.order])


def test_sums_over_cells_equal_sums_over_rows(monkeypatch):
    """A univariate model sums over cells (rows alike in time, event and value, each
    with its rows' total weight); the same sums over the rows agree to round-off."""
    data = _paired(34, n_pairs=400).assign(weight=lambda frame: 0.5 + frame.index % 3)
    times = survival_times(data, "months", "event")
    x = data[["has_liver_metastases"]].to_numpy(dtype=float)
    beta = np.array([0.4])
    cells = _cox._EfronSums(times, x, data["weight"].to_numpy()).at(beta)
    assert cells.sums.unit_of_row is not None and len(cells.sums.group) < len(data) / 5
    monkeypatch.setattr(_cox, "_patterns", lambda x: np.arange(len(x)))
    rows = _cox._EfronSums(times, x, data["weight"].to_numpy()).at(beta)
    assert rows.sums.unit_of_row is None
    assert cells.log_likelihood == pytest.approx(rows.log_likelihood, rel=1e-13)
    np.testing.assert_allclose(cells.score, rows.score, rtol=1e-12)
    np.testing.assert_allclose(cells.information, rows.information, rtol=1e-12)
    np.testing.assert_allclose(_cox._score_residuals(cells), _cox._score_residuals(rows),
                               rtol=1e-10, atol=1e-13)


# --------------------------------------------------------- case weights and strata (R)

R_WEIGHTS_STRATA = pd.read_csv(REFERENCE / "cox_weights_strata.csv")
R_MODELS = {
    "weighted": {"weights_col": "ipw"},
    "frequency": {"weights_col": "count"},
    "robust": {"robust": True},
    "stratified": {"strata_col": "center"},
    "weighted_stratified_clustered": {"weights_col": "ipw", "strata_col": "center",
                                      "cluster_col": "pair_id"},
}


def _r_value(model: str, quantity: str) -> np.ndarray:
    block = R_WEIGHTS_STRATA[(R_WEIGHTS_STRATA["model"] == model)
                             & (R_WEIGHTS_STRATA["quantity"] == quantity)]
    values = np.zeros((block["row"].max() + 1, block["col"].max() + 1))
    values[block["row"], block["col"]] = block["value"]
    return values


@pytest.fixture(scope="module")
def r_data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "cox_weights_strata_data.csv")


@pytest.mark.parametrize("model", sorted(R_MODELS))
def test_weights_strata_and_clusters_reproduce_r_coxph_and_cox_zph(r_data, model):
    """tests/python/reference/cox_weights_strata.R: coxph(Surv(months, event) ~ treated +
    age + liver [+ strata(center)], weights = , cluster = , robust = ) iterated to machine
    precision, and cox.zph(fit, transform, terms = FALSE) for four transforms."""
    terms = ["treated", "age", "liver"]
    fit = _cox.fit_cox(r_data, "months", "event", terms, **R_MODELS[model])
    np.testing.assert_allclose(fit.coefficients, _r_value(model, "coefficients")[:, 0],
                               rtol=1e-9)
    np.testing.assert_allclose(fit.variance, _r_value(model, "variance"), rtol=1e-9)
    np.testing.assert_allclose(fit.model_variance, _r_value(model, "model_variance"),
                               rtol=1e-9)
    assert fit.log_likelihood == pytest.approx(_r_value(model, "log_likelihood")[0, 0],
                                               rel=1e-12)
    for transform in _zph.ZPH_TRANSFORMS:
        expected = _r_value(model, f"zph_{transform}")[:, 0]
        test = _zph.zph_test(fit, transform)
        np.testing.assert_allclose(test.statistic, expected[:-1], rtol=1e-9)
        assert test.global_statistic == pytest.approx(expected[-1], rel=1e-9)


def test_cox_table_names_weights_strata_and_the_robust_variance(r_data):
    terms = ["treated", "age", "liver"]
    model = "weighted_stratified_clustered"
    table = cox_table(r_data, "months", "event", terms, "multivariate",
                      **R_MODELS[model]).set_index("term")
    variance = _r_value(model, "variance")
    np.testing.assert_allclose(np.log(table["hr"]), _r_value(model, "coefficients")[:, 0],
                               rtol=1e-9)
    np.testing.assert_allclose(np.log(table["ci_upper"] / table["hr"]) / Z95,
                               np.sqrt(np.diag(variance)), rtol=1e-9)
    assert (table["variance_method"] == "robust sandwich clustered on pair_id, case weights "
            "ipw (Lin-Wei; R coxph(..., weights = , cluster = ))").all()
    assert (table["strata"] == "center (separate baseline hazards; R + strata(center))").all()
    assert list(table.reset_index().columns) == [*COLUMNS, "strata"]
    frequency = cox_table(r_data, "months", "event", terms, "multivariate", weights_col="count")
    assert (frequency["variance_method"]
            == "model-based (inverse observed information), case weights count").all()
    assert list(frequency.columns) == COLUMNS


def test_unit_weights_and_a_single_stratum_give_the_unweighted_fit_exactly(r_data):
    terms = ["treated", "age", "liver"]
    plain = _cox.fit_cox(r_data, "months", "event", terms)
    for options in ({"weights_col": "one"}, {"strata_col": "one"}):
        same = _cox.fit_cox(r_data.assign(one=1.0), "months", "event", terms, **options)
        np.testing.assert_array_equal(same.coefficients, plain.coefficients)
        np.testing.assert_array_equal(same.variance, plain.variance)
        assert same.log_likelihood == plain.log_likelihood
        np.testing.assert_array_equal(_zph.zph_test(same).statistic,
                                      _zph.zph_test(plain).statistic)


def test_bad_weights_strata_and_clusters_are_named(r_data):
    terms = ["treated", "age"]
    for bad in (0.0, -1.0, np.nan, np.inf):
        weights = r_data["ipw"].where(r_data.index != 7, bad)
        with pytest.raises(ValueError, match="ipw must be positive and finite"):
            cox_table(r_data.assign(ipw=weights), "months", "event", terms, "univariate",
                      weights_col="ipw")
    with pytest.raises(ValueError, match="center has missing values"):
        cox_table(r_data.assign(center=r_data["center"].where(r_data.index != 3)), "months",
                  "event", terms, "univariate", strata_col="center")
    with pytest.raises(ValueError, match="needs the robust variance"):
        cox_table(r_data, "months", "event", terms, "univariate", cluster_col="pair_id",
                  robust=False)
    with pytest.raises(ValueError, match="needs column"):
        cox_table(r_data, "months", "event", terms, "univariate", weights_col="weight")


def test_a_weighted_fit_that_cannot_converge_raises_instead_of_guessing():
    """Complete separation: every treated patient dies before any control. Unweighted,
    lifelines reports it as it always did; weighted or stratified there is no
    fallback that follows R's weighting, so the fit refuses."""
    data = pd.DataFrame({"t": np.arange(1.0, 21.0), "e": True,
                         "x": np.repeat([1.0, 0.0], 10), "w": 1.5, "s": np.tile(["a", "b"], 10)})
    for options in ({"weights_col": "w"}, {"strata_col": "s"}):
        with pytest.raises(ValueError, match="did not converge or its information is singular"):
            _cox.fit_cox(data, "t", "e", ["x"], **options)
    with pytest.warns(ConvergenceWarning, match="complete separation"):
        _cox.fit_cox(data, "t", "e", ["x"])


@pytest.mark.parametrize("model", ["treated", "treated_age_ecog2_male"])
def test_stratified_cox_reproduces_r_coxph_with_strata_center(model):
    """cox_weighted_stratified.R: coxph(Surv(months, event) ~ treated [+ age + ecog2 + male]
    + strata(center)) on the synthetic centers, Efron ties, model-based variance. Tolerance
    1e-9 relative (measured: below 1e-13)."""
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    expected = pd.read_csv(REFERENCE / "cox_strata_center.csv")
    expected = expected[expected["model"] == model]
    table = cox_table(data, "months", "event", list(expected["term"]), "multivariate",
                      strata_col="center")
    np.testing.assert_allclose(np.log(table["hr"]), expected["coef"], rtol=1e-9)
    np.testing.assert_allclose(np.log(table["ci_upper"] / table["hr"]) / Z95, expected["se"],
                               rtol=1e-9)
    np.testing.assert_allclose(table["p_value"], expected["p_value"], rtol=1e-9)
    assert (table["events"] == expected["events"].to_numpy()).all()
    fit = _cox.fit_cox(data, "months", "event", list(expected["term"]), strata_col="center")
    assert fit.log_likelihood == pytest.approx(expected["loglik"].iloc[0], rel=1e-12)

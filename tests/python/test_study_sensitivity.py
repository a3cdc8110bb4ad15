"""The weighted and center-stratified hazard ratios of the study tables, without a build (issue 21).

``rwe_study.diagnostics`` on the synthetic four-center data of
``reference/synthetic_weighted.R`` (center_d has the opposite treatment
effect), laid out as an analysis cohort: the weighting table's HRs and the
center table's stratified row must equal R's ``coxph`` output saved beside
it (``reference/cox_weighted_stratified.R``), the opposite-effect center must
show as heterogeneity, and models the data cannot estimate must be rows
with a reason while invalid input still raises. The same tables on the
embedded study are checked against R in ``test_diagnostics_build.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rwe_study import diagnostics as wiring

REFERENCE = Path(__file__).parent / "reference"
COVARIATES = ["age", "ecog2", "male"]
RTOL = 1e-9


def _cohort() -> pd.DataFrame:
    """synthetic_weighted.csv as an analysis cohort (one endpoint's times serve as PFS and OS)."""
    data = pd.read_csv(REFERENCE / "data" / "synthetic_weighted.csv")
    treated = data["treated"].astype(bool)
    return pd.DataFrame({
        "patient_id": data["patient_id"], "center_id": data["center"],
        "second_line_source_table": "lines", "second_line_source_file_name": "lines",
        "is_second_line_source_split": False,
        "second_line_source_row_number": np.arange(len(data)) + 2,
        "is_ici": treated, "arm": np.where(treated, "ICI", "non-ICI"),
        "age": data["age"].astype(float), "ecog2": data["ecog2"].astype(bool),
        "male": data["male"].astype(bool),
        "pfs_months": data["months"], "is_pfs_event": data["event"].astype(bool),
        "os_months": data["months"], "is_os_event": data["event"].astype(bool),
        "att_weight": data["att_weight"], "overlap_weight": data["overlap_weight"],
        "propensity_score": data["ps"]})


def _weights(cohort: pd.DataFrame) -> pd.DataFrame:
    """The ps_weights layout with R's weights (synthetic_weighted.R computed them)."""
    return pd.concat([pd.DataFrame({"patient_id": cohort["patient_id"], "weighting": method,
                                    "weight": cohort[column]})
                      for method, column in (("ATT", "att_weight"),
                                             ("overlap", "overlap_weight"))],
                     ignore_index=True)


def _matched(cohort: pd.DataFrame, pairs: int = 60) -> pd.DataFrame:
    """A stand-in matched cohort: the first ``pairs`` patients of each arm, paired in order."""
    treated = cohort[cohort["is_ici"]].head(pairs).assign(pair_id=np.arange(pairs))
    control = cohort[~cohort["is_ici"]].head(pairs).assign(pair_id=np.arange(pairs))
    return pd.concat([treated, control], ignore_index=True)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return _cohort()


def test_ps_weights_are_the_closed_forms_of_the_scores_one_row_per_patient_and_weighting(
        cohort):
    scores = cohort.rename(columns={"is_ici": "is_treated"})[
        ["patient_id", "is_treated", "propensity_score"]]
    table = wiring.propensity_weight_table(scores, ["ATT", "overlap"])
    assert list(table.columns) == wiring.PS_WEIGHT_COLUMNS
    assert len(table) == 2 * len(cohort)
    assert not table.duplicated(["patient_id", "weighting"]).any()
    ps, treated = cohort["propensity_score"].to_numpy(), cohort["is_ici"].to_numpy()
    att = table[table["weighting"] == "ATT"]["weight"].to_numpy()
    overlap = table[table["weighting"] == "overlap"]["weight"].to_numpy()
    np.testing.assert_allclose(att, np.where(treated, 1.0, ps / (1 - ps)), rtol=1e-15)
    np.testing.assert_allclose(overlap, np.where(treated, 1 - ps, ps), rtol=1e-15)
    # R computed the same weights from the same scores (synthetic_weighted.R)
    np.testing.assert_allclose(att, cohort["att_weight"], rtol=1e-12)
    with pytest.raises(ValueError, match="weight_methods is empty"):
        wiring.propensity_weight_table(scores, [])


def test_weighted_hazard_ratios_of_the_table_reproduce_r_coxph_weights_robust(cohort):
    """cox_weighted_robust.csv: coxph(Surv(months, event) ~ treated, weights = w,
    robust = TRUE), Efron ties; HR, CI and p on the robust SE within 1e-9 relative."""
    expected = pd.read_csv(REFERENCE / "cox_weighted_robust.csv").set_index("model")
    table = wiring.weighting_summary(cohort, _matched(cohort), _weights(cohort), COVARIATES,
                                     ["ATT", "overlap"], 0.05)
    assert table[["analysis", "endpoint"]].values.tolist() == [
        [analysis, endpoint] for analysis in ("matched", "ATT weighted", "overlap weighted")
        for endpoint in ("PFS", "OS")]
    assert (table["estimation_status"] == "estimated").all()
    for analysis, column in (("ATT weighted", "att_weight"),
                             ("overlap weighted", "overlap_weight")):
        for _, row in table[table["analysis"] == analysis].iterrows():
            for name in ("hr", "ci_lower", "ci_upper", "p_value"):
                assert row[name] == pytest.approx(expected.loc[column, name], rel=RTOL), name
            assert row["variance_method"].startswith("robust sandwich (one cluster per row)")
            assert row["ties_method"] == "efron"
    matched = table[table["analysis"] == "matched"].iloc[0]
    assert matched["variance_method"].startswith("robust sandwich clustered on pair_id")


def test_stratified_row_reproduces_r_coxph_strata_center_and_the_opposite_center_shows(cohort):
    """cox_strata_center.csv: coxph(Surv(months, event) ~ treated + strata(center)),
    model-based SE. R stops at its default convergence (relative log-likelihood change
    1e-9), ours at machine precision: 1e-9 absolute on the log HR, 1e-9 relative on
    the SE (as the per-center fits). center_d's opposite effect makes Q significant."""
    expected = pd.read_csv(REFERENCE / "cox_strata_center.csv").query(
        "model == 'treated'").iloc[0]
    table = wiring.center_heterogeneity_table(cohort, 0.05, 5)
    for endpoint in ("PFS", "OS"):
        block = table[table["endpoint"] == endpoint]
        assert block["estimate_type"].tolist() == ["center"] * 4 + ["pooled", "stratified"]
        row = block[block["estimate_type"] == "stratified"].iloc[0]
        assert row["estimation_status"] == "estimated"
        assert row["log_hr"] == pytest.approx(expected["coef"], abs=1e-9)
        assert row["se"] == pytest.approx(expected["se"], rel=RTOL)
        assert row["p_value"] == pytest.approx(expected["p_value"], rel=1e-6)
        assert (row["n"], row["events"]) == (expected["n"], expected["events"])
        assert row["strata"].startswith("center_id (separate baseline hazards")
        assert pd.isna(row["center_id"])
        pooled = block[block["estimate_type"] == "pooled"].iloc[0]
        assert pooled["q_p_value"] < 0.05 and pooled["i2_percent"] > 50


def _failing_cohort(cohort: pd.DataFrame) -> pd.DataFrame:
    """Every ICI patient censored: no events in the ICI arm."""
    return cohort.assign(is_pfs_event=cohort["is_pfs_event"] & ~cohort["is_ici"])


def test_models_the_data_cannot_estimate_are_rows_with_a_reason(cohort):
    weights = _weights(cohort)
    failing = _failing_cohort(cohort)
    table = wiring.weighting_summary(failing, _matched(failing), weights, COVARIATES,
                                     ["ATT", "overlap"], 0.05).set_index(["analysis", "endpoint"])
    for analysis in ("matched", "ATT weighted", "overlap weighted"):
        assert table.loc[(analysis, "PFS"), "estimation_status"] == "not_estimable"
        assert table.loc[(analysis, "PFS"), "status_reason"] == "no_events_in_arm"
        assert np.isnan(table.loc[(analysis, "PFS"), "hr"])
        assert table.loc[(analysis, "OS"), "estimation_status"] == "estimated"
    # events in both arms, but every ICI event before any non-ICI time: the likelihood
    # rises without bound (separation); the Cox core says so and the row keeps the reason
    ici = cohort["is_ici"].to_numpy()
    separated = cohort.assign(pfs_months=np.where(ici, 1.0 + np.arange(len(cohort)) % 5,
                                                  20.0 + np.arange(len(cohort)) % 7),
                              is_pfs_event=True)
    table = wiring.weighting_summary(separated, _matched(separated), weights, COVARIATES,
                                     ["ATT"], 0.05).set_index(["analysis", "endpoint"])
    assert table.loc[("ATT weighted", "PFS"), "status_reason"] == "separation"
    assert table.loc[("ATT weighted", "OS"), "estimation_status"] == "estimated"


def test_a_stratified_model_without_a_center_holding_both_arms_is_a_row(cohort):
    # each center keeps one arm only: no within-center comparison is left
    one_arm = cohort[cohort["is_ici"] == cohort["center_id"].isin(["center_a", "center_c"])]
    table = wiring.center_heterogeneity_table(one_arm.reset_index(drop=True), 0.05, 5)
    block = table[table["endpoint"] == "PFS"].set_index("estimate_type")
    assert block.loc["stratified", "status_reason"] == "no_informative_stratum"
    assert (block.loc["center", "status_reason"] == "empty_arm").all()
    assert block.loc["pooled", "status_reason"] == "too_few_centers"
    failing = wiring.center_heterogeneity_table(_failing_cohort(cohort), 0.05, 5)
    stratified = failing[(failing["endpoint"] == "PFS")
                         & (failing["estimate_type"] == "stratified")].iloc[0]
    assert stratified["status_reason"] == "no_events_in_arm"


def test_invalid_input_still_raises_and_weights_must_cover_every_patient(cohort):
    weights = _weights(cohort)
    with pytest.raises(ValueError, match="ps_weights has no rows of weighting 'ATT'"):
        wiring.weighting_summary(cohort, _matched(cohort), weights[weights["weighting"] != "ATT"],
                                 COVARIATES, ["ATT"], 0.05)
    with pytest.raises(ValueError, match="lacks a ATT weight"):
        wiring.weighted_balance_table(cohort, weights.iloc[1:], COVARIATES, ["ATT"], 5)
    negative = weights.assign(weight=-weights["weight"])
    with pytest.raises(ValueError, match="must be positive and finite"):
        wiring.weighting_summary(cohort, _matched(cohort), negative, COVARIATES, ["ATT"], 0.05)


def test_the_weighted_tables_read_the_weights_they_are_given(cohort):
    """ps_weights is the one source: the balance uses its weights, not weights recomputed
    from the scores (doubling every weight changes nothing, SMDs being scale-free; equal
    weights give other SMDs)."""
    weights = _weights(cohort)
    base = wiring.weighted_balance_table(cohort, weights, COVARIATES, ["ATT"], 5)
    doubled = wiring.weighted_balance_table(cohort, weights.assign(weight=weights["weight"] * 2),
                                            COVARIATES, ["ATT"], 5)
    pd.testing.assert_frame_equal(doubled, base, rtol=1e-12)
    equal = wiring.weighted_balance_table(cohort, weights.assign(weight=1.0), COVARIATES,
                                          ["ATT"], 5)
    assert not np.allclose(equal["smd"].astype(float), base["smd"].astype(float))

"""rwe_study.tables end to end on the generator's 496-patient cohort (the embedded data).

Two properties of the published tables as a whole:

- they do not depend on the pseudonym key or the row order: re-pseudonymising
  every patient (a bijection that reverses the ids' sort order) and shuffling
  the rows gives the same tables, number for number;
- no count of 1 to min_cell_count - 1 patients is shown, every row names its
  methods, and the Kaplan-Meier tables stop where fewer than min_cell_count
  patients are at risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from study_harness import REFERENCE_STUDY, file_parameters, joined_matched_cohort

from rwe_study import tables
from rwe_synth import truth_frame

PARAMS = file_parameters(REFERENCE_STUDY)
K = int(PARAMS["min_cell_count"])
TIE_BREAK = list(tables.TIE_BREAK_COLUMNS)


def _cohort() -> pd.DataFrame:
    frame = truth_frame(496, 3, 20250919)
    rng = np.random.default_rng(5)
    return frame.assign(
        patient_id=[f"pid_{value:06d}" for value in rng.permutation(len(frame))],
        second_line_source_table=np.where(frame["center_id"] == "center_b",
                                          "drug_administrations", "lines"),
        second_line_source_file_name=np.where(frame["center_id"] == "center_b",
                                              "drug_administrations", "lines"),
        is_second_line_source_split=False,  # every export one file
        second_line_source_row_number=rng.permutation(len(frame)) + 2,
    )


def _study(cohort: pd.DataFrame, matched_row_order: int = 0) -> dict[str, pd.DataFrame]:
    scores = tables.propensity_scores(cohort, PARAMS["propensity_covariates"])
    pairs = tables.matched_pairs(scores, PARAMS["matching_caliper_sd"], PARAMS["random_seed"])
    matched = (joined_matched_cohort(cohort, pairs)
               .sample(frac=1, random_state=matched_row_order).reset_index(drop=True))
    alpha = PARAMS["alpha"]
    return {
        "ps_scores": scores,
        "matched_pairs": pairs,
        "covariate_balance": tables.covariate_balance(cohort, matched,
                                                      PARAMS["propensity_covariates"], K),
        "km_estimates": tables.km_estimates(cohort, matched, alpha, K),
        "survival_summary": tables.survival_summary(cohort, matched, alpha,
                                                    PARAMS["landmark_months"]),
        "cox_results": tables.cox_results(cohort, matched, PARAMS["cox_terms"], alpha),
        "response_summary": tables.response_table(cohort, matched, alpha, K),
        "subgroup_hr": tables.subgroup_table(cohort, PARAMS["subgroups"], alpha, K),
    }


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return _cohort()


@pytest.fixture(scope="module")
def study(cohort) -> dict[str, pd.DataFrame]:
    return _study(cohort)


def test_the_embedded_cohort_has_ties_that_the_matching_must_break(study):
    scores = study["ps_scores"]
    tied = scores["logit_ps"].duplicated(keep=False)
    assert tied.sum() > 20 and scores.loc[tied, "is_treated"].nunique() == 2


def test_tables_do_not_depend_on_the_pseudonym_key_or_row_order(cohort, study):
    ids = sorted(cohort["patient_id"])
    relabel = dict(zip(ids, [f"other_{i:06d}" for i in range(len(ids))][::-1], strict=True))
    renamed = cohort.assign(patient_id=cohort["patient_id"].map(relabel))
    # the warehouse's matched_cohort comes in no particular order either
    again = _study(renamed.sample(frac=1, random_state=9).reset_index(drop=True),
                   matched_row_order=10)
    pairs, pairs_again = study["matched_pairs"], again["matched_pairs"]
    assert pairs_again["treated_tie_break_key"].tolist() == pairs["treated_tie_break_key"].tolist()
    assert pairs_again["control_tie_break_key"].tolist() == pairs["control_tie_break_key"].tolist()
    assert pairs_again["control_patient_id"].tolist() == \
        pairs["control_patient_id"].map(relabel).tolist()
    for name in ("covariate_balance", "km_estimates", "survival_summary", "cox_results",
                 "response_summary", "subgroup_hr"):
        pd.testing.assert_frame_equal(again[name], study[name], check_exact=True, obj=name)
    scores = study["ps_scores"].set_index("tie_break_key")
    scores_again = again["ps_scores"].set_index("tie_break_key").loc[scores.index]
    np.testing.assert_array_equal(scores_again["logit_ps"], scores["logit_ps"])


def test_kaplan_meier_tables_stop_below_the_minimum_at_risk(cohort, study):
    km = study["km_estimates"]
    assert (km["n_at_risk"] >= K).all() and (km["min_cell_count"] == K).all()
    for (endpoint, arm), block in km[km["cohort"] == "all"].groupby(["endpoint", "arm"]):
        duration = "pfs_months" if endpoint == "PFS" else "os_months"
        times = cohort.loc[cohort["arm"] == arm, duration].to_numpy()
        last = block["time_months"].max()
        # the first distinct time after the last published row has < K at risk
        later = np.unique(times[times > last])
        assert len(later) == 0 or (times >= later[0]).sum() < K
        assert (times >= last).sum() >= K


def test_no_small_count_is_shown_and_every_row_names_its_methods(study):
    counts = {
        "covariate_balance": ["count_treated", "count_control"],
        "response_summary": ["cr", "pr", "sd", "pd", "ne"],
        "subgroup_hr": ["n", "events", "n_treated", "n_control", "events_treated",
                        "events_control"],
    }
    for name, columns in counts.items():
        values = study[name][columns].stack().dropna().astype(int)
        assert not values.between(1, K - 1).any(), name
        assert study[name]["suppression_rule"].notna().all()
    # the embedded data have CR = 2 in the non-ICI arm: suppressed, with PR
    response = study["response_summary"].set_index(["cohort", "arm"])
    assert response.loc[("all", "non-ICI"), "suppressed_cells"] == "cr, pr"
    assert response.loc[("all", "non-ICI"), "orr"] == pytest.approx(28 / 296)
    methods = {
        "survival_summary": ["hr_variance_method", "ties_method", "hr_ci_method",
                             "median_ci_method", "landmark_ci_method", "logrank_test_method"],
        "cox_results": ["ties_method", "variance_method", "ci_method", "ph_test_method"],
        "subgroup_hr": ["ties_method", "variance_method", "ci_method", "interaction_method"],
        "matched_pairs": ["matching_method", "matching_caliper_sd", "random_seed"],
    }
    for name, columns in methods.items():
        assert study[name][columns].notna().all().all(), name
    cox = study["cox_results"]
    assert cox.loc[cox["cohort"] == "matched", "variance_method"].str.startswith(
        "robust sandwich clustered on pair_id").all()
    assert cox.loc[cox["cohort"] == "all", "variance_method"].str.startswith(
        "model-based").all()
    summary = study["survival_summary"]
    assert summary["logrank_test_method"].eq("log-rank (Mantel-Haenszel), R survdiff rho=0").all()
    assert summary["median_ci_method"].str.startswith("Brookmeyer-Crowley").all()


def test_published_kaplan_meier_rows_equal_lifelines(cohort, study):
    """The published rows are lifelines' (independent) KM at every time with >= K at risk."""
    km = study["km_estimates"]
    for (endpoint, arm), block in km[km["cohort"] == "all"].groupby(["endpoint", "arm"]):
        duration, event = tables.ENDPOINTS[endpoint]
        frame = cohort[cohort["arm"] == arm]
        fitter = KaplanMeierFitter().fit(frame[duration], frame[event])
        table = fitter.event_table
        kept = table[table["at_risk"] >= K]
        rows = block.set_index("time_months")
        np.testing.assert_array_equal(rows.index.to_numpy(), kept.index.to_numpy())
        np.testing.assert_array_equal(rows["n_at_risk"], kept["at_risk"])
        np.testing.assert_array_equal(rows["n_events"], kept["observed"])
        np.testing.assert_allclose(rows["survival"],
                                   fitter.survival_function_.loc[kept.index].iloc[:, 0],
                                   rtol=1e-12)
        inside = rows["survival"].between(1e-12, 1 - 1e-12).to_numpy()
        bands = fitter.confidence_interval_.loc[kept.index[inside]]
        np.testing.assert_allclose(rows.loc[inside, "ci_lower"], bands.iloc[:, 0], rtol=1e-9)
        np.testing.assert_allclose(rows.loc[inside, "ci_upper"], bands.iloc[:, 1], rtol=1e-9)


def test_a_repeated_tie_break_key_stops_the_study_tables(cohort):
    repeated = cohort.copy()
    repeated.loc[1, TIE_BREAK] = repeated.loc[0, TIE_BREAK].to_numpy()
    with pytest.raises(ValueError, match="tie-break keys repeat") as error:
        tables.km_estimates(repeated, None, PARAMS["alpha"], K)
    # positions and column names only, never a row's values
    assert "row positions [0, 1]" in str(error.value)
    assert not any(str(value) in str(error.value) for value in repeated.loc[0, TIE_BREAK])


def test_a_missing_tie_break_value_is_named(cohort):
    for column in TIE_BREAK:
        broken = cohort.assign(**{column: cohort[column].astype(object).where(
            cohort.index != 3, None)})
        with pytest.raises(ValueError, match=f"no missing values.*{column}|{column}.*no missing"):
            tables.km_estimates(broken, None, PARAMS["alpha"], K)


def test_canonical_order_is_center_table_then_row_number_as_a_number():
    frame = pd.DataFrame({
        "center_id": ["center_b", "center_a", "center_a", "center_a"],
        "second_line_source_table": ["lines", "lines", "lines", "administrations"],
        "second_line_source_file_name": ["l", "l", "l", "a"],
        "is_second_line_source_split": [False] * 4,
        "second_line_source_row_number": [1, 10, 9, 50],
        "arm": ["ICI", "non-ICI", "ICI", "ICI"],
    })
    ordered = tables._canonical(frame, [*TIE_BREAK, "arm"])
    assert ordered[TIE_BREAK].values.tolist() == [
        ["center_a", "administrations", "a", False, 50],
        ["center_a", "lines", "l", False, 9], ["center_a", "lines", "l", False, 10],
        ["center_b", "lines", "l", False, 1]]
    assert ordered["arm"].tolist() == ["ICI", "ICI", "non-ICI", "ICI"]


@pytest.mark.parametrize("row_numbers", [
    [7, 3, 7, 1, 3, 2],                      # one int64 sort key
    [2**62, -(2**62), 5, 2**62 - 1, 0, 1],   # too wide for one key: the lexsort path
])
def test_canonical_order_is_the_lexsort_of_the_four_columns(row_numbers):
    frame = pd.DataFrame({
        "center_id": ["b", "a", "a", "b", "b", "a"],
        "second_line_source_table": ["x", "y", "x", "x", "y", "y"],
        "second_line_source_file_name": ["f2", "y", "x", "f1", "y", "y"],
        "is_second_line_source_split": [True, False, False, True, False, False],
        "second_line_source_row_number": row_numbers,
    })
    expected = np.lexsort((frame["second_line_source_row_number"],
                           frame["second_line_source_file_name"].rank(method="dense"),
                           frame["second_line_source_table"].rank(method="dense"),
                           frame["center_id"].rank(method="dense")))
    np.testing.assert_array_equal(tables._canonical_order(frame), expected)
    # text read as categoricals (as the models read it) whose own order is not text order
    categoricals = frame.assign(**{column: pd.Categorical(
        frame[column], categories=sorted(set(frame[column]), reverse=True))
        for column in TIE_BREAK[:3]})
    np.testing.assert_array_equal(tables._canonical_order(categoricals), expected)
    repeated = pd.concat([frame, frame.tail(1)], ignore_index=True)
    with pytest.raises(ValueError, match="tie-break keys repeat"):
        tables._canonical_order(repeated)


def test_reordered_text_columns_keep_their_values_and_types():
    # strings (missing ones included) come back as categoricals of equal values;
    # anything else (a mix of True and 1, which encode alike) and the patient ids
    # are copied as they are
    frame = pd.DataFrame({
        "center_id": ["c"] * 4,
        "second_line_source_table": ["lines"] * 4,
        "second_line_source_file_name": ["lines_part1"] * 4,
        "is_second_line_source_split": [True] * 4,
        "second_line_source_row_number": [4, 3, 2, 1],
        "patient_id": ["p4", "p3", "p2", "p1"],
        "arm": ["ICI", "non-ICI", "ICI", "non-ICI"],
        "with_missing": ["a", None, "b", "a"],
        "mixed": [True, 1, "1", 1.0],
    })
    ordered = tables._canonical(frame, list(frame.columns))
    reversed_frame = frame.iloc[::-1].reset_index(drop=True)
    text = ["center_id", "second_line_source_table", "second_line_source_file_name", "arm",
            "with_missing"]
    assert all(isinstance(ordered[column].dtype, pd.CategoricalDtype) for column in text)
    pd.testing.assert_frame_equal(ordered.astype({column: object for column in text}),
                                  reversed_frame.fillna(np.nan), check_exact=True)
    assert [type(value) for value in ordered["mixed"]] == [float, str, int, bool]
    assert ordered["patient_id"].dtype == object


def test_each_table_needs_only_the_columns_its_model_loads(cohort, study):
    # the Python models load columns_read(...) alone: with only those, every
    # table must come out the same (a missing column would raise)
    matched = joined_matched_cohort(cohort, study["matched_pairs"])

    def only(table, source, frame):
        return frame[tables.columns_read(table, PARAMS, source)]

    def inputs(table):
        return only(table, "analysis_cohort", cohort), only(table, "matched_cohort", matched)

    alpha = PARAMS["alpha"]
    again = {
        "ps_scores": tables.propensity_scores(only("ps_scores", "analysis_cohort", cohort),
                                              PARAMS["propensity_covariates"]),
        "covariate_balance": tables.covariate_balance(*inputs("covariate_balance"),
                                                      PARAMS["propensity_covariates"], K),
        "km_estimates": tables.km_estimates(*inputs("km_estimates"), alpha, K),
        "survival_summary": tables.survival_summary(*inputs("survival_summary"), alpha,
                                                    PARAMS["landmark_months"]),
        "cox_results": tables.cox_results(*inputs("cox_results"), PARAMS["cox_terms"], alpha),
        "response_summary": tables.response_table(*inputs("response_summary"), alpha, K),
        "subgroup_hr": tables.subgroup_table(only("subgroup_hr", "analysis_cohort", cohort),
                                             PARAMS["subgroups"], alpha, K),
    }
    for name, table in again.items():
        pd.testing.assert_frame_equal(table, study[name], check_exact=True, obj=name)
    with pytest.raises(ValueError, match="columns_read knows"):
        tables.columns_read("matched_cohort", PARAMS)


def test_the_tie_break_key_adds_the_file_only_for_an_export_in_several_files():
    # a one-file export keeps center:table:row, so a study
    # without split exports keeps its keys and pairs; a split export's rows
    # are numbered per file, so its key names the file
    frame = pd.DataFrame({
        "center_id": ["center_c", "center_a", "center_a"],
        "second_line_source_table": ["lines", "treatment_lines", "treatment_lines"],
        "second_line_source_file_name": ["lines", "treatment_lines_part1",
                                         "treatment_lines_part2"],
        "is_second_line_source_split": [False, True, True],
        "second_line_source_row_number": [7, 3, 3],
    })
    assert tables._key_strings(frame).tolist() == [
        "center_c:lines:7", "center_a:treatment_lines:treatment_lines_part1:3",
        "center_a:treatment_lines:treatment_lines_part2:3"]
    # one row number in two files is two records; in one file it repeats
    assert len(tables._canonical_order(frame)) == 3
    with pytest.raises(ValueError, match="tie-break keys repeat"):
        tables._canonical_order(frame.assign(second_line_source_file_name="lines"))

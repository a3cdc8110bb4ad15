"""rwe_stats.response: ORR / DCR with Clopper-Pearson intervals and between-arm tests."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from rwe_stats.response import clopper_pearson, response_summary


@pytest.mark.parametrize(("successes", "n"), [(0, 20), (1, 20), (59, 200), (30, 296), (20, 20)])
def test_clopper_pearson_equals_beta_quantiles(successes, n):
    lower = 0.0 if successes == 0 else stats.beta.ppf(0.025, successes, n - successes + 1)
    upper = 1.0 if successes == n else stats.beta.ppf(0.975, successes + 1, n - successes)
    assert clopper_pearson(successes, n) == pytest.approx((lower, upper), rel=1e-12)
    exact = stats.binomtest(successes, n).proportion_ci(method="exact")  # second route
    assert clopper_pearson(successes, n) == pytest.approx((exact.low, exact.high), rel=1e-9)


def test_clopper_pearson_at_zero_successes_is_the_rule_of_three_exact_form():
    # the exact upper limit for 0/n is 1 - (alpha/2)^(1/n)
    assert clopper_pearson(0, 30)[1] == pytest.approx(1 - 0.025 ** (1 / 30), rel=1e-12)


def _two_arms(first: list[str], second: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"arm": ["ICI"] * len(first) + ["non-ICI"] * len(second),
                         "best_response": first + second})


def test_counts_rates_intervals_and_chi_square_by_hand():
    df = _two_arms(["CR"] * 5 + ["PR"] * 54 + ["SD"] * 75 + ["PD"] * 60 + ["NE"] * 6,
                   ["CR"] * 1 + ["PR"] * 29 + ["SD"] * 123 + ["PD"] * 130 + ["NE"] * 13)
    result = response_summary(df)
    assert list(result.columns) == ["arm", "n", "cr", "pr", "sd", "pd", "ne", "orr",
                                    "orr_ci_lower", "orr_ci_upper", "dcr", "dcr_ci_lower",
                                    "dcr_ci_upper", "orr_p_value", "dcr_p_value", "ci_method",
                                    "test_method"]
    result = result.set_index("arm")
    assert result.loc["ICI", ["n", "cr", "pr", "sd", "pd", "ne"]].tolist() == [200, 5, 54, 75,
                                                                               60, 6]
    assert result.loc["ICI", "orr"] == pytest.approx(59 / 200)  # NE stays in n
    assert result.loc["non-ICI", "dcr"] == pytest.approx(153 / 296)
    assert (result.loc["ICI", "orr_ci_lower"], result.loc["ICI", "orr_ci_upper"]) == \
        pytest.approx(clopper_pearson(59, 200))
    # Pearson chi-square without continuity correction, by the 2x2 shortcut formula
    a, b, c, d = 59, 141, 30, 266
    n = a + b + c + d
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert result.loc["ICI", "orr_p_value"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-10)
    a, b, c, d = 134, 66, 153, 143
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert result.loc["ICI", "dcr_p_value"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-10)
    assert (result["orr_p_value"].nunique(), result["dcr_p_value"].nunique()) == (1, 1)
    assert result.loc["ICI", "test_method"] == (
        "ORR: Pearson chi-square without continuity correction; "
        "DCR: Pearson chi-square without continuity correction")
    assert result.loc["ICI", "ci_method"] == "Clopper-Pearson exact 95% interval"


def test_fisher_exact_when_an_expected_count_is_below_five():
    df = _two_arms(["PR"] * 4 + ["PD"] * 6, ["SD"] * 3 + ["PD"] * 7)
    result = response_summary(df).iloc[0]
    # ORR table [[4, 6], [0, 10]]: expected 2 < 5 -> Fisher; DCR [[4, 6], [3, 7]] too
    assert result["orr_p_value"] == pytest.approx(
        stats.fisher_exact([[4, 6], [0, 10]]).pvalue, rel=1e-12)
    assert result["dcr_p_value"] == pytest.approx(
        stats.fisher_exact([[4, 6], [3, 7]]).pvalue, rel=1e-12)
    assert result["test_method"] == "ORR: Fisher exact, two-sided; DCR: Fisher exact, two-sided"


def test_the_switch_happens_exactly_at_an_expected_count_of_five():
    # 2 x 10 patients, 10 responders overall: every expected count is exactly 5
    df = _two_arms(["PR"] * 6 + ["PD"] * 4, ["PR"] * 4 + ["PD"] * 6)
    assert response_summary(df).loc[0, "test_method"].startswith("ORR: Pearson")
    df = _two_arms(["PR"] * 6 + ["PD"] * 4, ["PR"] * 3 + ["PD"] * 7)  # expected 4.5
    assert response_summary(df).loc[0, "test_method"].startswith("ORR: Fisher")


def test_alpha_changes_interval_and_label():
    df = _two_arms(["PR"] * 6 + ["PD"] * 4, ["PR"] * 4 + ["PD"] * 6)
    result = response_summary(df, alpha=0.1).iloc[0]
    assert (result["orr_ci_lower"], result["orr_ci_upper"]) == pytest.approx(
        clopper_pearson(6, 10, alpha=0.1))
    assert result["ci_method"] == "Clopper-Pearson exact 90% interval"


@pytest.mark.parametrize(("codes", "message"), [(["CR", "XX"], "XX"), (["CR", None], "missing")])
def test_unknown_or_missing_codes_are_rejected(codes, message):
    df = pd.DataFrame({"arm": ["ICI", "non-ICI"], "best_response": codes})
    with pytest.raises(ValueError, match=message):
        response_summary(df)


def test_exactly_two_arms_are_required():
    df = pd.DataFrame({"arm": ["a", "b", "c"], "best_response": ["CR", "PR", "SD"]})
    with pytest.raises(ValueError, match="two arms"):
        response_summary(df)

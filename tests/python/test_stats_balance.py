"""rwe_stats.balance: standardised mean differences (Austin 2009 formulas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rwe_stats.balance import BINARY, CONTINUOUS, standardized_mean_differences


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame({"t": [True, True, True, False, False, False, False],
                         "age": [60, 70, 80, 50, 60, 70, 80],
                         "liver": [True, False, False, True, True, False, False],
                         "sex": ["m", "f", "m", "f", "f", "m", "f"]})


def test_smd_equals_hand_formulas(small):
    result = standardized_mean_differences(small, "t", ["age", "liver", "sex"], "all")
    assert list(result.columns) == ["covariate", "level", "cohort", "mean_treated",
                                    "mean_control", "n_treated", "n_control", "count_treated",
                                    "count_control", "smd", "smd_method"]
    age = result[result["covariate"] == "age"].iloc[0]
    # treated 60, 70, 80: mean 70, var 100; control 50..80: mean 65, var 166.67 (ddof 1)
    assert age["smd"] == pytest.approx((70 - 65) / np.sqrt((100 + 500 / 3) / 2), rel=1e-12)
    assert (age["mean_treated"], age["mean_control"]) == (70, 65)
    assert age["smd_method"] == CONTINUOUS and age["level"] is None
    liver = result[result["covariate"] == "liver"].iloc[0]
    p_t, p_c = 1 / 3, 2 / 4
    assert liver["smd"] == pytest.approx(
        (p_t - p_c) / np.sqrt((p_t * (1 - p_t) + p_c * (1 - p_c)) / 2), rel=1e-12)
    assert liver["smd_method"] == BINARY
    # liver: treated T, F, F -> 1; control T, T, F, F -> 2 (by hand)
    assert (liver["count_treated"], liver["count_control"]) == (1, 2)
    assert pd.isna(age["count_treated"]) and pd.isna(age["count_control"])
    sex = result[result["covariate"] == "sex"].set_index("level")
    assert list(sex.index) == ["f", "m"]
    p_t, p_c = 2 / 3, 1 / 4
    assert sex.loc["m", "smd"] == pytest.approx(
        (p_t - p_c) / np.sqrt((p_t * (1 - p_t) + p_c * (1 - p_c)) / 2), rel=1e-12)
    assert sex.loc["f", "smd"] == pytest.approx(-sex.loc["m", "smd"], rel=1e-12)
    assert sex["count_treated"].tolist() == [1, 2] and sex["count_control"].tolist() == [3, 1]
    assert (result["n_treated"] == 3).all() and (result["n_control"] == 4).all()
    assert set(result["cohort"]) == {"all"}


def test_boolean_columns_from_duckdb_object_dtype_are_binary(small):
    as_object = small.assign(liver=small["liver"].astype(object), t=small["t"].astype(object))
    a = standardized_mean_differences(small, "t", ["liver"], "all")
    b = standardized_mean_differences(as_object, "t", ["liver"], "all")
    pd.testing.assert_frame_equal(a, b)


def test_smd_is_zero_when_balanced_and_signed_treated_minus_control():
    df = pd.DataFrame({"t": [True, False] * 50, "x": np.tile([1.0, 1.0, 2.0, 2.0], 25)})
    assert standardized_mean_differences(df, "t", ["x"], "m").loc[0, "smd"] == 0.0
    df["x"] = np.where(df["t"], 2.0, 1.0) + np.tile([0.0, 0.0, 0.1, 0.1], 25)
    assert standardized_mean_differences(df, "t", ["x"], "m").loc[0, "smd"] > 0


def test_missing_values_and_one_arm_are_rejected(small):
    with pytest.raises(ValueError, match="covariate age has missing"):
        standardized_mean_differences(small.assign(age=[None] + [1] * 6), "t", ["age"], "all")
    with pytest.raises(ValueError, match="treated and control"):
        standardized_mean_differences(small.assign(t=True), "t", ["age"], "all")

"""rwe_stats.evalue: E-values of hazard ratios (VanderWeele and Ding 2017).

R's EValue package is not in Debian: the expected values are the paper's
worked example and closed forms computed by hand in this file.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rwe_stats.evalue import (
    evalue_of_risk_ratio,
    evalues_for_hazard_ratio,
    evalues_for_table,
    hazard_ratio_to_risk_ratio,
)


def _evalue_by_hand(rr: float) -> float:
    if rr < 1:
        rr = 1 / rr
    return rr + math.sqrt(rr * (rr - 1))


def _common_outcome_rr(hr: float) -> float:
    """VanderWeele (2020): RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)), written out again."""
    return (1 - math.pow(0.5, math.sqrt(hr))) / (1 - math.pow(0.5, math.sqrt(1 / hr)))


def test_the_papers_worked_example():
    """VanderWeele and Ding 2017, Ann Intern Med 167:268, use RR 3.9 (95 % CI 1.8-8.7): the
    E-value is 3.9 + sqrt(3.9 x 2.9) = 7.26, and 1.8 + sqrt(1.8 x 0.8) = 3 exactly for the
    lower limit."""
    row = evalues_for_hazard_ratio(3.9, 1.8, 8.7, outcome_proportion=0.05)
    assert row["is_rare_outcome"] and row["rr"] == 3.9
    assert row["evalue"] == pytest.approx(7.26, abs=5e-3)
    assert row["evalue_ci"] == pytest.approx(3.0, rel=1e-12)  # 1.8 + sqrt(1.8 x 0.8) = 3
    assert row["estimation_status"] == "estimated"


@pytest.mark.parametrize(("hr", "lower", "upper", "proportion"), [
    (0.56, 0.46, 0.69, 0.6),   # protective, common outcome: the upper limit is used
    (0.56, 0.46, 0.69, 0.1),   # the same, rare outcome
    (1.8, 1.2, 2.7, 0.8),      # harmful, common: the lower limit
    (0.8, 0.6, 1.05, 0.7),     # CI includes 1: E-value of the CI is 1
])
def test_evalues_equal_hand_computed_closed_forms(hr, lower, upper, proportion):
    row = evalues_for_hazard_ratio(hr, lower, upper, outcome_proportion=proportion)
    rare = proportion < 0.15
    convert = (lambda x: x) if rare else _common_outcome_rr
    rr, rr_lower, rr_upper = convert(hr), convert(lower), convert(upper)
    assert row["rr"] == pytest.approx(rr, rel=1e-12)
    assert row["evalue"] == pytest.approx(_evalue_by_hand(rr), rel=1e-12)
    if rr_lower <= 1 <= rr_upper:
        expected_ci = 1.0
    else:
        expected_ci = _evalue_by_hand(rr_upper if rr < 1 else rr_lower)
    assert row["evalue_ci"] == pytest.approx(expected_ci, rel=1e-12)
    assert row["is_rare_outcome"] == rare
    assert ("RR ~ HR" in row["rr_rule"]) == rare


def test_the_rare_rule_switches_at_15_percent():
    assert evalues_for_hazard_ratio(0.7, 0.5, 0.9, 0.1499)["is_rare_outcome"]
    assert not evalues_for_hazard_ratio(0.7, 0.5, 0.9, 0.15)["is_rare_outcome"]
    # the square-root transform pulls a common outcome's HR towards 1: smaller E-value
    rare = evalues_for_hazard_ratio(0.7, 0.5, 0.9, 0.1)["evalue"]
    common = evalues_for_hazard_ratio(0.7, 0.5, 0.9, 0.9)["evalue"]
    assert common < rare


def test_transform_and_evalue_are_symmetric_and_fix_1():
    assert hazard_ratio_to_risk_ratio(1.0, rare=False) == pytest.approx(1.0, rel=1e-15)
    for hr in (0.3, 0.7, 1.4, 3.0):
        assert hazard_ratio_to_risk_ratio(1 / hr, rare=False) == pytest.approx(
            1 / hazard_ratio_to_risk_ratio(hr, rare=False), rel=1e-12)
        assert evalue_of_risk_ratio(hr) == pytest.approx(evalue_of_risk_ratio(1 / hr), rel=1e-12)
    assert evalue_of_risk_ratio(1.0) == 1.0


def test_table_keeps_failed_models_as_rows_and_rejects_missing_values():
    table = pd.DataFrame({"endpoint": ["pfs", "os"], "hr": [0.7, np.nan],
                          "ci_lower": [0.55, np.nan], "ci_upper": [0.9, np.nan],
                          "share": [0.8, 0.6],
                          "estimation_status": ["estimated", "not_estimable"]})
    out = evalues_for_table(table, "share", keep_cols=("endpoint",))
    assert out["endpoint"].tolist() == ["pfs", "os"]
    assert out["estimation_status"].tolist() == ["estimated", "not_estimable"]
    assert out["status_reason"].tolist() == [None, "input_not_estimated"]
    assert out.loc[0, "evalue"] == pytest.approx(
        _evalue_by_hand(_common_outcome_rr(0.7)), rel=1e-12)
    with pytest.raises(ValueError, match="must be present"):
        evalues_for_table(table.drop(columns="estimation_status"), "share")
    with pytest.raises(ValueError, match="must contain"):
        evalues_for_hazard_ratio(0.7, 0.8, 0.9, 0.5)
    with pytest.raises(ValueError, match="positive"):
        evalues_for_hazard_ratio(0.0, 0.0, 0.9, 0.5)
    with pytest.raises(ValueError, match="outcome_proportion"):
        evalues_for_hazard_ratio(0.7, 0.6, 0.9, 1.5)

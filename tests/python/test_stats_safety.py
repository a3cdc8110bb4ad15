"""rwe_stats.safety: worst grade per patient and term, all cells, small-cell suppression."""

from __future__ import annotations

import pandas as pd
import pytest

from rwe_stats.safety import safety_summary


@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": [f"p{i}" for i in range(20)],
                         "arm": ["ICI"] * 10 + ["non-ICI"] * 10})


@pytest.fixture
def events() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["p0", "p0", "p1", "p2", "p3", "p4", "p5", "p10", "p11"],
        "arm": ["ICI"] * 7 + ["non-ICI"] * 2,
        "ae_term": ["Rash"] * 8 + ["Colitis"],
        "ctcae_grade": [1, 3, 1, 2, 1, 1, 2, 3, 2],
    })


def test_counts_worst_grade_once_and_suppresses_small_cells(cohort, events):
    result = safety_summary(events, cohort, min_cell_count=3)
    assert list(result.columns) == ["ae_term", "grade_band", "arm", "patients", "arm_n",
                                    "percent", "is_suppressed", "count_method",
                                    "min_cell_count", "suppression_rule"]
    assert result["count_method"].str.contains("worst CTCAE grade").all()
    assert (result["min_cell_count"] == 3).all()
    cells = result.set_index(["ae_term", "grade_band", "arm"])
    # every term x band x arm, zeros included: 2 terms x 2 bands x 2 arms
    assert len(result) == 8 and cells.index.is_unique
    rash_any_ici = cells.loc[("Rash", "any grade", "ICI")]
    assert rash_any_ici["patients"] == 6  # p0 counted once despite two rows
    assert rash_any_ici["percent"] == pytest.approx(60.0)
    assert rash_any_ici["arm_n"] == 10 and not rash_any_ici["is_suppressed"]
    severe = cells.loc[("Rash", "grade 3 or higher", "ICI")]  # only p0 (worst grade 3)
    assert severe["is_suppressed"] and pd.isna(severe["patients"]) and pd.isna(severe["percent"])
    zero = cells.loc[("Colitis", "any grade", "ICI")]
    assert zero["patients"] == 0 and zero["percent"] == 0.0 and not zero["is_suppressed"]
    assert cells.loc[("Colitis", "grade 3 or higher", "non-ICI"), "patients"] == 0


def test_suppression_boundary_is_strictly_below_min_cell_count(cohort, events):
    # 10 more ICI patients without AEs, so the 14 ICI patients without rash are no
    # small cell at these thresholds (the complement rule is tested below)
    cohort = pd.concat([cohort, pd.DataFrame({"patient_id": [f"q{i}" for i in range(10)],
                                              "arm": "ICI"})])
    result = safety_summary(events, cohort, min_cell_count=6).set_index(
        ["ae_term", "grade_band", "arm"])
    assert result.loc[("Rash", "any grade", "ICI"), "patients"] == 6  # 6 is not < 6
    result = safety_summary(events, cohort, min_cell_count=7).set_index(
        ["ae_term", "grade_band", "arm"])
    assert result.loc[("Rash", "any grade", "ICI"), "is_suppressed"]
    result = safety_summary(events, cohort, min_cell_count=1)
    assert not result["is_suppressed"].any()


def test_the_other_band_is_suppressed_when_the_difference_would_be_a_small_count():
    # 8 ICI patients with any-grade rash, 6 of them grade 3: both counts are >= 5, but
    # any grade - grade 3+ = 2 patients at grade 1-2, so one of them must go (the
    # smaller, grade 3+); 2 without rash (10 - 8) is small too, so any grade goes as well
    cohort = pd.DataFrame({"patient_id": [f"p{i}" for i in range(30)],
                           "arm": ["ICI"] * 10 + ["non-ICI"] * 20})
    events = pd.DataFrame({"patient_id": [f"p{i}" for i in range(8)] + ["p10"],
                           "arm": ["ICI"] * 8 + ["non-ICI"], "ae_term": "Rash",
                           "ctcae_grade": [3] * 6 + [1, 2, 1]})
    result = safety_summary(events, cohort, min_cell_count=5).set_index(["grade_band", "arm"])
    assert result.loc[("grade 3 or higher", "ICI"), "is_suppressed"]
    assert result.loc[("any grade", "ICI"), "is_suppressed"]
    # the same with 20 ICI patients: 12 without rash, only the grade 3+ cell goes
    bigger = pd.concat([cohort, pd.DataFrame({"patient_id": [f"q{i}" for i in range(10)],
                                              "arm": "ICI"})])
    result = safety_summary(events, bigger, min_cell_count=5).set_index(["grade_band", "arm"])
    assert result.loc[("grade 3 or higher", "ICI"), "is_suppressed"]
    assert result.loc[("any grade", "ICI"), "patients"] == 8
    assert pd.isna(result.loc[("grade 3 or higher", "ICI"), "percent"])
    # non-ICI: 1 patient with rash (small), 0 at grade 3+ (shown)
    assert result.loc[("any grade", "non-ICI"), "is_suppressed"]
    assert result.loc[("grade 3 or higher", "non-ICI"), "patients"] == 0


def test_denominator_is_the_whole_arm_of_the_cohort(cohort, events):
    bigger = pd.concat([cohort, pd.DataFrame({"patient_id": ["p20", "p21"],
                                              "arm": ["ICI", "ICI"]})])
    result = safety_summary(events, bigger, min_cell_count=1).set_index(
        ["ae_term", "grade_band", "arm"])
    assert result.loc[("Rash", "any grade", "ICI"), "arm_n"] == 12
    assert result.loc[("Rash", "any grade", "ICI"), "percent"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"patient_id": "p99"}, "not in the cohort"), ({"arm": "non-ICI"}, "arm differs"),
     ({"ctcae_grade": 7}, "ctcae_grade"), ({"ae_term": None}, "missing values")],
)
def test_inconsistent_adverse_events_are_rejected(cohort, events, change, message):
    broken = events.copy()
    for column, value in change.items():
        broken.loc[0, column] = value
    with pytest.raises(ValueError, match=message) as raised:
        safety_summary(broken, cohort, min_cell_count=3)
    assert "p99" not in str(raised.value)  # counts, never a patient's identifier


def test_min_cell_count_must_be_positive(cohort, events):
    with pytest.raises(ValueError, match="min_cell_count"):
        safety_summary(events, cohort, min_cell_count=0)


def categorical(values, categories) -> pd.Categorical:
    return pd.Categorical(values, categories=categories)


def test_categorical_inputs_give_the_same_table_and_no_rows_for_unused_categories(cohort, events):
    """As rwe_study.inputs.read_compact_columns reads them: categories not in text order, each
    frame its own, and categories no row holds (a placebo arm, a Fatigue term) add no rows."""
    compact_events = events.assign(
        patient_id=categorical(events["patient_id"], ["p11", "p10", *events["patient_id"][:7]
                                                      .unique(), "p19"]),
        arm=categorical(events["arm"], ["non-ICI", "ICI"]),
        ae_term=categorical(events["ae_term"], ["Rash", "Fatigue", "Colitis"]))
    compact_cohort = cohort.assign(arm=categorical(cohort["arm"], ["placebo", "non-ICI", "ICI"]))
    expected = safety_summary(events, cohort, min_cell_count=3)
    pd.testing.assert_frame_equal(safety_summary(compact_events, compact_cohort, min_cell_count=3),
                                  expected)
    compact_cohort["patient_id"] = compact_cohort["patient_id"].astype("category")
    pd.testing.assert_frame_equal(safety_summary(compact_events, compact_cohort, min_cell_count=3),
                                  expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"patient_id": "p99"}, "1 patient"), ({"arm": "non-ICI"}, "arm differs"),
     ({"arm": "placebo"}, "arm differs")],
)
def test_inconsistent_categorical_adverse_events_are_rejected(cohort, events, change, message):
    broken = events.copy()
    for column, value in change.items():
        broken.loc[0, column] = value
    broken = broken.astype({"patient_id": "category", "arm": "category", "ae_term": "category"})
    with pytest.raises(ValueError, match=message) as raised:
        safety_summary(broken, cohort.astype({"arm": "category"}), min_cell_count=3)
    assert "p99" not in str(raised.value)

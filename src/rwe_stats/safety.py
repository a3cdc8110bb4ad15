"""Adverse-event frequencies per arm with small-cell suppression."""

from __future__ import annotations

import pandas as pd

from rwe_stats._checks import require_columns, require_unique
from rwe_stats.disclosure import protect_counts, suppression_rule

__all__ = ["COUNT_METHOD", "GRADE_BANDS", "safety_summary"]

GRADE_BANDS = (("any grade", 1), ("grade 3 or higher", 3))
COUNT_METHOD = ("patients counted once per term at their worst CTCAE grade; bands any grade "
                "(grade >= 1) and grade 3 or higher; denominator every cohort patient of the arm")
COLUMNS = ["ae_term", "grade_band", "arm", "patients", "arm_n", "percent", "is_suppressed",
           "count_method", "min_cell_count", "suppression_rule"]


def safety_summary(adverse_events: pd.DataFrame, cohort: pd.DataFrame,
                   min_cell_count: int) -> pd.DataFrame:
    """Patients with each adverse-event term, by grade band and arm, with suppression.

    Method: a patient counts once per term and band, by the worst CTCAE grade
    recorded for that term: band ``any grade`` (grade >= 1) and ``grade 3 or
    higher``. ``arm_n`` is the number of cohort patients of the arm (the
    denominator includes patients without any adverse event) and
    ``percent = 100 * patients / arm_n``. Every term x band x arm
    combination is reported, zeros included. The arm is taken from
    ``cohort``.

    Disclosure control (:func:`rwe_stats.disclosure.protect_counts`), per
    term and arm: the patients with worst grade 1-2, with worst grade 3-5
    and without the term are the atoms; ``any grade`` (1-2 plus 3-5) and
    ``grade 3 or higher`` are the cells; ``arm_n`` is public. A count with
    ``0 < patients < min_cell_count`` is suppressed, and so is the other band
    when together they would give a small count back (``any grade`` minus
    ``grade 3 or higher`` = patients at grade 1-2; ``arm_n`` minus ``any
    grade`` = patients without the term). Suppressed: ``patients`` and
    ``percent`` null, ``is_suppressed`` true. Zero is shown (it discloses
    no one).

    Parameters
    ----------
    adverse_events
        ``patient_id``, ``arm``, ``ae_term``, ``ctcae_grade`` (integer 1-5);
        every patient must be in ``cohort`` with the same arm.
    cohort
        One row per patient: ``patient_id``, ``arm``.
    min_cell_count
        Smallest count shown (e.g. 5).

    Returns
    -------
    pandas.DataFrame
        ``ae_term``, ``grade_band``, ``arm``, ``patients`` (nullable
        integer), ``arm_n``, ``percent`` (nullable float), ``is_suppressed``,
        ``count_method``, ``min_cell_count``, ``suppression_rule``; sorted
        by term, band and arm.
    """
    require_columns(adverse_events, ["patient_id", "arm", "ae_term", "ctcae_grade"],
                    "the safety summary")
    require_columns(cohort, ["patient_id", "arm"], "the safety summary")
    require_unique(cohort, "patient_id")
    if int(min_cell_count) != min_cell_count or min_cell_count < 1:
        raise ValueError("min_cell_count must be a whole number >= 1")
    if cohort["arm"].isna().any():
        raise ValueError("cohort arm has missing values")
    events = adverse_events[["patient_id", "arm", "ae_term", "ctcae_grade"]]
    if events.isna().any().any():
        raise ValueError("adverse_events has missing values in patient_id, arm, ae_term or "
                         "ctcae_grade")
    grades = pd.to_numeric(events["ctcae_grade"], errors="coerce")
    if grades.isna().any() or not grades.between(1, 5).all() or (grades % 1 != 0).any():
        raise ValueError("ctcae_grade must be an integer from 1 to 5")
    arms = cohort.set_index("patient_id")["arm"]
    cohort_arm = events["patient_id"].map(arms)
    if cohort_arm.isna().any():
        # Counts, never identifiers: an error message may reach a shared log.
        missing = events.loc[cohort_arm.isna(), "patient_id"].nunique()
        raise ValueError(f"adverse_events has {missing} patient(s) not in the cohort; "
                         "filter adverse events to the cohort first")
    if (cohort_arm != events["arm"]).any():
        raise ValueError("adverse_events arm differs from the cohort arm for some patients")

    worst = (events.assign(ctcae_grade=grades)
             .groupby(["patient_id", "arm", "ae_term"], as_index=False)["ctcae_grade"].max())
    arm_n = cohort.groupby("arm")["patient_id"].nunique()
    rows = []
    cells = {"any grade": ["grade 1-2", "grade 3-5"], "grade 3 or higher": ["grade 3-5"],
             "arm_n": ["grade 1-2", "grade 3-5", "none"]}
    for term in sorted(worst["ae_term"].unique()):
        of_term = worst[worst["ae_term"] == term]
        counts = {band: of_term[of_term["ctcae_grade"] >= minimum].groupby("arm")["patient_id"]
                  .size() for band, minimum in GRADE_BANDS}
        hidden = {}
        for arm, n in arm_n.items():
            severe = int(counts["grade 3 or higher"].get(arm, 0))
            any_grade = int(counts["any grade"].get(arm, 0))
            atoms = {"grade 1-2": any_grade - severe, "grade 3-5": severe,
                     "none": int(n) - any_grade}
            hidden[arm] = protect_counts(atoms, cells, min_cell_count, fixed=["arm_n"])
        for band, _ in GRADE_BANDS:
            for arm, n in arm_n.items():
                patients = int(counts[band].get(arm, 0))
                suppressed = band in hidden[arm]
                rows.append({
                    "ae_term": term, "grade_band": band, "arm": arm,
                    "patients": None if suppressed else patients, "arm_n": int(n),
                    "percent": None if suppressed else 100.0 * patients / n,
                    "is_suppressed": suppressed,
                })
    result = pd.DataFrame(rows, columns=COLUMNS[:7]).assign(
        count_method=COUNT_METHOD, min_cell_count=int(min_cell_count),
        suppression_rule=suppression_rule(min_cell_count, "patient counts"))
    return result.astype({"patients": "Int64", "arm_n": "int64", "percent": "Float64",
                          "is_suppressed": bool})

"""Adverse-event frequencies per arm with small-cell suppression."""

from __future__ import annotations

import numpy as np
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

        Text columns of either frame may be strings or categoricals (each
        frame with its own categories); categories no row holds give no
        rows, and terms and arms are ordered as text either way.
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
    if any(adverse_events[column].isna().any()
           for column in ["patient_id", "arm", "ae_term", "ctcae_grade"]):
        raise ValueError("adverse_events has missing values in patient_id, arm, ae_term or "
                         "ctcae_grade")
    grades = pd.to_numeric(adverse_events["ctcae_grade"], errors="coerce")
    if grades.isna().any() or not grades.between(1, 5).all() or (grades % 1 != 0).any():
        raise ValueError("ctcae_grade must be an integer from 1 to 5")
    # Each row as positions (its patient's cohort row, its term), so nothing below hashes or
    # compares a string per row.
    arms, terms = _present(cohort["arm"]), _present(adverse_events["ae_term"])
    cohort_arm = _positions(cohort["arm"], arms)
    patient = _positions(adverse_events["patient_id"],
                         pd.Index(cohort["patient_id"].to_numpy(dtype=object)))
    if (patient < 0).any():
        # Counts, never identifiers: an error message may reach a shared log.
        missing = adverse_events["patient_id"][patient < 0].nunique()
        raise ValueError(f"adverse_events has {missing} patient(s) not in the cohort; "
                         "filter adverse events to the cohort first")
    if (_positions(adverse_events["arm"], arms) != cohort_arm[patient]).any():
        raise ValueError("adverse_events arm differs from the cohort arm for some patients")

    # A patient's worst grade for a term reaches a band's minimum exactly when one of their
    # rows for the term does: count the distinct patient x term pairs among those rows.
    pair = patient * len(terms) + _positions(adverse_events["ae_term"], terms)
    counts = {}
    for band, minimum in GRADE_BANDS:
        pairs = np.unique(pair[(grades >= minimum).to_numpy(dtype=bool)])
        cell = pairs % len(terms) * len(arms) + cohort_arm[pairs // len(terms)]
        counts[band] = np.bincount(cell, minlength=len(terms) * len(arms)).reshape(
            len(terms), len(arms))
    arm_n = np.bincount(cohort_arm, minlength=len(arms))
    rows = []
    cells = {"any grade": ["grade 1-2", "grade 3-5"], "grade 3 or higher": ["grade 3-5"],
             "arm_n": ["grade 1-2", "grade 3-5", "none"]}
    for term_position, term in enumerate(terms):
        hidden = []
        for arm_position, n in enumerate(arm_n):
            severe = int(counts["grade 3 or higher"][term_position, arm_position])
            any_grade = int(counts["any grade"][term_position, arm_position])
            atoms = {"grade 1-2": any_grade - severe, "grade 3-5": severe,
                     "none": int(n) - any_grade}
            hidden.append(protect_counts(atoms, cells, min_cell_count, fixed=["arm_n"]))
        for band, _ in GRADE_BANDS:
            for arm_position, (arm, n) in enumerate(zip(arms, arm_n, strict=True)):
                patients = int(counts[band][term_position, arm_position])
                suppressed = band in hidden[arm_position]
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


def _present(values: pd.Series) -> pd.Index:
    """The distinct values of ``values``, sorted; a categorical's unused categories left out."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Index(sorted(values.cat.categories[np.unique(values.cat.codes)]))
    return pd.Index(sorted(values.unique()))


def _positions(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Each value's position in ``index`` (unique), -1 where it is not there.

    A categorical is looked up once per category, not once per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.append(index.get_indexer(values.cat.categories), -1)[values.cat.codes.to_numpy()]
    return index.get_indexer(values)

"""Adverse-event frequencies per arm with small-cell suppression."""

from __future__ import annotations

import pandas as pd

from rwe_stats._checks import require_columns

GRADE_BANDS = (("any grade", 1), ("grade 3 or higher", 3))


def safety_summary(adverse_events: pd.DataFrame, cohort: pd.DataFrame,
                   min_cell_count: int) -> pd.DataFrame:
    """Patients with each adverse-event term, by grade band and arm.

    A patient counts once per term and band (worst grade). Every term x band
    x arm combination is reported, zeros included. For BI use, a count with
    0 < patients < ``min_cell_count`` is suppressed: ``patients`` and
    ``percent`` are null and ``is_suppressed`` is true (zero is not
    disclosive and is shown).

    Returns
    -------
    pandas.DataFrame
        ``ae_term``, ``grade_band``, ``arm``, ``patients``, ``arm_n``,
        ``percent`` (of the arm), ``is_suppressed``.
    """
    require_columns(adverse_events, ["patient_id", "arm", "ae_term", "ctcae_grade"],
                    "the safety summary")
    require_columns(cohort, ["patient_id", "arm"], "the safety summary")
    if min_cell_count < 1:
        raise ValueError("min_cell_count must be at least 1")
    arm_n = cohort.groupby("arm")["patient_id"].nunique()
    worst = adverse_events.groupby(["patient_id", "arm", "ae_term"], as_index=False)[
        "ctcae_grade"].max()
    rows = []
    for term in sorted(worst["ae_term"].unique()):
        for band, minimum in GRADE_BANDS:
            for arm, n in arm_n.items():
                patients = int(((worst["ae_term"] == term) & (worst["arm"] == arm)
                                & (worst["ctcae_grade"] >= minimum)).sum())
                suppressed = 0 < patients < min_cell_count
                rows.append({
                    "ae_term": term, "grade_band": band, "arm": arm,
                    "patients": None if suppressed else patients, "arm_n": int(n),
                    "percent": None if suppressed else 100.0 * patients / n,
                    "is_suppressed": suppressed,
                })
    result = pd.DataFrame(rows, columns=["ae_term", "grade_band", "arm", "patients", "arm_n",
                                         "percent", "is_suppressed"])
    return result.astype({"patients": "Int64", "percent": "Float64"})

"""rwe_stats.censoring: censoring reasons per arm and interval, and their disclosure control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_stats_disclosure import _assert_protected

from rwe_stats.censoring import CENSORING_REASONS, censoring_reasons_over_time, classify_censoring
from rwe_stats.disclosure import suppress_censoring_table

CUTOFF = "2024-06-30"


def _patients() -> pd.DataFrame:
    """Hand-made patients, one per rule (and its boundary)."""
    rows = [  # months, event, arm, follow-up end, last contact, expected reason
        (3.0, True, "ICI", "2023-09-01", "2023-09-01", None),
        (10.0, False, "ICI", CUTOFF, "2024-05-01", "data_cutoff"),
        (11.0, False, "ICI", CUTOFF, None, "data_cutoff"),  # no contact recorded: at cut-off
        (4.0, False, "ICI", "2024-01-01", "2024-04-01", "last_contact_before_cutoff"),
        # 90 days before the cut-off is still in the window; 91 is lost
        (7.0, False, "non-ICI", "2024-04-01", "2024-04-01", "last_contact_before_cutoff"),
        (6.5, False, "non-ICI", "2024-03-31", "2024-03-31", "lost_to_follow_up"),
        (1.0, False, "non-ICI", "2023-02-01", "2023-02-01", "lost_to_follow_up"),
        # PFS censored at the last assessment while contact goes on: not lost
        (2.0, False, "non-ICI", "2023-03-01", "2024-06-20", "last_contact_before_cutoff"),
    ]
    frame = pd.DataFrame(rows, columns=["months", "event", "arm", "end_date", "last_contact",
                                        "expected"])
    return frame.assign(cutoff=CUTOFF)


def test_each_rule_and_the_window_boundary():
    patients = _patients()
    reasons = classify_censoring(patients, "event", "end_date", "last_contact", "cutoff", 90)
    assert reasons.tolist() == patients["expected"].tolist()
    assert set(reasons.dropna()) <= set(CENSORING_REASONS)


def test_counts_per_arm_interval_and_reason_equal_a_direct_count():
    rng = np.random.default_rng(5)
    n = 300
    cutoff = pd.Timestamp(CUTOFF)
    months = np.round(rng.uniform(0, 29.9, n), 1)
    event = rng.random(n) < 0.5
    at_cutoff = ~event & (rng.random(n) < 0.4)
    days_before = np.where(at_cutoff, 0, rng.integers(1, 400, n))
    end = cutoff - pd.to_timedelta(days_before, unit="D")
    contact = end - pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    patients = pd.DataFrame({"months": months, "event": event,
                             "arm": np.where(rng.random(n) < 0.5, "ICI", "non-ICI"),
                             "end_date": end, "last_contact": contact, "cutoff": cutoff})
    table = censoring_reasons_over_time(patients, "months", "event", "arm", "end_date",
                                        "last_contact", "cutoff", 120, interval_months=6)
    assert len(table) == 2 * 5 * 3  # every arm x interval x reason, zeros included
    assert table["n_censored"].sum() == (~event).sum()
    reasons = classify_censoring(patients, "event", "end_date", "last_contact", "cutoff", 120)
    for _, row in table.iterrows():
        mask = ((patients["arm"] == row["group"]) & (reasons == row["censoring_reason"])
                & (patients["months"] >= row["interval_start_months"])
                & (patients["months"] < row["interval_end_months"]))
        assert row["n_censored"] == mask.sum()


def test_bad_dates_raise_with_positions_not_values():
    patients = _patients()
    with pytest.raises(ValueError, match=r"end_date is after cutoff on rows \[1\]"):
        classify_censoring(patients.assign(end_date=np.where(patients.index == 1, "2024-07-01",
                                                             patients["end_date"])),
                           "event", "end_date", "last_contact", "cutoff", 90)
    with pytest.raises(ValueError, match=r"last_contact is missing .* \(rows \[3\]\)"):
        classify_censoring(patients.assign(last_contact=np.where(patients.index == 3, None,
                                                                 patients["last_contact"])),
                           "event", "end_date", "last_contact", "cutoff", 90)
    with pytest.raises(ValueError, match="not dates"):
        classify_censoring(patients.assign(cutoff="soon"), "event", "end_date", "last_contact",
                           "cutoff", 90)


def test_small_reason_counts_are_protected_against_brute_force():
    patients = _patients()
    table = censoring_reasons_over_time(patients, "months", "event", "arm", "end_date",
                                        "last_contact", "cutoff", 90, interval_months=6)
    protected = suppress_censoring_table(table, min_cell_count=2)
    for _, block in protected.groupby(["group", "interval_start_months"]):
        original = table.loc[block.index]
        atoms = {str(i): int(original.loc[i, "n_censored"]) for i in block.index}
        cells = {atom: [atom] for atom in atoms} | {"total": list(atoms)}
        hidden = {str(i) for i in block.index[block["n_censored"].isna()]}
        _assert_protected(atoms, cells, hidden, k=2, fixed=("total",))
    # the ICI arm's first interval: 1 last contact, 0 cut-off, 0 lost; total 1 is public
    # and small, so nothing can protect it; the 6-12 interval has 2 at cut-off only (>= 2)
    first = protected[(protected["group"] == "ICI") & (protected["interval_start_months"] == 6)]
    assert first["n_censored"].tolist() == [2, 0, 0]
    assert {"is_suppressed", "suppressed_cells", "min_cell_count",
            "suppression_rule"} <= set(protected.columns)

"""Why patients were censored, over time and per arm.

Informative censoring shows as a difference between arms in *why* and *when*
patients leave follow-up. Every censored patient gets one reason, from the
dates the SQL layer supplies:

- ``data_cutoff``: followed up to the data cut-off (administrative
  censoring; includes events after the cut-off, which count as event-free at
  the cut-off);
- ``last_contact_before_cutoff``: follow-up for the endpoint ended before
  the cut-off, but the patient's last contact is within
  ``lost_to_follow_up_days`` of the cut-off (still in care; the endpoint's
  last assessment or contact simply lies before the cut-off);
- ``lost_to_follow_up``: follow-up ended before the cut-off and the last
  contact is more than ``lost_to_follow_up_days`` before it.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from rwe_stats._checks import flag_array, require_columns, survival_arrays

__all__ = ["CENSORING_REASONS", "censoring_reasons_over_time", "classify_censoring"]

CENSORING_REASONS = {
    "data_cutoff": "followed up to the data cut-off",
    "last_contact_before_cutoff": "follow-up ended before the cut-off; last contact within the "
                                  "lost-to-follow-up window before the cut-off",
    "lost_to_follow_up": "follow-up ended before the cut-off; no contact in the "
                         "lost-to-follow-up window before the cut-off",
}
COLUMNS = ["group", "interval_start_months", "interval_end_months", "censoring_reason",
           "n_censored", "censoring_rule"]


def _positions(mask: np.ndarray) -> list[int]:
    """The first five row positions where ``mask`` holds (never the rows' values)."""
    return [int(position) for position in np.flatnonzero(mask)[:5]]


def _dates(df: pd.DataFrame, column: str) -> pd.Series:
    values = df[column]
    present = values.dropna()
    if pd.api.types.is_datetime64_any_dtype(values) or present.map(
            lambda value: isinstance(value, (datetime.date, np.datetime64))).all():
        dates = pd.to_datetime(values)
    else:  # text: ISO dates only, as the warehouse writes them
        dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
    bad = dates.isna() & values.notna()
    if bad.any():
        raise ValueError(f"{column} has {int(bad.sum())} value(s) that are not dates (rows "
                         f"{_positions(bad.to_numpy())})")
    return dates


def classify_censoring(df: pd.DataFrame, event_col: str, end_date_col: str,
                       last_contact_date_col: str, cutoff_date_col: str,
                       lost_to_follow_up_days: int) -> pd.Series:
    """The censoring reason of every patient (null for patients with the event).

    Rules (module docstring): censored with the follow-up end on the data
    cut-off -> ``data_cutoff``; before it -> ``lost_to_follow_up`` if the
    cut-off minus the last contact date is more than
    ``lost_to_follow_up_days`` days, else ``last_contact_before_cutoff``.

    Raises ``ValueError`` (naming the column and rows by position) for a
    missing follow-up end or cut-off date, a follow-up end after the
    cut-off, or a missing last contact date of a patient censored before
    the cut-off.
    """
    require_columns(df, [event_col, end_date_col, last_contact_date_col, cutoff_date_col],
                    "censoring reasons")
    if int(lost_to_follow_up_days) != lost_to_follow_up_days or lost_to_follow_up_days < 0:
        raise ValueError("lost_to_follow_up_days must be a whole number of days >= 0")
    events = flag_array(df, event_col)
    end, last_contact, cutoff = (_dates(df, column) for column in
                                 (end_date_col, last_contact_date_col, cutoff_date_col))
    for column, dates in ((end_date_col, end), (cutoff_date_col, cutoff)):
        if dates.isna().any():
            raise ValueError(f"{column} is missing on rows "
                             f"{_positions(dates.isna().to_numpy())}")
    after = (end > cutoff).to_numpy()
    if after.any():
        raise ValueError(f"{end_date_col} is after {cutoff_date_col} on rows "
                         f"{_positions(after)}: follow-up must stop at the cut-off")
    censored = ~events
    before = censored & (end < cutoff).to_numpy()
    no_contact = before & last_contact.isna().to_numpy()
    if no_contact.any():
        raise ValueError(f"{last_contact_date_col} is missing for patients censored before the "
                         f"cut-off (rows {_positions(no_contact)})")
    gap_days = (cutoff - last_contact).dt.days.to_numpy()
    reasons = np.full(len(df), None, dtype=object)
    reasons[censored & ~before] = "data_cutoff"
    with np.errstate(invalid="ignore"):
        lost = before & (gap_days > lost_to_follow_up_days)
    reasons[lost] = "lost_to_follow_up"
    reasons[before & ~lost] = "last_contact_before_cutoff"
    return pd.Series(reasons, index=df.index, name="censoring_reason")


def censoring_reasons_over_time(df: pd.DataFrame, duration_col: str, event_col: str,
                                group_col: str, end_date_col: str, last_contact_date_col: str,
                                cutoff_date_col: str, lost_to_follow_up_days: int,
                                interval_months: float = 6.0) -> pd.DataFrame:
    """Censored patients per arm, time interval and reason.

    Method: each censored patient's reason from :func:`classify_censoring`;
    the patient is counted in the interval ``[start, start +
    interval_months)`` that holds their follow-up time. Every arm x
    interval x reason cell is present (zeros included), from 0 to the
    interval of the longest follow-up. Counts, not estimates: disclosure
    control is :func:`rwe_stats.disclosure.suppress_censoring_table`.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``interval_start_months``, ``interval_end_months``,
        ``censoring_reason``, ``n_censored``, ``censoring_rule``.
    """
    if not interval_months > 0:
        raise ValueError("interval_months must be positive")
    require_columns(df, [group_col], "censoring reasons")
    if df[group_col].isna().any():
        raise ValueError(f"{group_col} has missing values: every patient needs a group")
    durations, _ = survival_arrays(df, duration_col, event_col)
    reasons = classify_censoring(df, event_col, end_date_col, last_contact_date_col,
                                 cutoff_date_col, lost_to_follow_up_days)
    interval = np.floor(durations / interval_months).astype(int)
    n_intervals = int(interval.max()) + 1 if len(interval) else 0
    censored = reasons.notna().to_numpy()
    counts = (pd.DataFrame({"group": df[group_col].to_numpy()[censored],
                            "interval": interval[censored],
                            "censoring_reason": reasons.to_numpy()[censored]})
              .value_counts().rename("n_censored"))
    grid = pd.MultiIndex.from_product(
        [sorted(df[group_col].unique()), range(n_intervals), list(CENSORING_REASONS)],
        names=["group", "interval", "censoring_reason"])
    table = counts.reindex(grid, fill_value=0).reset_index()
    rule = (f"reason from follow-up end vs data cut-off; lost to follow-up = last contact more "
            f"than {int(lost_to_follow_up_days)} days before the cut-off; intervals of "
            f"{interval_months:g} months by follow-up time")
    return table.assign(
        interval_start_months=table["interval"] * float(interval_months),
        interval_end_months=(table["interval"] + 1) * float(interval_months),
        n_censored=table["n_censored"].astype(int), censoring_rule=rule)[COLUMNS]

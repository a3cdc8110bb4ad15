"""The rows of one cohort and endpoint sorted by (stratum, time), once, for every estimate.

Kaplan-Meier curves, medians, landmarks, the log-rank test and every Cox
fit are sums over the rows of one time (and stratum) or cumulative sums
over times. With the rows grouped by (stratum, time) in sorted order these
are per-group sums and cumulative sums over groups, and the sort is the
only O(n log n) step. The caller sorts once per cohort and endpoint
(:func:`survival_times`) and passes the read-only result to each estimate
of those rows; a subset (a subgroup level) is derived without sorting
again. Nothing is kept between calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rwe_stats._checks import require_columns, survival_arrays


def _read_only(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.flags.writeable = False


@dataclass(frozen=True, eq=False)
class SurvivalTimes:
    """The rows of one cohort and endpoint grouped by (stratum, time), in sorted order.

    Built by :func:`survival_times`; every array is read-only. A group is
    one distinct (stratum, time); groups are numbered by stratum, then time.
    """

    durations: np.ndarray      # per row, input order (checked against each fit's data)
    events: np.ndarray         # per row: event (True) or censored
    strata: np.ndarray         # per row: stratum code (all 0 without strata)
    strata_labels: np.ndarray  # the stratum of each code (sorted values; empty without strata)
    group: np.ndarray          # per row: its group
    order: np.ndarray          # rows sorted by group (the sums never follow this order)
    group_bounds: np.ndarray   # group g is order[group_bounds[g]:group_bounds[g + 1]]
    group_time: np.ndarray     # per group: its time
    stratum_bounds: np.ndarray  # stratum segment s is groups stratum_bounds[s]:[s + 1]
    deaths: np.ndarray         # per group: number of events
    step_group: np.ndarray     # per Efron step: its group (d steps at a group with d deaths)
    step_fraction: np.ndarray  # per Efron step k of d: k / d

    @classmethod
    def _from_order(cls, durations: np.ndarray, events: np.ndarray, strata: np.ndarray,
                    strata_labels: np.ndarray, order: np.ndarray) -> SurvivalTimes:
        times, codes = durations[order], strata[order]
        new_group = np.ones(len(order), dtype=bool)
        new_group[1:] = (times[1:] != times[:-1]) | (codes[1:] != codes[:-1])
        starts = np.flatnonzero(new_group)
        group = np.empty(len(order), dtype=np.intp)
        group[order] = np.cumsum(new_group) - 1
        group_strata = codes[starts]
        stratum_starts = np.flatnonzero(np.r_[True, group_strata[1:] != group_strata[:-1]])
        deaths = np.bincount(group, weights=events.astype(float), minlength=len(starts))
        deaths = deaths.astype(int)
        step_group = np.repeat(np.arange(len(starts)), deaths)
        first_step = np.concatenate(([0], np.cumsum(deaths)[:-1]))
        step_k = np.arange(len(step_group)) - first_step[step_group]
        arrays = (durations, events, strata, strata_labels, group, order,
                  np.append(starts, len(order)),
                  times[starts], np.append(stratum_starts, len(starts)), deaths, step_group,
                  step_k / deaths[step_group])
        _read_only(*arrays)
        return cls(*arrays)

    def subset(self, rows: np.ndarray) -> SurvivalTimes:
        """The grouping of the rows where ``rows`` is True (in their order), without a sort."""
        rows = np.asarray(rows, dtype=bool)
        position = np.cumsum(rows) - 1
        strata, labels = self.strata[rows], self.strata_labels
        if len(labels):  # renumber the strata left, as survival_times of those rows would
            present = np.bincount(strata, minlength=len(labels)) > 0
            strata, labels = (np.cumsum(present) - 1)[strata], labels[present]
        return self._from_order(self.durations[rows], self.events[rows], strata, labels,
                                position[self.order[rows[self.order]]])

    def without_strata(self) -> SurvivalTimes:
        """The same rows grouped by time alone: the strata's sorted runs merge in linear time."""
        order = self.order[np.argsort(self.durations[self.order], kind="stable")]
        return self._from_order(self.durations, self.events, np.zeros_like(self.strata),
                                np.array([], dtype=object), order)

    def cumulative(self, per_group: np.ndarray, reverse: bool = False,
                   exclusive: bool = False) -> np.ndarray:
        """Cumulative sums over each stratum's groups (forward in time, or back with ``reverse``).

        ``reverse`` gives the risk-set sums (groups at the same or a later
        time); ``exclusive`` leaves out the group itself. A loop over strata:
        they are few (centers), and a sum restarted per stratum is exact.
        """
        parts = []
        for start, stop in zip(self.stratum_bounds[:-1], self.stratum_bounds[1:], strict=True):
            part = per_group[start:stop]
            total = np.cumsum(part[::-1], axis=0)[::-1] if reverse else np.cumsum(part, axis=0)
            if exclusive:
                total = np.concatenate((np.zeros_like(part[:1]), total[:-1]))
            parts.append(total)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def stratum_groups(self) -> list[tuple[object, slice]]:
        """(stratum label, its slice of the groups), per stratum that has rows."""
        bounds = self.stratum_bounds
        codes = self.strata[self.order[self.group_bounds[bounds[:-1]]]]
        return [(self.strata_labels[code], slice(start, stop))
                for code, start, stop in zip(codes, bounds[:-1], bounds[1:], strict=True)]

    def require_same_rows(self, frame: pd.DataFrame, duration_col: str, event_col: str,
                          strata_col: str | None) -> None:
        """Raise ``ValueError`` unless these are the rows the grouping was built from."""
        durations, events = survival_arrays(frame, duration_col, event_col)
        strata, labels = strata_codes(frame, strata_col)
        if not (np.array_equal(self.durations, durations) and np.array_equal(self.events, events)
                and np.array_equal(self.strata, strata)
                and np.array_equal(self.strata_labels, labels)):
            raise ValueError("times was built from other rows (durations, events or strata "
                             "differ): build it with survival_times() from the frame fitted")


def strata_codes(frame: pd.DataFrame, strata_col: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Per row the code of its stratum, and the strata (sorted values); all 0 without strata."""
    if strata_col is None:
        return np.zeros(len(frame), dtype=np.intp), np.array([], dtype=object)
    require_columns(frame, [strata_col], "a stratified estimate")
    codes, labels = pd.factorize(frame[strata_col])  # a categorical's codes: no hashing
    if (codes < 0).any():
        raise ValueError(f"{strata_col} has missing values: every row needs a stratum")
    labels = np.asarray(labels, dtype=object)
    order = np.argsort(labels, kind="stable")  # the few labels, sorted by value
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes], labels[order]


def survival_times(frame: pd.DataFrame, duration_col: str, event_col: str,
                   strata_col: str | None = None) -> SurvivalTimes:
    """Sort the rows of ``frame`` once by (stratum, time) for every estimate of those rows.

    Pass the result as ``times=`` to :func:`rwe_stats.regression.cox_table`,
    :func:`rwe_stats.survival.hazard_ratio`,
    :func:`rwe_stats.subgroups.subgroup_hazard_ratios` (and
    ``times_by_group=`` to the Kaplan-Meier functions and the log-rank test
    of :mod:`rwe_stats.survival`, stratified by their group column) for the
    same frame, endpoint and strata; each checks that its rows are these.
    """
    durations, events = survival_arrays(frame, duration_col, event_col)
    strata, labels = strata_codes(frame, strata_col)
    # follow-up times repeat (days or months): hash them, sort the distinct
    # ones, and sort the rows by (stratum, rank of time) -- integers that, in
    # the smallest type that holds them, numpy sorts by radix in linear time
    codes, distinct = pd.factorize(durations)
    time_rank = np.empty(len(distinct), dtype=np.intp)
    time_rank[np.argsort(distinct)] = np.arange(len(distinct))
    key = strata * len(distinct) + time_rank[codes]
    order = np.argsort(key.astype(np.min_scalar_type(key.max(initial=0))), kind="stable")
    return SurvivalTimes._from_order(durations, events, strata, labels, order)

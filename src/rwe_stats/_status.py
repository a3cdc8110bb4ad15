"""Failures as rows: one convention for estimates that cannot be made.

An estimator that meets data it cannot estimate from (no events in an arm,
tau beyond the follow-up, too few centers) returns its row anyway, with null
estimates and a reason, so a study table keeps one row per planned estimate
and the build goes on; only invalid *input* (a missing column, a missing
value, a negative time) raises ``ValueError``.

Every such table has two columns:

- ``estimation_status``: ``"estimated"`` or ``"not_estimable"``;
- ``status_reason``: null when estimated, else one code of :data:`REASONS`
  (stable, machine-readable; the report prints the description).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["ESTIMATED", "NOT_ESTIMABLE", "REASONS", "STATUS_COLUMNS", "NotEstimableError",
           "estimated", "not_estimable", "status_of"]

ESTIMATED = "estimated"
NOT_ESTIMABLE = "not_estimable"
STATUS_COLUMNS = ["estimation_status", "status_reason"]

REASONS = {
    "empty_arm": "an arm has no patients",
    "no_events_before_tau": "neither arm has an event before tau: the RMST difference has no "
                            "variance",
    "tau_beyond_follow_up": "tau is beyond the largest follow-up both arms support (survRM2 rule)",
    "landmark_beyond_follow_up": "the landmark is after an arm's last observed time",
    "survival_reaches_zero": "an arm's Kaplan-Meier estimate is 0 at the landmark: its Greenwood "
                             "variance is undefined",
    "too_few_centers": "fewer than two centers with an estimated hazard ratio",
    "input_not_estimated": "the estimate this row is computed from was not estimable",
    "no_matched_pairs": "no treated patient was matched",
    "no_balance_rows": "no covariate has a finite standardised mean difference",
    "no_events": "the cohort has no events",
    "no_events_in_arm": "an arm has no events: the hazard ratio would be 0 or infinite",
    "no_informative_stratum": "no stratum (center) has patients of both arms: a stratified model "
                              "has no within-stratum comparison",
    "separation": "the Cox model did not converge or its information is singular (separation: "
                  "the likelihood rises toward an infinite hazard ratio)",
    "not_supplied": "the value was not computed by the caller",
}


class NotEstimableError(ValueError):
    """A model the data cannot estimate (not invalid input): its table writes a row with ``reason``.

    A ``ValueError`` (callers that do not make rows keep failing as before);
    callers that make rows catch this class only, never ``ValueError`` at
    large, so invalid input still stops the build.
    """

    def __init__(self, message: str, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown status reason {reason!r}")
        super().__init__(message)
        self.reason = reason


def estimated() -> dict[str, object]:
    """The two status columns of a row that was estimated."""
    return {"estimation_status": ESTIMATED, "status_reason": None}


def not_estimable(reason: str) -> dict[str, object]:
    """The two status columns of a row that could not be estimated, for ``reason``."""
    if reason not in REASONS:
        raise ValueError(f"unknown status reason {reason!r}; add it to rwe_stats._status.REASONS")
    return {"estimation_status": NOT_ESTIMABLE, "status_reason": reason}


def status_of(frame: pd.DataFrame) -> pd.Series:
    """True for rows of an upstream table that were estimated.

    A table without ``estimation_status`` counts as estimated throughout
    (tables made before this convention); unknown values raise.
    """
    if "estimation_status" not in frame.columns:
        return pd.Series(True, index=frame.index)
    values = frame["estimation_status"]
    unknown = set(values.dropna().unique()) - {ESTIMATED, NOT_ESTIMABLE}
    if values.isna().any() or unknown:
        raise ValueError(f"estimation_status must be {ESTIMATED!r} or {NOT_ESTIMABLE!r} on "
                         "every row")
    return values == ESTIMATED

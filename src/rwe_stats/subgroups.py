"""Treatment effect within subgroups (forest-plot data) with interaction tests."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._checks import flag_array, is_boolean, require_columns
from rwe_stats._cox import MODEL_VARIANCE, TIES_METHOD, fit_cox
from rwe_stats._times import SurvivalTimes, survival_times
from rwe_stats.regression import wald_ci_method
from rwe_stats.survival import hazard_ratio

__all__ = ["subgroup_hazard_ratios"]

MIN_EVENTS_PER_ARM = 5
INTERACTION_METHOD = ("likelihood-ratio test, Cox models with vs without treatment x subgroup "
                      "(levels - 1 df), Efron ties")
COLUMNS = ["subgroup", "level", "n", "events", "n_treated", "n_control", "events_treated",
           "events_control", "hr", "ci_lower", "ci_upper", "p_value", "ties_method",
           "variance_method", "ci_method", "interaction_p_value", "interaction_method", "note"]


def _levels(values: pd.Series) -> list[tuple[str, np.ndarray]]:
    """(label, mask) per level: booleans as 'yes' then 'no', other values sorted."""
    if is_boolean(values):
        flags = values.astype(bool).to_numpy()
        return [("yes", flags), ("no", ~flags)]
    return [(str(level), (values == level).to_numpy()) for level in sorted(values.unique())]


def _interaction_p(df: pd.DataFrame, duration_col: str, event_col: str, treated: np.ndarray,
                   levels: list[tuple[str, np.ndarray]], times: SurvivalTimes) -> float:
    data = df[[duration_col, event_col]].copy()
    data["_treatment"] = treated.astype(float)
    dummies = [f"_level{index}" for index in range(1, len(levels))]
    products = [f"_treatment_x_level{index}" for index in range(1, len(levels))]
    for dummy, product, (_, mask) in zip(dummies, products, levels[1:], strict=True):
        data[dummy] = mask.astype(float)
        data[product] = data["_treatment"] * data[dummy]
    reduced = fit_cox(data, duration_col, event_col, ["_treatment", *dummies], times=times)
    full = fit_cox(data, duration_col, event_col, ["_treatment", *dummies, *products],
                   times=times)
    statistic = max(2.0 * (full.log_likelihood - reduced.log_likelihood), 0.0)
    return float(stats.chi2.sf(statistic, df=len(products)))


def subgroup_hazard_ratios(df: pd.DataFrame, duration_col: str, event_col: str,
                           treatment_col: str, subgroups: Mapping[str, str],
                           alpha: float = 0.05, times: SurvivalTimes | None = None
                           ) -> pd.DataFrame:
    """Hazard ratio of treatment within each level of each subgroup, with interaction tests.

    Method: within a level, the Cox model of the treatment flag alone
    (Efron ties, model-based variance, Wald CI and p; see
    :func:`rwe_stats.survival.hazard_ratio`); ``ties_method``,
    ``variance_method`` and ``ci_method`` say so on every row. A level with
    fewer than 5 events in either arm is not estimated: null HR and a
    ``note`` saying why (too few events give unstable or infinite
    estimates); the note gives no counts (they are in the count columns,
    where disclosure control can reach them). Interaction:
    likelihood-ratio test on the whole data comparing the Cox models
    ``treatment + subgroup`` and ``treatment + subgroup + treatment x
    subgroup`` (levels - 1 df), reported on every row of the subgroup; it is
    null, with a note, when a level has no event in an arm (the interaction
    would be infinite).

    Parameters
    ----------
    df
        One row per patient.
    duration_col, event_col
        Follow-up time and event flag.
    treatment_col
        Boolean (or 0/1) treatment flag.
    subgroups
        Display label -> column. Boolean columns give levels ``yes`` / ``no``;
        text or integer columns one level per value.
    alpha
        1 - confidence level.
    times
        :func:`rwe_stats.regression.survival_times` of ``df``; each level's
        fit uses its subset (no sort). None builds it here.

    Returns
    -------
    pandas.DataFrame
        ``subgroup``, ``level``, ``n``, ``events``, ``n_treated``,
        ``n_control``, ``events_treated``, ``events_control``, ``hr``,
        ``ci_lower``, ``ci_upper``, ``p_value``, ``ties_method``,
        ``variance_method``, ``ci_method``, ``interaction_p_value``,
        ``interaction_method``, ``note``.
    """
    treated = flag_array(df, treatment_col)
    if times is None:
        times = survival_times(df, duration_col, event_col)
    else:
        times.require_same_rows(df, duration_col, event_col, None)
    events = times.events
    rows = []
    for label, column in subgroups.items():
        require_columns(df, [column], f"subgroup {label!r}")
        if df[column].isna().any():
            raise ValueError(f"subgroup column {column} has missing values")
        levels = _levels(df[column])
        if len(levels) < 2 or any(not mask.any() for _, mask in levels):
            raise ValueError(f"subgroup column {column} needs at least two levels with patients")
        level_rows, all_estimable = [], True
        for level, mask in levels:
            arm_events = (int(events[mask & treated].sum()), int(events[mask & ~treated].sum()))
            all_estimable &= min(arm_events) > 0
            row = {"subgroup": label, "level": level, "n": int(mask.sum()),
                   "events": int(events[mask].sum()),
                   "n_treated": int((mask & treated).sum()),
                   "n_control": int((mask & ~treated).sum()),
                   "events_treated": arm_events[0], "events_control": arm_events[1],
                   "hr": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                   "ties_method": TIES_METHOD, "variance_method": MODEL_VARIANCE,
                   "ci_method": wald_ci_method(alpha), "note": None}
            if min(arm_events) < MIN_EVENTS_PER_ARM:
                row["note"] = (f"fewer than {MIN_EVENTS_PER_ARM} events in an arm: "
                               "not estimated")
            else:
                # only the columns the model uses: no copy of the whole cohort per level
                level_frame = df.loc[mask, [duration_col, event_col, treatment_col]]
                estimate = hazard_ratio(level_frame, duration_col, event_col, treatment_col,
                                        alpha=alpha, times=times.subset(mask)).iloc[0]
                row.update({key: float(estimate[key])
                            for key in ("hr", "ci_lower", "ci_upper", "p_value")})
            level_rows.append(row)
        interaction_p = np.nan
        if all_estimable:
            interaction_p = _interaction_p(df, duration_col, event_col, treated, levels, times)
        for row in level_rows:
            row["interaction_p_value"] = interaction_p
            row["interaction_method"] = INTERACTION_METHOD
            if not all_estimable:
                extra = "interaction not tested: a level has no event in an arm"
                row["note"] = f"{row['note']}; {extra}" if row["note"] else extra
        rows.extend(level_rows)
    return pd.DataFrame(rows, columns=COLUMNS)

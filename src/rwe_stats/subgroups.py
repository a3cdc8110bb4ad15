"""Treatment effect within subgroups (forest-plot data) with interaction tests."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._checks import require_columns, survival_arrays
from rwe_stats.survival import _fit_cox, hazard_ratio

MIN_EVENTS_PER_ARM = 5
INTERACTION_METHOD = ("likelihood-ratio test, Cox models with vs without "
                      "treatment x subgroup (1 df), Efron ties")


def subgroup_hazard_ratios(df: pd.DataFrame, duration_col: str, event_col: str,
                           treatment_col: str, subgroups: Mapping[str, str],
                           alpha: float = 0.05) -> pd.DataFrame:
    """Hazard ratio of treatment within each level of each boolean subgroup.

    Within a level: Cox model of the treatment alone (Efron ties, Wald CI and
    p). A level with fewer than 5 events in either arm gets a null HR and a
    ``note``. Interaction: likelihood-ratio test comparing the Cox models
    ``treatment + subgroup`` and ``treatment + subgroup + treatment x
    subgroup`` on the whole cohort (1 df), reported on every level's row.

    Returns
    -------
    pandas.DataFrame
        ``subgroup``, ``level``, ``n``, ``events``, ``hr``, ``ci_lower``,
        ``ci_upper``, ``p_value``, ``interaction_p_value``,
        ``interaction_method``, ``note``.
    """
    rows = []
    for label, column in subgroups.items():
        require_columns(df, [column, treatment_col], f"subgroup {label!r}")
        flags = df[column]
        if flags.isna().any():
            raise ValueError(f"subgroup column {column} has missing values")
        interaction_p = _interaction_p(df, duration_col, event_col, treatment_col, column)
        for level in (True, False):
            part = df[flags.astype(bool) == level]
            _, events = survival_arrays(part, duration_col, event_col) if len(part) else (
                None, np.array([], dtype=bool))
            treated = part[treatment_col].astype(bool).to_numpy()
            row = {"subgroup": label, "level": "yes" if level else "no", "n": len(part),
                   "events": int(events.sum()), "hr": np.nan, "ci_lower": np.nan,
                   "ci_upper": np.nan, "p_value": np.nan,
                   "interaction_p_value": interaction_p, "interaction_method": INTERACTION_METHOD,
                   "note": None}
            if min(int(events[treated].sum()), int(events[~treated].sum())) < MIN_EVENTS_PER_ARM:
                row["note"] = f"fewer than {MIN_EVENTS_PER_ARM} events in an arm: not estimated"
            else:
                estimate = hazard_ratio(part, duration_col, event_col, treatment_col,
                                        alpha=alpha).iloc[0]
                row.update({key: float(estimate[key])
                            for key in ("hr", "ci_lower", "ci_upper", "p_value")})
            rows.append(row)
    return pd.DataFrame(rows)


def _interaction_p(df: pd.DataFrame, duration_col: str, event_col: str, treatment_col: str,
                   column: str) -> float:
    data = df[[duration_col, event_col]].copy()
    data["_treatment"] = df[treatment_col].astype(float)
    data["_subgroup"] = df[column].astype(float)
    data["_interaction"] = data["_treatment"] * data["_subgroup"]
    reduced = _fit_cox(data, duration_col, event_col, ["_treatment", "_subgroup"])
    full = _fit_cox(data, duration_col, event_col, ["_treatment", "_subgroup", "_interaction"])
    statistic = 2.0 * (full.log_likelihood_ - reduced.log_likelihood_)
    return float(stats.chi2.sf(max(statistic, 0.0), df=1))

"""Study diagnostics and sensitivity analyses as warehouse tables (issue 21).

Table-shaping only: every estimate comes from one function of ``rwe_stats``
(diagnostics, rmst, evalue, weighting, heterogeneity, censoring, balance,
survival, regression). Cohorts are put in the tie-break order of
:mod:`rwe_study.tables` first, as every other study table is, so the numbers
do not depend on how the warehouse returned the rows.

Parameters come from one block of the study parameters, ``diagnostics``
(each study spec's ``diagnostics:`` block, studies/<study_id>.yml): thresholds,
power, the primary endpoint and cohort, RMST taus, the censoring window.
Rows that cannot be estimated stay in their table with
``estimation_status = 'not_estimable'`` and a ``status_reason``
(:mod:`rwe_stats._status`); the build goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rwe_stats._status import STATUS_COLUMNS, NotEstimableError, estimated, not_estimable
from rwe_stats.balance import standardized_mean_differences
from rwe_stats.censoring import censoring_reasons_over_time
from rwe_stats.diagnostics import study_diagnostics
from rwe_stats.disclosure import (
    is_small,
    protect_counts,
    suppress_balance_table,
    suppress_censoring_table,
    suppression_rule,
    truncate_km_table,
)
from rwe_stats.evalue import evalues_for_table
from rwe_stats.heterogeneity import center_heterogeneity
from rwe_stats.regression import cox_table, wald_ci_method
from rwe_stats.rmst import milestone_survival_difference, rmst_by_arm, rmst_contrasts
from rwe_stats.survival import hazard_ratio
from rwe_stats.weighting import (
    effective_sample_size,
    propensity_weights,
    weighted_hazard_ratio,
    weighted_kaplan_meier_table,
    weighted_standardized_mean_differences,
)
from rwe_study.tables import (
    ARM_COLUMN,
    ENDPOINTS,
    PAIR_COLUMN,
    TIE_BREAK_COLUMNS,
    TREATMENT_COLUMN,
    _canonical,
    _cohorts,
)

ARM_LABELS = ("ICI", "non-ICI")  # treated, control: the arm values of analysis_cohort
CENTER_COLUMN = "center_id"
END_DATE_COLUMNS = {"PFS": "pfs_end_date", "OS": "os_end_date"}
# For a patient alive at the end, os_end_date is the last contact on or before
# the cut-off (docs/analysis-cohort-contract.md): the censoring rule's last contact.
LAST_CONTACT_COLUMN = "os_end_date"
CUTOFF_COLUMN = "data_cutoff_date"
TREATMENT_TERM = TREATMENT_COLUMN
DIAGNOSTIC_KEYS = ("thresholds", "power", "primary_endpoint", "primary_cohort",
                   "rmst_taus_months", "rare_outcome_threshold", "lost_to_follow_up_days",
                   "censoring_interval_months", "weight_methods")


def diagnostics_config(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``diagnostics`` block of the study parameters, checked for every key.

    Raises ``KeyError`` naming the missing keys (a missing parameter is an
    error, never a default).
    """
    config = params["diagnostics"]
    missing = [key for key in DIAGNOSTIC_KEYS if key not in config]
    if missing:
        raise KeyError(f"the study spec's diagnostics block lacks {missing}")
    if config["primary_endpoint"] not in ENDPOINTS:
        raise ValueError(f"diagnostics.primary_endpoint must be one of {list(ENDPOINTS)}")
    if config["primary_cohort"] not in ("all", "matched"):
        raise ValueError("diagnostics.primary_cohort must be 'all' or 'matched'")
    return config


def columns_read(table: str, params: Mapping[str, Any],
                 source: str = "analysis_cohort") -> list[str]:
    """The columns of ``source`` that one of this module's tables reads (as tables.columns_read)."""
    covariates = list(params["propensity_covariates"])
    endpoints = [column for pair in ENDPOINTS.values() for column in pair]
    reads = {
        "study_diagnostics": [TREATMENT_COLUMN, *covariates, *endpoints],
        "rmst_estimates": [TREATMENT_COLUMN, *endpoints],
        "evalues": [TREATMENT_COLUMN, *endpoints, *params["subgroups"].values()],
        "weighting_estimates": ["patient_id", TREATMENT_COLUMN, ARM_COLUMN, *covariates,
                                *endpoints],
        "subgroup_balance": [TREATMENT_COLUMN, *covariates, *params["subgroups"].values()],
        "center_heterogeneity": [TREATMENT_COLUMN, CENTER_COLUMN, *endpoints],
        "censoring_reasons": [ARM_COLUMN, *endpoints, *END_DATE_COLUMNS.values()],
    }
    if table not in reads:
        raise ValueError(f"columns_read knows {sorted(reads)}, not {table!r}")
    paired = source == "matched_cohort" and table in ("study_diagnostics", "weighting_estimates")
    return list(dict.fromkeys([*TIE_BREAK_COLUMNS, *reads[table],
                               *([PAIR_COLUMN] if paired else [])]))


# --------------------------------------------------------------------------- diagnostics

def study_diagnostics_table(scores: pd.DataFrame, pairs: pd.DataFrame, matched: pd.DataFrame,
                            covariates: Sequence[str], config: Mapping[str, Any],
                            alpha: float) -> pd.DataFrame:
    """``study_diagnostics``: one row per diagnostic of the primary comparison.

    The balance is recomputed on the matched cohort without disclosure
    control (``covariate_balance`` hides SMDs of small cells; the largest
    |SMD| must see them all; the value published is one number). The PH
    test is that of the treatment term in the univariate Cox model of the
    primary endpoint in the matched cohort -- the model behind the matched
    hazard ratio, the same call and number as that row of ``cox_results``
    (this table cannot read ``cox_results``: ``cox_results`` reads this
    table's verdict). Thresholds, power and the primary endpoint are study
    parameters (``diagnostics``).
    """
    duration, event = ENDPOINTS[config["primary_endpoint"]]
    frame = _canonical(matched, [*matched.columns])
    frame = frame.assign(**{PAIR_COLUMN: frame[PAIR_COLUMN].astype("category")})
    balance = standardized_mean_differences(frame, TREATMENT_COLUMN, list(covariates), "matched")
    ph_p = None
    if len(frame) and frame[event].astype(bool).any():
        ph = cox_table(frame, duration, event, [TREATMENT_TERM], "univariate", alpha=alpha,
                       cluster_col=PAIR_COLUMN)
        ph_p = float(ph["ph_test_p_value"].iloc[0])
    table = study_diagnostics(scores, pairs, balance, frame, TREATMENT_COLUMN, event,
                              dict(config["thresholds"]), ph_test_p_value=ph_p, alpha=alpha,
                              power=float(config["power"]))
    return table.assign(endpoint=config["primary_endpoint"], cohort=config["primary_cohort"],
                        alpha=float(alpha), power=float(config["power"]))


# the columns of study_diagnostics that diagnostics_passed reads
VERDICT_COLUMNS = ("threshold", "passed")


def diagnostics_passed(diagnostics: pd.DataFrame) -> bool:
    """True when every diagnostic with a threshold passed.

    Strict: a diagnostic with a threshold that could not be computed
    (``passed`` null) counts as failed -- a study whose diagnostics cannot
    be computed cannot be said to pass them.
    """
    with_threshold = diagnostics["threshold"].notna()
    return bool(diagnostics.loc[with_threshold, "passed"].fillna(False).astype(bool).all())


def flag_primary_estimates(table: pd.DataFrame, diagnostics: pd.DataFrame,
                           primary_endpoint: str, term_col: str | None = None) -> pd.DataFrame:
    """``table`` with ``diagnostics_passed`` on the primary endpoint's treatment rows.

    The study's verdict (:func:`diagnostics_passed`) on the rows of the
    primary endpoint (and, with ``term_col``, only the treatment term);
    null on every other row, which the diagnostics do not judge.
    """
    rows = table["endpoint"] == primary_endpoint
    if term_col is not None:
        rows &= table[term_col] == TREATMENT_TERM
    flag = pd.Series(pd.NA, index=table.index, dtype="boolean")
    flag[rows] = diagnostics_passed(diagnostics)
    return table.assign(diagnostics_passed=flag)


# --------------------------------------------------------------------------- RMST

RMST_COLUMNS = ["cohort", "endpoint", "measure", "arm", "time_months", "time_rule", "n",
                "events_by_time", "estimate", "se", "ci_lower", "ci_upper", "p_value",
                "estimate_treated", "estimate_control", "ci_method", "variance_method",
                *STATUS_COLUMNS]


def rmst_table(cohort: pd.DataFrame, matched: pd.DataFrame, taus: Sequence[float],
               landmarks: Sequence[float], alpha: float, min_cell_count: int) -> pd.DataFrame:
    """``rmst_estimates``: RMST per arm, its difference and ratio, milestone differences.

    Per cohort (all, matched) and endpoint: ``measure = 'rmst'`` (one row
    per arm and tau), ``'rmst_difference'`` and ``'rmst_ratio'`` (ICI vs
    non-ICI, per tau), ``'survival_difference'`` (per landmark). Taus are
    the study's (12 and 24 months) plus the largest tau both arms support
    (``time_rule = 'largest'``, survRM2's default); a tau beyond the
    follow-up is a not-estimable row. Methods: :mod:`rwe_stats.rmst`.
    Arms compared as independent samples, also in the matched cohort.
    ``events_by_time`` of 1 to ``min_cell_count - 1`` is suppressed (null);
    the arm sizes are public (``survival_summary``).
    """
    tables = []
    for label, frame in _cohorts(cohort, matched, [TREATMENT_COLUMN, *ENDPOINTS["PFS"],
                                                   *ENDPOINTS["OS"]]):
        for endpoint, (duration, event) in ENDPOINTS.items():
            arms = rmst_by_arm(frame, duration, event, TREATMENT_COLUMN, taus=taus,
                               alpha=alpha, arm_labels=ARM_LABELS)
            arms = arms.rename(columns={"tau_months": "time_months", "tau_rule": "time_rule",
                                        "rmst": "estimate", "events_by_tau": "events_by_time"})
            contrasts = rmst_contrasts(frame, duration, event, TREATMENT_COLUMN, taus=taus,
                                       alpha=alpha)
            contrasts = contrasts.rename(columns={
                "tau_months": "time_months", "tau_rule": "time_rule",
                "rmst_treated": "estimate_treated", "rmst_control": "estimate_control"})
            contrasts["measure"] = "rmst_" + contrasts["measure"]
            milestones = milestone_survival_difference(frame, duration, event, TREATMENT_COLUMN,
                                                       times=landmarks, alpha=alpha)
            milestones = milestones.rename(columns={
                "survival_treated": "estimate_treated", "survival_control": "estimate_control",
                "difference": "estimate"}).assign(
                measure="survival_difference", time_rule="requested",
                se=np.hypot(milestones["se_treated"], milestones["se_control"]))
            block = pd.concat([arms.assign(measure="rmst"), contrasts, milestones],
                              ignore_index=True)
            tables.append(block.assign(cohort=label, endpoint=endpoint))
    result = pd.concat(tables, ignore_index=True).reindex(columns=RMST_COLUMNS)
    events = result["events_by_time"].astype("Int64")
    small = events.map(lambda count: pd.notna(count) and is_small(count, min_cell_count))
    result["events_by_time"] = events.mask(small.astype(bool))
    # one count per arm and time, and no published total it adds up to: no
    # complementary cell is needed (the arm sizes n are public)
    rule = (f"events_by_time of 1 to {int(min_cell_count) - 1} patients set to null; the "
            "estimates are shown")
    return result.assign(min_cell_count=int(min_cell_count), suppression_rule=rule)


# --------------------------------------------------------------------------- E-values

EVALUE_KEYS = ["source_table", "cohort", "endpoint", "model", "subgroup", "level"]
# the columns evalue_table reads of each estimate table
EVALUE_SOURCE_COLUMNS = {
    "survival_summary": ("cohort", "endpoint", "hr_ici_vs_non_ici", "hr_ci_lower",
                         "hr_ci_upper"),
    "cox_results": ("cohort", "endpoint", "model", "term", "hr", "ci_lower", "ci_upper"),
    "subgroup_hr": ("cohort", "endpoint", "subgroup", "level", "hr", "ci_lower", "ci_upper"),
}


def _outcome_share(frame: pd.DataFrame, event: str) -> float:
    return float(frame[event].astype(bool).mean()) if len(frame) else np.nan


def evalue_table(survival: pd.DataFrame, cox: pd.DataFrame, subgroups: pd.DataFrame,
                 cohort: pd.DataFrame, matched: pd.DataFrame, subgroup_columns: Mapping[str, str],
                 rare_threshold: float) -> pd.DataFrame:
    """``evalues``: E-values of every hazard ratio of the treatment term.

    Rows: the ``survival_summary`` HR per cohort and endpoint, every
    ``cox_results`` row of the treatment term, every ``subgroup_hr`` level.
    The outcome share that picks the rare-outcome rule is the share of the
    model's patients with the event by the end of follow-up (events /
    patients), computed here from the cohort (the published counts may be
    suppressed). Method: :func:`rwe_stats.evalue.evalues_for_hazard_ratio`.
    """
    frames = dict(_cohorts(cohort, matched, [TREATMENT_COLUMN, *ENDPOINTS["PFS"],
                                             *ENDPOINTS["OS"], *subgroup_columns.values()]))
    rows = []
    hr_rows = survival.drop_duplicates(["cohort", "endpoint"])
    for _, row in hr_rows.iterrows():
        rows.append({"source_table": "survival_summary", "cohort": row["cohort"],
                     "endpoint": row["endpoint"], "model": "univariate", "subgroup": None,
                     "level": None, "hr": row["hr_ici_vs_non_ici"],
                     "ci_lower": row["hr_ci_lower"], "ci_upper": row["hr_ci_upper"],
                     "outcome_proportion": _outcome_share(frames[row["cohort"]],
                                                          ENDPOINTS[row["endpoint"]][1])})
    for _, row in cox.loc[cox["term"] == TREATMENT_TERM].iterrows():
        rows.append({"source_table": "cox_results", "cohort": row["cohort"],
                     "endpoint": row["endpoint"], "model": row["model"], "subgroup": None,
                     "level": None, "hr": row["hr"], "ci_lower": row["ci_lower"],
                     "ci_upper": row["ci_upper"],
                     "outcome_proportion": _outcome_share(frames[row["cohort"]],
                                                          ENDPOINTS[row["endpoint"]][1])})
    for _, row in subgroups.iterrows():
        frame = frames[row["cohort"]]
        values = frame[subgroup_columns[row["subgroup"]]]
        if str(row["level"]) in ("yes", "no"):
            mask = values.astype(bool) == (row["level"] == "yes")
        else:
            mask = values.astype(str) == str(row["level"])
        estimated_hr = pd.notna(row["hr"])
        rows.append({"source_table": "subgroup_hr", "cohort": row["cohort"],
                     "endpoint": row["endpoint"], "model": "univariate",
                     "subgroup": row["subgroup"], "level": row["level"], "hr": row["hr"],
                     "ci_lower": row["ci_lower"], "ci_upper": row["ci_upper"],
                     "outcome_proportion": _outcome_share(frame.loc[mask.to_numpy()],
                                                          ENDPOINTS[row["endpoint"]][1]),
                     "estimation_status": "estimated" if estimated_hr else "not_estimable"})
    inputs = pd.DataFrame(rows)
    if "estimation_status" in inputs:
        inputs["estimation_status"] = inputs["estimation_status"].fillna("estimated")
    result = evalues_for_table(inputs, "outcome_proportion", keep_cols=tuple(EVALUE_KEYS),
                               rare_threshold=rare_threshold)
    return result.assign(rare_outcome_threshold=float(rare_threshold))


# --------------------------------------------------------------------------- weighting

PS_WEIGHT_COLUMNS = ["patient_id", "weighting", "is_treated", "propensity_score", "weight",
                     "weight_method"]


def propensity_weight_table(scores: pd.DataFrame,
                            weight_methods: Sequence[str]) -> pd.DataFrame:
    """``ps_weights``: each patient's weight under each weighting, computed once.

    One row per patient and weighting (``diagnostics.weight_methods``, in
    that order; patients in ``ps_scores``' order): the propensity score of
    ``ps_scores`` turned into the weight by
    :func:`rwe_stats.weighting.propensity_weights`. Patient-level
    (restricted, like ``ps_scores``): ``weighted_balance``,
    ``weighted_km_estimates`` and ``weighting_estimates`` read it instead of
    each recomputing the weights.
    """
    if not weight_methods:
        raise ValueError("diagnostics.weight_methods is empty: name at least one weighting")
    tables = [propensity_weights(scores, method).assign(weighting=method)
              for method in weight_methods]
    # stacked column by column, in the table's order: no row reindexing of 2 n text ids
    return pd.DataFrame({column: np.concatenate([table[column].to_numpy() for table in tables])
                         for column in PS_WEIGHT_COLUMNS})


def _weighted_frames(cohort: pd.DataFrame, weights: pd.DataFrame,
                     weight_methods: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """The cohort in tie-break order with each method's weight (``ps_weights``) as ``weight``."""
    frame = _canonical(cohort, [*cohort.columns])
    weighted = []
    for method in weight_methods:
        rows = weights.loc[(weights["weighting"] == method).to_numpy()]
        if rows.empty:
            raise ValueError(f"ps_weights has no rows of weighting {method!r} "
                             "(diagnostics.weight_methods)")
        weight = rows.set_index("patient_id")["weight"].reindex(frame["patient_id"]).to_numpy(
            dtype=float)
        if np.isnan(weight).any():
            raise ValueError(f"ps_weights lacks a {method} weight for some analysis_cohort "
                             "patients")
        weighted.append((method, frame.assign(weight=weight)))
    return weighted


def weighted_balance_table(cohort: pd.DataFrame, weights: pd.DataFrame,
                           covariates: Sequence[str], weight_methods: Sequence[str],
                           min_cell_count: int) -> pd.DataFrame:
    """``weighted_balance``: SMD of every covariate under each weighting.

    Weighted means and weighted SDs (Austin and Stuart 2015;
    :func:`rwe_stats.weighting.weighted_standardized_mean_differences`);
    ``cohort`` names the weighting (``ATT weighted``, ``overlap weighted``).
    Counts are patients (unweighted) and suppressed as in
    ``covariate_balance``.
    """
    tables = [weighted_standardized_mean_differences(
        frame, TREATMENT_COLUMN, list(covariates), "weight", f"{method} weighted", method)
        for method, frame in _weighted_frames(cohort, weights, weight_methods)]
    return suppress_balance_table(pd.concat(tables, ignore_index=True), min_cell_count)


def weighted_km_table(cohort: pd.DataFrame, weights: pd.DataFrame,
                      weight_methods: Sequence[str], alpha: float,
                      min_cell_count: int) -> pd.DataFrame:
    """``weighted_km_estimates``: weighted Kaplan-Meier curves per weighting, endpoint, arm.

    Variance: the infinitesimal jackknife (robust; R ``survfit(weights =
    w)``, its default for non-integer weights), named in
    ``variance_method``; log-log pointwise CI. Each curve stops where fewer
    than ``min_cell_count`` patients (unweighted) are at risk.
    """
    tables = []
    for method, frame in _weighted_frames(cohort, weights, weight_methods):
        for endpoint, (duration, event) in ENDPOINTS.items():
            table = weighted_kaplan_meier_table(frame, duration, event, ARM_COLUMN, "weight",
                                                method, variance="robust", alpha=alpha)
            tables.append(table.rename(columns={"group": "arm"}).assign(
                weighting=method, endpoint=endpoint))
    result = pd.concat(tables, ignore_index=True)
    leading = ["weighting", "endpoint", "arm"]
    result = result[leading + [column for column in result.columns if column not in leading]]
    return truncate_km_table(result, min_cell_count, leading)


WEIGHTING_COLUMNS = ["analysis", "endpoint", "n_treated", "n_control", "ess_treated",
                     "ess_control", "max_abs_smd", "hr", "ci_lower", "ci_upper", "p_value",
                     "ci_method", "variance_method", "ties_method", "weight_method",
                     "ess_method", *STATUS_COLUMNS]
MATCHING_WEIGHTS = "1:1 matching (weight 1 for matched patients, 0 otherwise)"


def _treatment_hr(frame: pd.DataFrame, event: str, fit: Callable[[], pd.DataFrame],
                  strata_col: str | None = None) -> dict[str, Any]:
    """The one-row result of ``fit`` (a hazard ratio of ICI vs non-ICI on ``frame``), or why not.

    Failures as rows: an empty arm, no events, an arm without events, no
    stratum of ``strata_col`` with both arms, or a fit that cannot converge
    (:class:`rwe_stats._status.NotEstimableError`) give the not-estimable
    status and its reason; invalid input still raises.
    """
    treated = frame[TREATMENT_COLUMN].astype(bool).to_numpy()
    events = frame[event].astype(bool).to_numpy()
    if treated.all() or not treated.any():
        return not_estimable("empty_arm")
    if not events.any():
        return not_estimable("no_events")
    if not (events & treated).any() or not (events & ~treated).any():
        return not_estimable("no_events_in_arm")
    if strata_col is not None:
        strata = frame[strata_col].to_numpy()
        if not np.intersect1d(strata[treated], strata[~treated]).size:
            return not_estimable("no_informative_stratum")
    try:
        return fit().iloc[0].to_dict() | estimated()
    except NotEstimableError as failure:
        return not_estimable(failure.reason)


def weighting_summary(cohort: pd.DataFrame, matched: pd.DataFrame, weights: pd.DataFrame,
                      covariates: Sequence[str], weight_methods: Sequence[str],
                      alpha: float) -> pd.DataFrame:
    """``weighting_estimates``: each weighting beside 1:1 matching, with its hazard ratio.

    One row per analysis (``matched``, then each weighting of ``ps_weights``)
    and endpoint: patients per arm, Kish effective sample size per arm
    (matching: the patients), the largest |SMD| over the baseline
    covariates (unsuppressed: one number; the same on both endpoints'
    rows) and the hazard ratio of ICI vs non-ICI. Matching: the Cox model
    of the matched cohort with the robust variance clustered on
    ``pair_id`` (the ``survival_summary`` matched HR: R ``coxph(...,
    cluster = pair_id)``). Weighting: the Cox model with the weights as
    case weights and the robust (Lin-Wei sandwich) variance, each patient
    a cluster -- R ``coxph(Surv(t, e) ~ treated, weights = w, robust =
    TRUE)``
    (:func:`rwe_stats.weighting.weighted_hazard_ratio`); Efron ties and
    Wald CIs on the robust SE throughout; the weights taken as known. An HR
    that cannot be estimated is a not-estimable row (:func:`_treatment_hr`).
    """
    endpoints = [column for pair in ENDPOINTS.values() for column in pair]
    rows = []
    matched_frame = _canonical(matched, [TREATMENT_COLUMN, PAIR_COLUMN, *covariates, *endpoints])
    treated = matched_frame[TREATMENT_COLUMN].astype(bool)
    smd = standardized_mean_differences(matched_frame, TREATMENT_COLUMN, list(covariates),
                                        "matched")["smd"].abs()
    matching = {"analysis": "matched", "n_treated": int(treated.sum()),
                "n_control": int((~treated).sum()), "ess_treated": float(treated.sum()),
                "ess_control": float((~treated).sum()), "max_abs_smd": float(smd.max()),
                "weight_method": MATCHING_WEIGHTS, "ess_method": "matched patients"}
    for endpoint, (duration, event) in ENDPOINTS.items():
        hr = _treatment_hr(matched_frame, event, partial(
            hazard_ratio, matched_frame, duration, event, TREATMENT_COLUMN,
            cluster_col=PAIR_COLUMN, alpha=alpha))
        rows.append(matching | {"endpoint": endpoint} | hr)
    for method, frame in _weighted_frames(cohort, weights, weight_methods):
        ess = effective_sample_size(frame, TREATMENT_COLUMN, "weight", method,
                                    arm_labels=ARM_LABELS).set_index("arm")
        smd = weighted_standardized_mean_differences(
            frame, TREATMENT_COLUMN, list(covariates), "weight", method, method)["smd"].abs()
        weighting = {"analysis": f"{method} weighted",
                     "n_treated": int(ess.loc["ICI", "n"]),
                     "n_control": int(ess.loc["non-ICI", "n"]),
                     "ess_treated": float(ess.loc["ICI", "ess"]),
                     "ess_control": float(ess.loc["non-ICI", "ess"]),
                     "max_abs_smd": float(smd.max()),
                     "weight_method": str(ess["weight_method"].iloc[0]),
                     "ess_method": str(ess["ess_method"].iloc[0])}
        for endpoint, (duration, event) in ENDPOINTS.items():
            hr = _treatment_hr(frame, event, partial(
                weighted_hazard_ratio, frame, duration, event, TREATMENT_COLUMN, "weight",
                method, alpha=alpha))
            rows.append(weighting | {"endpoint": endpoint} | hr)
    result = pd.DataFrame(rows).reindex(columns=WEIGHTING_COLUMNS)
    return result.assign(ci_method=wald_ci_method(alpha))


# --------------------------------------------------------------------------- subgroups

SUBGROUP_BALANCE_COLUMNS = ["subgroup", "level", "max_abs_smd", "covariate_of_max",
                            "covariates_compared", "covariates_suppressed", "smd_method",
                            *STATUS_COLUMNS]


def subgroup_balance_table(cohort: pd.DataFrame, subgroups: Mapping[str, str],
                           covariates: Sequence[str], min_cell_count: int) -> pd.DataFrame:
    """``subgroup_balance``: the largest |SMD| of the baseline covariates within each level.

    The levels of ``subgroup_hr`` (whole cohort, unmatched: the forest plot's
    HRs are unadjusted within-level comparisons, so this says how
    comparable the arms are inside each level). The subgroup's own column
    is left out (constant within a level). SMDs that disclosure control
    would hide in a balance table (a count of 1 to ``min_cell_count - 1``)
    are left out of the maximum and counted in ``covariates_suppressed``.
    A level with an empty arm is a not-estimable row.
    """
    frame = _canonical(cohort, [TREATMENT_COLUMN, *covariates, *subgroups.values()])
    rows = []
    for label, column in subgroups.items():
        values = frame[column]
        levels = ([("yes", values.astype(bool).to_numpy()), ("no", ~values.astype(bool)
                                                              .to_numpy())]
                  if pd.api.types.is_bool_dtype(values) or set(values.dropna().unique()) <= {0, 1}
                  else [(str(level), (values == level).to_numpy())
                        for level in sorted(values.unique())])
        others = [covariate for covariate in covariates if covariate != column]
        for level, mask in levels:
            subset = frame.loc[mask].reset_index(drop=True)
            treated = subset[TREATMENT_COLUMN].astype(bool)
            row = {"subgroup": label, "level": level, "covariates_compared": len(others)}
            if treated.all() or not treated.any():
                rows.append(row | not_estimable("empty_arm"))
                continue
            balance = suppress_balance_table(
                standardized_mean_differences(subset, TREATMENT_COLUMN, others, label),
                min_cell_count)
            shown = balance.dropna(subset=["smd"])
            hidden = int(balance["smd"].isna().sum())
            if shown.empty:
                rows.append(row | {"covariates_suppressed": hidden}
                            | not_estimable("no_balance_rows"))
                continue
            largest = shown["smd"].abs().idxmax()
            rows.append(row | {"max_abs_smd": float(abs(shown.loc[largest, "smd"])),
                               "covariate_of_max": shown.loc[largest, "covariate"],
                               "covariates_suppressed": hidden,
                               "smd_method": "; ".join(sorted(shown["smd_method"].unique()))}
                        | estimated())
    return pd.DataFrame(rows, columns=SUBGROUP_BALANCE_COLUMNS).assign(
        cohort="all", min_cell_count=int(min_cell_count))


# --------------------------------------------------------------------------- centers

CENTER_COLUMNS = ["endpoint", "estimate_type", "center_id", "n", "events", "hr", "ci_lower",
                  "ci_upper", "p_value", "log_hr", "se", "variance_method", "ties_method",
                  "strata"]


def _center_row(frame: pd.DataFrame, duration: str, event: str, alpha: float,
                z: float) -> dict[str, Any]:
    row = {"n": len(frame), "events": int(frame[event].astype(bool).sum())}
    return row | _log_scale(_treatment_hr(frame, event, partial(
        hazard_ratio, frame, duration, event, TREATMENT_COLUMN, alpha=alpha)), z)


def _log_scale(hr: dict[str, Any], z: float) -> dict[str, Any]:
    """``hr`` with ``log_hr`` and its ``se`` (none when the HR was not estimated)."""
    if pd.isna(hr.get("hr")):
        return hr
    # the Wald interval is exp(log_hr +/- z se): its log-width gives se back exactly
    return hr | {"log_hr": float(np.log(hr["hr"])),
                 "se": float((np.log(hr["ci_upper"]) - np.log(hr["ci_lower"])) / (2 * z))}


def center_heterogeneity_table(cohort: pd.DataFrame, alpha: float,
                               min_cell_count: int) -> pd.DataFrame:
    """``center_heterogeneity``: per-center HR of ICI, Cochran's Q, I^2, pooled HRs.

    Per endpoint, all patients: one row per center (Cox model of the
    treatment flag within the center, Efron ties, model-based variance,
    Wald CI: R ``coxph`` per center), then one ``pooled`` row with Q, I^2,
    tau^2 (DerSimonian-Laird, Q-profile CIs) and the fixed-effect and DL
    random-effects pooled HRs (:func:`rwe_stats.heterogeneity.center_heterogeneity`;
    its ``hr``/CI columns are the random-effects estimate), then one
    ``stratified`` row: the sensitivity model with a baseline hazard per
    center, R ``coxph(Surv(t, e) ~ treated + strata(center))`` (Efron ties,
    model-based variance, Wald CI; ``strata`` names it), the within-center
    comparison as one likelihood instead of a meta-analysis. A center (or
    the stratified model) with an empty arm, no events, an arm without
    events or a fit that cannot converge is a not-estimable row
    (:func:`_treatment_hr`); such centers are left out of the pooling.
    Center patient and event counts of 1 to ``min_cell_count - 1`` are
    suppressed (the pooled and stratified rows' totals are public).
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    frame = _canonical(cohort, [TREATMENT_COLUMN, CENTER_COLUMN, *ENDPOINTS["PFS"],
                                *ENDPOINTS["OS"]])
    tables = []
    for endpoint, (duration, event) in ENDPOINTS.items():
        rows = []
        for center in sorted(frame[CENTER_COLUMN].unique()):
            subset = frame.loc[(frame[CENTER_COLUMN] == center).to_numpy()]
            rows.append({"endpoint": endpoint, "estimate_type": "center", "center_id": center}
                        | _center_row(subset.reset_index(drop=True), duration, event, alpha, z))
        centers = pd.DataFrame(rows).reindex(columns=[*CENTER_COLUMNS, *STATUS_COLUMNS])
        pooled = center_heterogeneity(centers, alpha=alpha).iloc[0].to_dict()
        pooled_row = {"endpoint": endpoint, "estimate_type": "pooled", "center_id": None,
                      "n": len(frame), "events": int(frame[event].astype(bool).sum()),
                      "hr": pooled["random_hr"], "ci_lower": pooled["random_ci_lower"],
                      "ci_upper": pooled["random_ci_upper"],
                      "p_value": pooled["random_p_value"]} | pooled
        stratified_row = {"endpoint": endpoint, "estimate_type": "stratified", "center_id": None,
                          "n": len(frame), "events": int(frame[event].astype(bool).sum())}
        stratified_row |= _log_scale(_treatment_hr(frame, event, partial(
            hazard_ratio, frame, duration, event, TREATMENT_COLUMN, alpha=alpha,
            strata_col=CENTER_COLUMN), strata_col=CENTER_COLUMN), z)
        tables.append(pd.concat([centers, pd.DataFrame([pooled_row, stratified_row])],
                                ignore_index=True))
    result = _suppress_center_counts(pd.concat(tables, ignore_index=True), min_cell_count)
    for column in ("k_centers", "k_not_estimable", "q_df"):
        result[column] = result[column].astype("Int64")
    return result


def _suppress_center_counts(table: pd.DataFrame, min_cell_count: int) -> pd.DataFrame:
    """Null center counts of 1 to ``min_cell_count - 1``, with complementary cells.

    Per endpoint and count column, the centers are the atoms and the pooled
    row's total is public (``survival_summary`` has it), so a single small
    center would follow from the total and the others: protected by
    :func:`rwe_stats.disclosure.protect_counts`. The HRs are estimates and
    are shown.
    """
    result = table.copy()
    nulled: dict[int, list[str]] = {int(index): [] for index in result.index}
    for column in ("n", "events"):
        result[column] = result[column].astype("Int64")
        for _, block in result.groupby("endpoint", sort=False):
            centers = block.loc[block["estimate_type"] == "center", column]
            atoms = {str(index): int(count) for index, count in centers.items()}
            cells = {atom: [atom] for atom in atoms} | {"total": list(atoms)}
            for cell in protect_counts(atoms, cells, min_cell_count, fixed=["total"]):
                nulled[int(cell)].append(column)
    for index, columns in nulled.items():
        for column in columns:
            result.loc[index, column] = pd.NA
    return result.assign(
        is_suppressed=[bool(nulled[int(index)]) for index in result.index],
        suppressed_cells=[", ".join(nulled[int(index)]) for index in result.index],
        min_cell_count=int(min_cell_count),
        suppression_rule=suppression_rule(min_cell_count, "center patient and event counts"))


# --------------------------------------------------------------------------- censoring

def censoring_table(cohort: pd.DataFrame, cutoff_date: str, lost_to_follow_up_days: int,
                    interval_months: float, min_cell_count: int) -> pd.DataFrame:
    """``censoring_reasons``: censored patients per endpoint, arm, interval and reason.

    All patients. Reasons (:mod:`rwe_stats.censoring`): the follow-up end
    on the data cut-off; before it with the last contact (``os_end_date``
    for a patient alive at the end) within ``lost_to_follow_up_days`` of
    the cut-off; or before it with no contact in that window (lost to
    follow-up). Counts of 1 to ``min_cell_count - 1`` are suppressed with
    a complementary cell per arm and interval
    (:func:`rwe_stats.disclosure.suppress_censoring_table`).
    """
    frame = _canonical(cohort, [ARM_COLUMN, *ENDPOINTS["PFS"], *ENDPOINTS["OS"],
                                *END_DATE_COLUMNS.values()])
    frame = frame.assign(**{CUTOFF_COLUMN: pd.Timestamp(cutoff_date)})
    tables = []
    for endpoint, (duration, event) in ENDPOINTS.items():
        table = censoring_reasons_over_time(
            frame, duration, event, ARM_COLUMN, END_DATE_COLUMNS[endpoint], LAST_CONTACT_COLUMN,
            CUTOFF_COLUMN, lost_to_follow_up_days, interval_months)
        table = suppress_censoring_table(table, min_cell_count)
        tables.append(table.rename(columns={"group": "arm"}).assign(endpoint=endpoint,
                                                                     cohort="all"))
    result = pd.concat(tables, ignore_index=True)
    leading = ["cohort", "endpoint", "arm"]
    return result[leading + [column for column in result.columns if column not in leading]]

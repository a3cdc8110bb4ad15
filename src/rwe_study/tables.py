"""Assemble the study's mart tables from the generic methods in rwe_stats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rwe_stats.balance import standardized_mean_differences
from rwe_stats.disclosure import (
    suppress_balance_table,
    suppress_response_table,
    suppress_subgroup_table,
    truncate_km_table,
)
from rwe_stats.matching import MATCHING_METHOD, match_nearest_neighbour
from rwe_stats.propensity import estimate_propensity_scores
from rwe_stats.regression import cox_table, survival_times, wald_ci_method
from rwe_stats.response import response_summary
from rwe_stats.safety import safety_summary
from rwe_stats.subgroups import subgroup_hazard_ratios
from rwe_stats.survival import (
    CI_METHODS,
    MEDIAN_CI_METHOD,
    hazard_ratio,
    kaplan_meier_table,
    logrank,
    median_survival,
    survival_at,
)

# Key-independent provenance of each patient's analysis record: the raw export
# row of the second-line record, in its file (rows are numbered per file; a
# file is told apart only when the mapping delivers the export as several
# files, is_second_line_source_split). The matching breaks ties on it, never
# on the pseudonymised patient_id (which changes with the pseudonym key).
TIE_BREAK_COLUMNS = ("center_id", "second_line_source_table", "second_line_source_file_name",
                     "is_second_line_source_split", "second_line_source_row_number")
ENDPOINTS: dict[str, tuple[str, str]] = {
    "PFS": ("pfs_months", "is_pfs_event"),
    "OS": ("os_months", "is_os_event"),
}
ENDPOINT_COLUMNS = tuple(column for pair in ENDPOINTS.values() for column in pair)
ARM_COLUMN = "arm"
# the columns of ps_scores that matched_pairs reads (rwe_stats.matching.match_nearest_neighbour)
MATCHING_SCORE_COLUMNS = ("patient_id", "is_treated", "logit_ps", "tie_break_key")
# the columns safety_summary reads of adverse_events and of analysis_cohort
SAFETY_EVENT_COLUMNS = ("patient_id", "arm", "ae_term", "ctcae_grade")
SAFETY_COHORT_COLUMNS = ("patient_id", "arm")
TREATMENT_COLUMN = "is_ici"
PAIR_COLUMN = "pair_id"
PATIENT_COLUMN = "patient_id"


def _canonical_order(frame: pd.DataFrame) -> np.ndarray:
    """Row positions in tie-break order: center, source table, source file (as text), row number.

    A one-file export has one file name per center and table, so a study
    without a split export keeps the order of center, table, row.

    The warehouse returns rows in no particular order; the estimates do not
    depend on it, but their last bits do (floating-point sums). Sorting on a
    key-independent key makes every table identical, bit for bit, whatever
    the row order and the pseudonym key. Raises ``ValueError`` when a
    tie-break column is missing, has missing values or the keys repeat.
    """
    missing = [column for column in TIE_BREAK_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"analysis_cohort needs the provenance column(s) {missing} for the "
                         "matching tie-break")
    center_column, table_column, file_column, split_column, row_column = TIE_BREAK_COLUMNS
    if frame[split_column].isna().any():
        raise ValueError(f"{list(TIE_BREAK_COLUMNS)} must have no missing values ({split_column})")
    export = 0  # (center, table, file) as one code, each in text order
    for column in (center_column, table_column, file_column):
        # as a categorical (kept if it is one) whose few categories are ranked as text: a
        # categorical's own order is not text order, and its rows need no sort or hash
        values = frame[column].astype("category").cat
        if (values.codes < 0).any():
            raise ValueError(f"{list(TIE_BREAK_COLUMNS)} must have no missing values ({column})")
        ranks, uniques = pd.factorize(values.categories.to_numpy(dtype=object), sort=True)
        export = export * len(uniques) + ranks[values.codes.to_numpy()]
    if frame[row_column].isna().any():
        raise ValueError(f"{list(TIE_BREAK_COLUMNS)} must have no missing values ({row_column})")
    rows = pd.to_numeric(frame[row_column], errors="raise").to_numpy(dtype="int64")
    # by row number, then (stable) by the few export codes (a radix sort, as small unsigned ints)
    order = np.argsort(rows, kind="stable")
    order = order[np.argsort(export[order].astype(np.min_scalar_type(export.max(initial=0))),
                             kind="stable")]
    same = (export[order][1:] == export[order][:-1]) & (rows[order][1:] == rows[order][:-1])
    if same.any():
        first = int(np.flatnonzero(same)[0])
        raise ValueError(f"tie-break keys repeat: {int(same.sum())} row(s) repeat another's "
                         f"{list(TIE_BREAK_COLUMNS)}, first at row positions "
                         f"{sorted(order[[first, first + 1]].tolist())}")
    return order


def _reordered(values: pd.Series, order: np.ndarray) -> pd.Series:
    """``values`` in ``order``; a column of strings comes back as a categorical.

    DuckDB gives every row its own string object: a million of them,
    scattered in memory, made every group-by and missing-value check of the
    estimators (by arm, response, pair) grow faster than n log n. Encoded
    once here, they read integer codes; the values are equal (a missing one
    stays missing). Columns holding anything but strings (a mix of True and
    1 would encode alike) and the patient ids (hashing a million distinct
    ids buys nothing) are taken as they are.
    """
    if values.dtype == object and values.name != PATIENT_COLUMN:
        codes, strings = pd.factorize(values)  # categories as they come: no sort
        if pd.api.types.infer_dtype(strings, skipna=False) == "string":
            return pd.Series(pd.Categorical.from_codes(codes[order], categories=strings),
                             name=values.name)
    return values.take(order).reset_index(drop=True)


def _canonical(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` (those it has) in tie-break order, for one table's estimates.

    Columns the frame lacks are left out here, so the estimator names them
    in its own error.
    """
    order = _canonical_order(frame)
    wanted = [column for column in dict.fromkeys(columns) if column in frame.columns]
    return pd.DataFrame({column: _reordered(frame[column], order) for column in wanted},
                        columns=wanted)


def _cohorts(cohort: pd.DataFrame, matched: pd.DataFrame | None, columns: Sequence[str],
             matched_columns: Sequence[str] = ()) -> list[tuple[str, pd.DataFrame]]:
    """Both cohorts in canonical order, each with only the columns one table reads."""
    cohorts = [("all", _canonical(cohort, columns))]
    if matched is not None:
        cohorts.append(("matched", _canonical(matched, [*columns, *matched_columns])))
    return cohorts


def _key_strings(values: pd.DataFrame) -> np.ndarray:
    """``<center_id>:<second_line_source_table>:<second_line_source_row_number>`` per row.

    The raw export row of the patient's second-line record, with its center
    and export: unique per analysis record (checked by the canonical order),
    the same on every machine and for every pseudonym key, and unrelated to
    outcomes. A record from an export the mapping delivers as several files
    (``is_second_line_source_split``) is ``<center_id>:<table>:<file>:<row>``:
    row numbers restart in each file. A one-file export's key leaves its
    (single) file out, so the keys, and hence the matched pairs, of a study
    without split exports stay as they were. The mapping decides, not a count
    of the files found: a split delivery that happens to hold one file keys
    its records as the next delivery, with two, will.
    """
    center, table, files = (values[column].tolist() for column in TIE_BREAK_COLUMNS[:3])
    split = values[TIE_BREAK_COLUMNS[3]].astype(bool).tolist()
    rows = values[TIE_BREAK_COLUMNS[4]].astype("int64").tolist()
    return np.array([f"{c}:{t}:{f}:{r}" if s else f"{c}:{t}:{r}"
                     for c, t, f, s, r in zip(center, table, files, split, rows, strict=True)],
                    dtype=object)


KM_COLUMNS = (ARM_COLUMN, *ENDPOINT_COLUMNS)
SURVIVAL_COLUMNS = (ARM_COLUMN, TREATMENT_COLUMN, *ENDPOINT_COLUMNS)
RESPONSE_COLUMNS = (ARM_COLUMN, "best_response")


def _propensity_columns(covariates: Sequence[str]) -> list[str]:
    return ["patient_id", TREATMENT_COLUMN, *covariates, *TIE_BREAK_COLUMNS]


def _balance_columns(covariates: Sequence[str]) -> list[str]:
    return [TREATMENT_COLUMN, *covariates]


def _cox_columns(terms: Sequence[str]) -> list[str]:
    return [*terms, *ENDPOINT_COLUMNS]


def _subgroup_columns(subgroups: Mapping[str, str]) -> list[str]:
    return [TREATMENT_COLUMN, *ENDPOINTS["PFS"], *subgroups.values()]


def columns_read(table: str, params: Mapping[str, Any],
                 source: str = "analysis_cohort") -> list[str]:
    """The columns of ``source`` (``analysis_cohort`` or ``matched_cohort``) that ``table`` reads.

    The Python models load only these: converting every column of the
    cohort to pandas costs more than some tables' estimates. ``params`` are
    the study parameters (its spec, ``studies/<study_id>.yml``).
    """
    reads = {
        "ps_scores": lambda: _propensity_columns(params["propensity_covariates"]),
        "covariate_balance": lambda: _balance_columns(params["propensity_covariates"]),
        "km_estimates": lambda: KM_COLUMNS,
        "survival_summary": lambda: SURVIVAL_COLUMNS,
        "cox_results": lambda: _cox_columns(params["cox_terms"]),
        "response_summary": lambda: RESPONSE_COLUMNS,
        "subgroup_hr": lambda: _subgroup_columns(params["subgroups"]),
    }
    if table not in reads:
        raise ValueError(f"columns_read knows {sorted(reads)}, not {table!r}")
    paired = source == "matched_cohort" and table in ("survival_summary", "cox_results")
    return list(dict.fromkeys([*TIE_BREAK_COLUMNS, *reads[table](),
                               *([PAIR_COLUMN] if paired else [])]))


def propensity_scores(cohort: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """``ps_scores``: one row per patient with the propensity score of ICI.

    The cohort is put in tie-break order (center, source table, source row
    number) before the fit, so the floating-point summation order, and hence
    every bit of the scores, does not depend on how the warehouse happened
    to return the rows.
    """
    keyed = _canonical(cohort, _propensity_columns(covariates))
    scores = estimate_propensity_scores(keyed, TREATMENT_COLUMN, list(covariates))
    return scores.assign(
        tie_break_key=_key_strings(keyed),
        method="logistic regression, unpenalised (maximum likelihood), on baseline covariates")


def matched_pairs(scores: pd.DataFrame, caliper_sd: float, seed: int) -> pd.DataFrame:
    """``matched_pairs``: 1:1 greedy nearest-neighbour pairs on the logit PS."""
    pairs = match_nearest_neighbour(scores, caliper_sd=caliper_sd, seed=seed,
                                    tie_break_col="tie_break_key")
    return pairs.assign(
        matching_method=MATCHING_METHOD,
        matching_caliper_sd=float(caliper_sd),
        random_seed=int(seed),
    )


def covariate_balance(cohort: pd.DataFrame, matched: pd.DataFrame,
                      covariates: Sequence[str], min_cell_count: int) -> pd.DataFrame:
    """``covariate_balance``: SMD of every covariate before and after matching.

    Binary rows carry the counts behind their proportions; a count of 1 to
    ``min_cell_count - 1`` patients (with or without the attribute) is
    suppressed with the proportion and the SMD that would give it back
    (:func:`rwe_stats.disclosure.suppress_balance_table`).
    """
    table = pd.concat(
        [standardized_mean_differences(frame, TREATMENT_COLUMN, list(covariates), label)
         for label, frame in _cohorts(cohort, matched, _balance_columns(covariates))],
        ignore_index=True,
    )
    return suppress_balance_table(table, min_cell_count)


def km_estimates(cohort: pd.DataFrame, matched: pd.DataFrame, alpha: float,
                 min_cell_count: int) -> pd.DataFrame:
    """``km_estimates``: Kaplan-Meier step functions per cohort, endpoint and arm.

    Each curve is published only while at least ``min_cell_count`` patients
    are at risk (:func:`rwe_stats.disclosure.truncate_km_table`); the
    medians and landmarks of ``survival_summary`` use the whole curve.
    """
    tables = []
    for label, frame in _cohorts(cohort, matched, KM_COLUMNS):
        for endpoint, (duration, event) in ENDPOINTS.items():
            table = kaplan_meier_table(frame, duration, event, ARM_COLUMN, alpha=alpha)
            tables.append(table.rename(columns={"group": "arm"}).assign(
                cohort=label, endpoint=endpoint))
    result = pd.concat(tables, ignore_index=True)
    leading = ["cohort", "endpoint", "arm"]
    result = result[leading + [c for c in result.columns if c not in leading]]
    return truncate_km_table(result, min_cell_count, leading)


def survival_summary(cohort: pd.DataFrame, matched: pd.DataFrame, alpha: float,
                     landmark_months: Sequence[float]) -> pd.DataFrame:
    """``survival_summary``: per cohort, endpoint and arm: medians, landmarks, tests, HR.

    Medians, landmark survival and the HR are computed on the whole data
    (they are estimates, not cells; the truncation of ``km_estimates`` does
    not apply). In the matched cohort the HR uses the robust variance
    clustered on ``pair_id``; the log-rank test ignores the pairing (see
    docs/methods-statistics.md).
    """
    rows = []
    for label, frame in _cohorts(cohort, matched, SURVIVAL_COLUMNS,
                                 matched_columns=[PAIR_COLUMN]):
        cluster = PAIR_COLUMN if label == "matched" else None
        for endpoint, (duration, event) in ENDPOINTS.items():
            # sorted once, by arm and time: the curves, the test and (merged) the HR
            by_arm = survival_times(frame, duration, event, strata_col=ARM_COLUMN)
            medians = median_survival(frame, duration, event, ARM_COLUMN, alpha=alpha,
                                      times_by_group=by_arm)
            medians = medians.rename(columns={"group": "arm"})
            landmarks = survival_at(frame, duration, event, ARM_COLUMN,
                                    times=list(landmark_months), alpha=alpha,
                                    times_by_group=by_arm)
            landmarks = landmarks.rename(columns={"group": "arm"})
            wide = _landmarks_wide(landmarks)
            test = _one_row(logrank(frame, duration, event, ARM_COLUMN, times_by_group=by_arm))
            hr = _one_row(hazard_ratio(frame, duration, event, TREATMENT_COLUMN,
                                       cluster_col=cluster, alpha=alpha,
                                       times=by_arm.without_strata()))
            summary = medians.merge(wide, on="arm", how="left")
            summary = summary.assign(
                cohort=label,
                endpoint=endpoint,
                logrank_chi_square=test["chi_square"],
                logrank_p_value=test["p_value"],
                hr_ici_vs_non_ici=hr["hr"],
                hr_ci_lower=hr["ci_lower"],
                hr_ci_upper=hr["ci_upper"],
                hr_p_value=hr["p_value"],
                hr_variance_method=hr["variance_method"],
                ties_method=hr["ties_method"],
                hr_ci_method=wald_ci_method(alpha),
                median_ci_method=f"{MEDIAN_CI_METHOD}; band: {CI_METHODS['log-log']}",
                landmark_ci_method=str(landmarks["ci_method"].iloc[0]),
                logrank_test_method=test["test_method"],
            )
            rows.append(summary)
    result = pd.concat(rows, ignore_index=True)
    leading = ["cohort", "endpoint", "arm"]
    return result[leading + [c for c in result.columns if c not in leading]]


def _landmarks_wide(landmarks: pd.DataFrame) -> pd.DataFrame:
    """One column triple (rate, lower, upper) per landmark time, e.g. ``survival_6_months``."""
    wide = landmarks[["arm"]].drop_duplicates().set_index("arm")
    for time, block in landmarks.groupby("time_months"):
        suffix = f"{int(time) if float(time).is_integer() else time}_months"
        block = block.set_index("arm")
        wide[f"survival_{suffix}"] = block["survival"]
        wide[f"survival_{suffix}_ci_lower"] = block["ci_lower"]
        wide[f"survival_{suffix}_ci_upper"] = block["ci_upper"]
    return wide.reset_index()


def _one_row(result: Any) -> Mapping[str, Any]:
    if isinstance(result, pd.DataFrame):
        if len(result) != 1:
            raise ValueError(f"expected one row, got {len(result)}")
        return result.iloc[0].to_dict()
    return dict(result)


def cox_results(cohort: pd.DataFrame, matched: pd.DataFrame,
                terms: Sequence[str], alpha: float) -> pd.DataFrame:
    """``cox_results``: univariate and multivariate Cox models per cohort and endpoint.

    Matched cohort: robust variance clustered on ``pair_id`` (as the
    ``survival_summary`` HR); all patients: model-based variance.
    """
    tables = []
    for label, frame in _cohorts(cohort, matched, _cox_columns(terms),
                                 matched_columns=[PAIR_COLUMN]):
        # matched patients are paired: robust variance clustered on the pair
        cluster = PAIR_COLUMN if label == "matched" else None
        for endpoint, (duration, event) in ENDPOINTS.items():
            # sorted once, for every model of this cohort and endpoint
            times = survival_times(frame, duration, event)
            for model in ("univariate", "multivariate"):
                table = cox_table(frame, duration, event, list(terms), model, alpha=alpha,
                                  cluster_col=cluster, times=times)
                tables.append(table.assign(cohort=label, endpoint=endpoint, model=model))
    result = pd.concat(tables, ignore_index=True)
    leading = ["cohort", "endpoint", "model", "term"]
    return result[leading + [c for c in result.columns if c not in leading]]


def response_table(cohort: pd.DataFrame, matched: pd.DataFrame, alpha: float,
                   min_cell_count: int) -> pd.DataFrame:
    """``response_summary``: best-response counts, ORR and DCR with CIs and tests.

    Computed on the unsuppressed counts, then small counts (and the rates,
    CIs and p-values that would give them back) are suppressed
    (:func:`rwe_stats.disclosure.suppress_response_table`). The tests
    compare the arms as independent samples, also in the matched cohort.
    """
    tables = [response_summary(frame, arm_col=ARM_COLUMN, response_col="best_response",
                               alpha=alpha).assign(cohort=label)
              for label, frame in _cohorts(cohort, matched, RESPONSE_COLUMNS)]
    result = pd.concat(tables, ignore_index=True)
    leading = ["cohort", "arm"]
    result = result[leading + [c for c in result.columns if c not in leading]]
    return suppress_response_table(result, min_cell_count, group_cols=["cohort"])


def safety_table(adverse_events: pd.DataFrame, cohort: pd.DataFrame,
                 min_cell_count: int) -> pd.DataFrame:
    """``safety_summary``: patients with each AE term per grade band and arm."""
    return safety_summary(adverse_events, cohort, min_cell_count=min_cell_count)


def subgroup_table(cohort: pd.DataFrame, subgroups: Mapping[str, str], alpha: float,
                   min_cell_count: int) -> pd.DataFrame:
    """``subgroup_hr``: PFS hazard ratio of ICI vs non-ICI within each subgroup.

    Patient and event counts per level and arm are protected by
    :func:`rwe_stats.disclosure.suppress_subgroup_table`; the estimates are
    shown.
    """
    duration, event = ENDPOINTS["PFS"]
    frame = _canonical(cohort, _subgroup_columns(subgroups))
    table = subgroup_hazard_ratios(frame, duration, event, TREATMENT_COLUMN,
                                   dict(subgroups), alpha=alpha,
                                   times=survival_times(frame, duration, event))
    return suppress_subgroup_table(table, min_cell_count).assign(cohort="all", endpoint="PFS")

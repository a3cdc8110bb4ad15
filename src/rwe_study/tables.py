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
from rwe_stats.regression import cox_table, wald_ci_method
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
# row of the second-line record. The matching breaks ties on it, never on the
# pseudonymised patient_id (which changes with the pseudonym key).
TIE_BREAK_COLUMNS = ("center_id", "second_line_source_table", "second_line_source_row_number")
ENDPOINTS: dict[str, tuple[str, str]] = {
    "PFS": ("pfs_months", "is_pfs_event"),
    "OS": ("os_months", "is_os_event"),
}
ENDPOINT_COLUMNS = tuple(column for pair in ENDPOINTS.values() for column in pair)
ARM_COLUMN = "arm"
MATCHED_METHOD_COLUMNS = ("matching_method", "matching_caliper_sd", "random_seed")
TREATMENT_COLUMN = "is_ici"


# Text columns with at most this many distinct values are rebuilt from their
# distinct values (see _ordered_column); above it, that saves nothing.
FEW_LEVELS = 1_000
SAMPLE_ROWS = 10 * FEW_LEVELS


def _require_tie_break_columns(frame: pd.DataFrame) -> None:
    missing = [column for column in TIE_BREAK_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"analysis_cohort needs the provenance column(s) {missing} for the "
                         "matching tie-break")


def _text_codes(values: pd.Series, column: str) -> np.ndarray:
    """Integer codes of a text column, numbered in the text order of its values.

    Raises ``ValueError`` when the column has missing values (code -1).
    """
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise ValueError(f"{list(TIE_BREAK_COLUMNS)} must have no missing values ({column})")
    text_rank = np.argsort(np.argsort(np.asarray(uniques, dtype=str), kind="stable"))
    return text_rank[codes]


def _canonical_order(frame: pd.DataFrame) -> np.ndarray:
    """Row positions in tie-break order: center, source table (as text), source row number.

    The warehouse returns rows in no particular order; the estimates do not
    depend on it, but their last bits do (floating-point sums). Sorting on a
    key-independent key makes every table identical, bit for bit, whatever
    the row order and the pseudonym key. A lexsort of integer codes: sorting
    the joined key strings cost ~1 s per table at 1,000,000 patients.
    Raises ``ValueError`` when a tie-break column is missing, has missing
    values or the keys repeat.
    """
    _require_tie_break_columns(frame)
    center = _text_codes(frame["center_id"], "center_id")
    table = _text_codes(frame["second_line_source_table"], "second_line_source_table")
    rows = frame["second_line_source_row_number"]
    if rows.isna().any():
        raise ValueError(f"{list(TIE_BREAK_COLUMNS)} must have no missing values "
                         "(second_line_source_row_number)")
    rows = pd.to_numeric(rows, errors="raise").to_numpy(dtype="int64")
    key = _one_sort_key(center, table, rows)
    if key is None:  # the three columns do not fit in one int64
        order = np.lexsort((rows, table, center))
        ordered = np.column_stack((center[order], table[order], rows[order]))
        repeated = len(ordered) > 1 and (ordered[1:] == ordered[:-1]).all(axis=1).any()
    else:
        # the keys are checked unique below, so any sort kind gives the same order
        order = np.argsort(key)
        ordered_key = key[order]
        repeated = (ordered_key[1:] == ordered_key[:-1]).any()
    if repeated:
        keys = tie_break_keys(frame)
        raise ValueError(f"tie-break keys repeat: {keys[keys.duplicated()].head(3).tolist()}")
    return order


def _one_sort_key(center: np.ndarray, table: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """(center, table, row) as one int64 whose order is their lexicographic order, or None.

    One argsort of it replaces a three-key lexsort and a row-wise compare
    (0.26 s -> 0.18 s per table at 1,000,000 patients). None when the codes
    times the row-number span would overflow an int64.
    """
    if len(rows) == 0:
        return np.zeros(0, dtype="int64")
    low = int(rows.min())
    span, tables = int(rows.max()) - low + 1, int(table.max()) + 1
    if (int(center.max()) + 1) * tables * span >= 2**63:
        return None
    return (center.astype("int64") * tables + table) * span + (rows - low)


def _ordered_column(values: pd.Series, order: np.ndarray) -> pd.Series:
    """``values`` in ``order``; a text column with few distinct strings is rebuilt from them.

    Every row of such a column (arm, best response, center) then points at
    one of a few string objects, instead of its own: the later group-bys,
    comparisons and copies read a few cached objects, not a million
    scattered ones -- at 1,000,000 patients those reads made the KM and
    balance tables grow faster than n log n. The values are equal to the
    input's, so the results do not change.
    """
    # a sample with more distinct values than FEW_LEVELS rules the column out
    # without hashing all of it (patient ids)
    if values.dtype == object and values.iloc[:SAMPLE_ROWS].nunique(dropna=False) <= FEW_LEVELS:
        codes, uniques = pd.factorize(values)
        if (len(uniques) <= FEW_LEVELS and not (codes < 0).any()
                and all(isinstance(value, str) for value in uniques)):
            return pd.Series(np.asarray(uniques, dtype=object).take(codes.take(order)),
                             name=values.name)
    return values.take(order).reset_index(drop=True)


def _canonical(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` (those it has) in tie-break order, for one table's estimates.

    Only the columns a table reads are reordered: the whole 30-column cohort
    cost more than the estimates at 1,000,000 patients. Columns the frame
    lacks are left out here, so the estimator names them in its own error.
    """
    order = _canonical_order(frame)
    wanted = [column for column in dict.fromkeys(columns) if column in frame.columns]
    return pd.DataFrame({column: _ordered_column(frame[column], order) for column in wanted},
                        columns=wanted)


def _cohorts(cohort: pd.DataFrame, matched: pd.DataFrame | None, columns: Sequence[str],
             matched_columns: Sequence[str] = ()) -> list[tuple[str, pd.DataFrame]]:
    """Both cohorts in canonical order, each with only the columns one table reads."""
    cohorts = [("all", _canonical(cohort, columns))]
    if matched is not None:
        cohorts.append(("matched", _canonical(matched, [*columns, *matched_columns])))
    return cohorts


def _key_strings(values: pd.DataFrame) -> pd.Series:
    # one f-string per row: pandas' "+" on text columns builds every partial
    # string too (0.48 s vs 0.25 s at 1,000,000 patients)
    rows = values["second_line_source_row_number"].astype("int64").tolist()
    return pd.Series([f"{center}:{table}:{row}" for center, table, row in zip(
        values["center_id"].tolist(), values["second_line_source_table"].tolist(), rows,
        strict=True)], index=values.index, dtype=object)


def tie_break_keys(cohort: pd.DataFrame) -> pd.Series:
    """``<center_id>:<second_line_source_table>:<second_line_source_row_number>`` per patient.

    The raw export row of the patient's second-line record, with its center
    and export: unique per analysis record, the same on every machine and
    for every pseudonym key, and unrelated to outcomes. Raises ``ValueError``
    when a column is missing or the keys are not unique.
    """
    keys = _key_strings(_tie_break_values(cohort))
    if keys.duplicated().any():
        raise ValueError(f"tie-break keys repeat: {keys[keys.duplicated()].head(3).tolist()}")
    return keys.rename("tie_break_key")


def _tie_break_values(cohort: pd.DataFrame) -> pd.DataFrame:
    """The tie-break columns, checked: present, no missing values, whole row numbers."""
    _require_tie_break_columns(cohort)
    values = cohort[list(TIE_BREAK_COLUMNS)]
    if values.isna().any().any():
        raise ValueError(f"{list(TIE_BREAK_COLUMNS)} must have no missing values")
    rows = pd.to_numeric(values["second_line_source_row_number"], errors="raise")
    return values.assign(second_line_source_row_number=rows.astype("int64"))


KM_COLUMNS = (ARM_COLUMN, *ENDPOINT_COLUMNS)
SURVIVAL_COLUMNS = (ARM_COLUMN, TREATMENT_COLUMN, *ENDPOINT_COLUMNS)
RESPONSE_COLUMNS = (ARM_COLUMN, "best_response")
PAIR_COLUMN = "pair_id"


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

    The Python models load only these: converting the whole 32-column
    cohort to pandas took longer than some tables' estimates at 1,000,000
    patients. ``params`` are the study parameters (``dbt_project.yml``).
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
        tie_break_key=_key_strings(keyed).to_numpy(),
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


def matched_cohort(cohort: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """``matched_cohort``: the matched patients with their analysis columns and pair.

    One row per matched patient, pair by pair (``pair_id`` order), the ICI
    patient first. Each row also carries the pair's ``matching_method``,
    ``matching_caliper_sd`` and ``random_seed`` (from ``matched_pairs``).
    """
    method = [column for column in MATCHED_METHOD_COLUMNS if column in pairs.columns]
    if len(method) != len(MATCHED_METHOD_COLUMNS):
        raise ValueError(f"matched_pairs needs the method columns {list(MATCHED_METHOD_COLUMNS)}")
    # pair_id order (the warehouse returns rows in any order); numpy sorts the
    # fixed-width text in C, a pandas sort of a million strings took ~0.4 s
    by_pair = np.argsort(pairs[PAIR_COLUMN].to_numpy(dtype=str), kind="stable")
    pair_rows = np.repeat(by_pair, 2)  # each pair twice: treated, then control
    members = np.column_stack((pairs["treated_patient_id"].to_numpy()[by_pair],
                               pairs["control_patient_id"].to_numpy()[by_pair])).ravel()
    # an index lookup, not a validated merge: half the time at 1,000,000 patients
    patients = pd.Index(cohort["patient_id"])
    if not patients.is_unique:
        raise ValueError("a patient is twice in analysis_cohort")
    positions = patients.get_indexer(members)
    if (positions < 0).any():
        raise ValueError("matched_pairs names patients that are not in analysis_cohort")
    matched_once = np.zeros(len(patients), dtype=bool)
    matched_once[positions] = True  # a flag per patient: np.unique hashed 0.6 s at 1M
    if matched_once.sum() != len(positions):
        raise ValueError("a patient is twice in matched_pairs")
    treatment = cohort[TREATMENT_COLUMN].to_numpy()[positions]
    if not (treatment[0::2] == 1).all() or not (treatment[1::2] == 0).all():
        raise ValueError("every pair in matched_pairs must join an ICI patient (treated) "
                         "with a non-ICI patient (control) of analysis_cohort")
    columns = {PAIR_COLUMN: pairs[PAIR_COLUMN].take(pair_rows).reset_index(drop=True),
               "patient_id": pd.Series(members, name="patient_id")}
    columns.update({column: _ordered_column(cohort[column], positions)
                    for column in cohort.columns if column != "patient_id"})
    columns.update({column: pairs[column].take(pair_rows).reset_index(drop=True)
                    for column in method})
    return pd.DataFrame(columns)


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
            medians = median_survival(frame, duration, event, ARM_COLUMN, alpha=alpha)
            medians = medians.rename(columns={"group": "arm"})
            landmarks = survival_at(frame, duration, event, ARM_COLUMN,
                                    times=list(landmark_months), alpha=alpha)
            landmarks = landmarks.rename(columns={"group": "arm"})
            wide = _landmarks_wide(landmarks)
            test = _one_row(logrank(frame, duration, event, ARM_COLUMN))
            hr = _one_row(hazard_ratio(frame, duration, event, TREATMENT_COLUMN,
                                       cluster_col=cluster, alpha=alpha))
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
        # (a categorical: the 28 fits then reuse one encoding of the ids)
        cluster = PAIR_COLUMN if label == "matched" else None
        if cluster:
            frame = frame.assign(pair_id=frame["pair_id"].astype("category"))
        for endpoint, (duration, event) in ENDPOINTS.items():
            for model in ("univariate", "multivariate"):
                table = cox_table(frame, duration, event, list(terms), model, alpha=alpha,
                                  cluster_col=cluster)
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
                                   dict(subgroups), alpha=alpha)
    return suppress_subgroup_table(table, min_cell_count).assign(cohort="all", endpoint="PFS")

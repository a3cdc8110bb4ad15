"""The data-quality gate: GX suites in expectations/, rwe_quality and dq_results.

Every test builds its own small frames, shaped like ``dbt.ref(...).df()`` output
from DuckDB (varchar -> object, integer -> int32, bigint -> int64, or Int32/Int64
when a column has nulls, boolean -> bool or boolean, date -> datetime64[us]).
The end-to-end gate (a real ``dbt build`` stopped by a failed expectation) is
tests/python/test_quality_gate.py.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import inspect
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from study_harness import file_parameters, study_ids

from rwe_quality import (
    RESULT_COLUMNS,
    RESULT_DTYPES,
    SuiteLoadError,
    load_suite,
    validate_frame,
    validate_table,
    validate_tables,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"
#: Every published table with a suite, in dq_results' row order.
TABLES = ("analysis_cohort", "adverse_events", "quarantine", "row_accounting")
SUITES = {table: EXPECTATIONS_DIR / f"{table}.json" for table in TABLES}
EXPECTED_COUNTS = {"analysis_cohort": 70, "adverse_events": 11, "quarantine": 11,
                   "row_accounting": 14}
REASONS_SEED = PROJECT_DIR / "seeds" / "terminology" / "terminology__row_outcome_reasons.csv"
DQ_RESULTS_MODEL = PROJECT_DIR / "python_models" / "quality" / "dq_results.py"
GATE_TEST = (PROJECT_DIR / "tests" / "dbt" / "singular"
             / "assert_no_critical_data_quality_failures.sql")
# Warnings whose failing frame would be too large for a fast test.
NOT_BROKEN_HERE = {("analysis_cohort", "expect_table_row_count_to_be_between", None, "max_value")}


# --------------------------------------------------------------------------- frames

def valid_cohort() -> pd.DataFrame:
    """Six patients that satisfy every expectation of analysis_cohort (warnings too)."""
    rows = [
        # patient, center, arm, age, sex, ecog, sites, 1L PFS, PFS, PFS event, OS, OS event, BOR
        ("p01", "center_a", "ICI", 64, "male", 0, 2, 5.9, 3.1, True, 8.2, True, "PR"),
        ("p02", "center_a", "non-ICI", 65, "female", 2, 3, 6.0, 2.0, True, 2.0, False, "SD"),
        ("p03", "center_b", "ICI", 71, "male", 1, 0, 12.5, 0.0, False, 0.5, False, "NE"),
        ("p04", "center_b", "non-ICI", 58, "female", 4, 7, 3.2, 1.4, True, 4.9, True, "PD"),
        ("p05", "center_c", "ICI", 80, "female", 3, 1, 0.0, 6.6, False, 6.6, False, "CR"),
        ("p06", "center_c", "non-ICI", 45, "male", 1, 4, 7.7, 2.2, True, 3.0, True, "PR"),
    ]
    (patient, center, arm, age, sex, ecog, sites, first_line_pfs, pfs, pfs_event, os_,
     os_event, response) = map(list, zip(*rows, strict=True))
    is_ici = [value == "ICI" for value in arm]
    start = pd.to_datetime(
        ["2020-01-15", "2020-06-01", "2021-03-10", "2021-11-30", "2022-05-05", "2023-02-20"])

    def end_dates(months: list[float]) -> np.ndarray:
        days = np.round(np.array(months) * 30.4375).astype("int64")
        return (start + pd.to_timedelta(days, unit="D")).astype("datetime64[us]")

    return pd.DataFrame({
        "study_id": "zhang2025_second_line_ici",
        "patient_id": patient,
        "center_id": center,
        "second_line_source_table": ["treatment_lines", "treatment_lines",
                                     "drug_administrations", "drug_administrations", "lines",
                                     "lines"],
        "second_line_source_file_name": ["treatment_lines", "treatment_lines",
                                         "drug_administrations_1", "drug_administrations_2",
                                         "lines", "lines"],
        "is_second_line_source_split": np.array([False, False, True, True, False, False]),
        "second_line_source_row_number": np.array([1, 2, 2, 3732, 17, 18], dtype="int32"),
        "arm": arm,
        "is_ici": np.array(is_ici, dtype=bool),
        "second_line_start_date": pd.to_datetime(
            ["2020-01-15", "2020-06-01", "2021-03-10", "2021-11-30", "2022-05-05", "2023-02-20"]
        ).astype("datetime64[us]"),
        "second_line_regimen": ["atezolizumab + carboplatin + etoposide", "topotecan",
                                "durvalumab", "lurbinectedin", "nivolumab", "topotecan"],
        "age_years": np.array(age, dtype="int32"),
        "is_age_65_or_older": np.array([value >= 65 for value in age], dtype=bool),
        "sex": sex,
        "is_male": np.array([value == "male" for value in sex], dtype=bool),
        "ecog_ps": np.array(ecog, dtype="int32"),
        "is_ecog_2_or_more": np.array([value >= 2 for value in ecog], dtype=bool),
        "is_ever_smoker": np.array([True, True, False, True, True, False]),
        "has_liver_metastases": np.array([True, False, False, True, False, True]),
        "has_brain_metastases": np.array([False, True, False, True, False, False]),
        "has_bone_metastases": np.array([True, True, False, True, False, True]),
        "metastatic_site_count": np.array(sites, dtype="int32"),
        "has_three_or_more_metastatic_sites": np.array([value >= 3 for value in sites]),
        "had_thoracic_radiotherapy": np.array([False, True, False, False, True, False]),
        "had_prophylactic_cranial_irradiation": np.array([False, False, True, False, False, True]),
        "had_first_line_ici": np.array(is_ici, dtype=bool),
        "first_line_pfs_months": np.array(first_line_pfs, dtype="float64"),
        "is_first_line_pfs_6_months_or_more": np.array([value >= 6 for value in first_line_pfs]),
        "pfs_months": np.array(pfs, dtype="float64"),
        "is_pfs_event": np.array(pfs_event, dtype=bool),
        "os_months": np.array(os_, dtype="float64"),
        "is_os_event": np.array(os_event, dtype=bool),
        "pfs_end_date": end_dates(pfs),
        "os_end_date": end_dates(os_),
        "best_response": response,
        "is_objective_response": np.array([value in ("CR", "PR") for value in response]),
        "is_disease_control": np.array([value in ("CR", "PR", "SD") for value in response]),
    })


def valid_cohort_nullable_dtypes() -> pd.DataFrame:
    """The valid cohort with pandas' nullable dtypes (DuckDB's, once a column holds a NULL)."""
    frame = valid_cohort()
    for column in ("second_line_source_row_number", "age_years", "ecog_ps",
                   "metastatic_site_count"):
        frame[column] = frame[column].astype("Int32")
    for column in [name for name, dtype in frame.dtypes.items() if dtype == np.dtype(bool)]:
        frame[column] = frame[column].astype("boolean")
    return frame


#: The columns cohort_with_missing_covariates leaves empty.
MISSING_COVARIATES = ("ecog_ps", "is_ecog_2_or_more", "age_years", "is_age_65_or_older", "sex",
                      "is_male", "first_line_pfs_months", "is_first_line_pfs_6_months_or_more")


def cohort_with_missing_covariates() -> pd.DataFrame:
    """Covariates left NULL, as the cohort had them before missing_baseline_covariate
    excluded such patients: now every one of them must fail its not_null check."""
    frame = valid_cohort()
    frame["ecog_ps"] = frame["ecog_ps"].astype("Int32")
    frame["is_ecog_2_or_more"] = frame["is_ecog_2_or_more"].astype("boolean")
    frame.loc[2, ["ecog_ps", "is_ecog_2_or_more"]] = pd.NA
    frame["age_years"] = frame["age_years"].astype("Int32")
    frame["is_age_65_or_older"] = frame["is_age_65_or_older"].astype("boolean")
    frame.loc[3, ["age_years", "is_age_65_or_older"]] = pd.NA
    frame.loc[4, "sex"] = None
    frame["is_male"] = frame["is_male"].astype("boolean")
    frame.loc[4, "is_male"] = pd.NA
    frame.loc[5, ["first_line_pfs_months"]] = np.nan
    frame["is_first_line_pfs_6_months_or_more"] = (
        frame["is_first_line_pfs_6_months_or_more"].astype("boolean"))
    frame.loc[5, "is_first_line_pfs_6_months_or_more"] = pd.NA
    return frame


def row_outcome_reasons() -> list[tuple[str, str]]:
    """(row_status, reason) of every code in the reasons seed, in seed order."""
    with REASONS_SEED.open(encoding="utf-8", newline="") as handle:
        return [(row["row_status"], row["reason"]) for row in csv.DictReader(handle)]


def valid_adverse_events() -> pd.DataFrame:
    return pd.DataFrame({
        "study_id": "zhang2025_second_line_ici",
        "patient_id": ["p01", "p01", "p02", "p04", "p05"],
        "center_id": ["center_a", "center_a", "center_a", "center_b", "center_c"],
        "arm": ["ICI", "ICI", "non-ICI", "non-ICI", "ICI"],
        "ae_term": ["Fatigue", "Anemia", "Neutrophil count decreased", "Fatigue", "Pneumonitis"],
        "ctcae_grade": np.array([2, 3, 4, 1, 5], dtype="int32"),
    })


def valid_quarantine() -> pd.DataFrame:
    """One rejected row per quarantine reason (row 1 of a file included)."""
    rows = [
        ("center_a", "treatment_lines", "data/raw/center_a/treatment_lines.csv", 1,
         "record_no", "duplicate_row"),
        ("center_a", "treatment_lines", "data/raw/center_a/treatment_lines.csv", 323,
         "line_start_date", "unparseable_date"),
        ("center_a", "adverse_events", "data/raw/center_a/adverse_events.csv", 323,
         "onset_date", "date_order_violation"),
        ("center_b", "drug_administrations", "data/raw/center_b/drug_administrations.csv",
         1022, "drug_name", "unknown_drug"),
        ("center_b", "patients", "data/raw/center_b/patients.csv", 50, "gender",
         "unknown_code"),
        ("center_c", "lines", "data/raw/center_c/lines.csv", 81, "case_no",
         "missing_required_value"),
    ]
    center, table, file_name, row_number, column, reason = map(list, zip(*rows, strict=True))
    return pd.DataFrame({
        "center_id": center,
        "source_table": table,
        "source_file_name": file_name,
        "source_row_number": np.array(row_number, dtype="int32"),
        "failing_column": column,
        "reason": reason,
        "reason_description": [f"Row {n} of {f} (center {c}, table {t}): column {col} ..."
                               for c, t, f, n, col, _ in rows],
    })


def valid_row_accounting() -> pd.DataFrame:
    """Two exports whose counts add up to rows_in; one has every row published."""
    rows = [
        ("center_a", "treatment_lines", 10, "published", "published", 6),
        ("center_a", "treatment_lines", 10, "excluded", "no_second_line", 2),
        ("center_a", "treatment_lines", 10, "quarantined", "duplicate_row", 1),
        ("center_a", "treatment_lines", 10, "quarantined", "unknown_drug", 1),
        ("center_b", "patients", 5, "published", "published", 5),
    ]
    center, table, rows_in, status, reason, count = map(list, zip(*rows, strict=True))
    return pd.DataFrame({
        "center_id": center,
        "source_table": table,
        "rows_in": np.array(rows_in, dtype="int64"),
        "row_status": status,
        "reason": reason,
        "row_count": np.array(count, dtype="int64"),
    })


VALID_FRAMES: dict[str, Callable[[], pd.DataFrame]] = {
    "analysis_cohort": valid_cohort,
    "adverse_events": valid_adverse_events,
    "quarantine": valid_quarantine,
    "row_accounting": valid_row_accounting,
}


# --------------------------------------------------------------------------- breakers

@dataclass(frozen=True)
class Breaker:
    """One broken frame, aimed at one expectation of a suite.

    The target is the expectation with this type and column_name whose kwargs
    contain ``kwarg`` (the bound or condition that tells same-type checks apart).
    ``row`` sets values on row 0 of the valid frame (the broken row);
    ``reshape`` changes the frame's structure instead.
    """

    table: str
    expectation_type: str
    column_name: str | None
    row: dict[str, Any] = field(default_factory=dict)
    reshape: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    kwarg: str | None = None

    def frame(self) -> pd.DataFrame:
        frame = VALID_FRAMES[self.table]()
        if self.reshape is not None:
            frame = self.reshape(frame)
        for column, value in self.row.items():
            if value is None and frame[column].dtype.kind in "bi":
                # numpy bool/int cannot hold a NULL; DuckDB then returns the nullable dtype
                nullable = "boolean" if frame[column].dtype == bool else (
                    f"Int{frame[column].dtype.itemsize * 8}")
                frame[column] = frame[column].astype(nullable)
            if value is None:
                value = pd.NA if frame[column].dtype != object else None
            frame.loc[0, column] = value
        return frame

    @property
    def case_id(self) -> str:
        what = self.column_name or "table"
        detail = self.kwarg or ",".join(f"{k}={v}" for k, v in self.row.items()) or "reshape"
        return f"{self.table}:{self.expectation_type}:{what}:{detail}"


def _swap_first_columns(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(frame.columns)
    columns[0], columns[1] = columns[1], columns[0]
    return frame[columns]


def _as_int(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda frame: frame.assign(**{column: frame[column].astype("int64")})


def _duplicate_ae(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[0]].assign(ctcae_grade=np.int32(1))],
                     ignore_index=True)


def _duplicate_first_row(**changes: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Append a copy of row 0 that differs only in ``changes`` (outside the key)."""
    return lambda frame: pd.concat([frame, frame.iloc[[0]].assign(**changes)],
                                   ignore_index=True)


C = "analysis_cohort"
A = "adverse_events"
Q = "quarantine"
R = "row_accounting"
IN_SET = "expect_column_values_to_be_in_set"
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
TYPES = "expect_column_values_to_be_in_type_list"
PAIR = "expect_column_pair_values_to_be_in_set"

BREAKERS = [
    # analysis_cohort: structure and keys
    Breaker(C, "expect_table_columns_to_match_ordered_list", None, reshape=_swap_first_columns),
    Breaker(C, "expect_table_row_count_to_be_between", None, kwarg="min_value",
            reshape=lambda frame: frame.iloc[0:0]),
    Breaker(C, NOT_NULL, "patient_id", {"patient_id": None}),
    Breaker(C, NOT_NULL, "study_id", {"study_id": None}),
    Breaker(C, "expect_compound_columns_to_be_unique", "study_id, patient_id",
            {"patient_id": "p02"}),
    Breaker(C, NOT_NULL, "center_id", {"center_id": None}),
    Breaker(C, NOT_NULL, "second_line_source_table", {"second_line_source_table": None}),
    Breaker(C, NOT_NULL, "second_line_source_file_name", {"second_line_source_file_name": None}),
    Breaker(C, NOT_NULL, "is_second_line_source_split", {"is_second_line_source_split": None}),
    Breaker(C, NOT_NULL, "second_line_source_row_number",
            {"second_line_source_row_number": None}),
    Breaker(C, BETWEEN, "second_line_source_row_number", {"second_line_source_row_number": 0},
            kwarg="min_value"),
    Breaker(C, "expect_compound_columns_to_be_unique",
            "study_id, center_id, second_line_source_table, second_line_source_file_name, "
            "second_line_source_row_number",
            {"second_line_source_row_number": 2,
             "second_line_source_file_name": "treatment_lines"}),
    Breaker(C, NOT_NULL, "second_line_start_date", {"second_line_start_date": None}),
    Breaker(C, NOT_NULL, "second_line_regimen", {"second_line_regimen": None}),
    # treatment
    Breaker(C, NOT_NULL, "arm", {"arm": None}),
    Breaker(C, IN_SET, "arm", {"arm": "ICI + chemotherapy"}),
    Breaker(C, NOT_NULL, "is_ici", {"is_ici": None}),
    Breaker(C, TYPES, "is_ici", reshape=_as_int("is_ici")),
    Breaker(C, PAIR, "arm, is_ici", {"is_ici": False}),
    # outcomes
    Breaker(C, NOT_NULL, "pfs_months", {"pfs_months": np.nan}),
    Breaker(C, BETWEEN, "pfs_months", {"pfs_months": -0.1}, kwarg="min_value"),
    Breaker(C, BETWEEN, "pfs_months", {"pfs_months": 120.5, "os_months": 121.0},
            kwarg="max_value"),
    Breaker(C, NOT_NULL, "is_pfs_event", {"is_pfs_event": None}),
    Breaker(C, TYPES, "is_pfs_event", reshape=_as_int("is_pfs_event")),
    Breaker(C, NOT_NULL, "os_months", {"os_months": np.nan}),
    Breaker(C, BETWEEN, "os_months", {"os_months": -0.5, "pfs_months": 0.0},
            kwarg="min_value"),
    Breaker(C, BETWEEN, "os_months", {"os_months": 130.0}, kwarg="max_value"),
    Breaker(C, NOT_NULL, "is_os_event", {"is_os_event": None}),
    Breaker(C, TYPES, "is_os_event", reshape=_as_int("is_os_event")),
    Breaker(C, NOT_NULL, "pfs_end_date", {"pfs_end_date": pd.NaT}),
    Breaker(C, NOT_NULL, "os_end_date", {"os_end_date": pd.NaT}),
    Breaker(C, "expect_column_pair_values_a_to_be_greater_than_b", "os_months, pfs_months",
            {"pfs_months": 9.0}),
    Breaker(C, NOT_NULL, "best_response", {"best_response": None}),
    Breaker(C, IN_SET, "best_response", {"best_response": "MR"}),
    Breaker(C, NOT_NULL, "is_objective_response", {"is_objective_response": None}),
    Breaker(C, PAIR, "best_response, is_objective_response", {"is_objective_response": False}),
    Breaker(C, NOT_NULL, "is_disease_control", {"is_disease_control": None}),
    Breaker(C, PAIR, "best_response, is_disease_control", {"is_disease_control": False}),
    # baseline covariates: never null (missing_baseline_covariate excludes the patient)
    *(Breaker(C, NOT_NULL, column, {column: None}) for column in (
        "age_years", "is_age_65_or_older", "sex", "is_male", "ecog_ps", "is_ecog_2_or_more",
        "is_ever_smoker", "has_liver_metastases", "has_brain_metastases", "has_bone_metastases",
        "metastatic_site_count", "has_three_or_more_metastatic_sites",
        "had_thoracic_radiotherapy", "had_prophylactic_cranial_irradiation",
        "had_first_line_ici", "first_line_pfs_months", "is_first_line_pfs_6_months_or_more")),
    Breaker(C, BETWEEN, "age_years", {"age_years": 17, "is_age_65_or_older": False}),
    Breaker(C, BETWEEN, "age_years", {"age_years": 64, "is_age_65_or_older": True},
            kwarg="row_condition:True"),
    Breaker(C, BETWEEN, "age_years", {"age_years": 65, "is_age_65_or_older": False},
            kwarg="row_condition:False"),
    Breaker(C, IN_SET, "sex", {"sex": "unknown"}),
    Breaker(C, PAIR, "sex, is_male", {"is_male": False}),
    Breaker(C, IN_SET, "ecog_ps", {"ecog_ps": 5, "is_ecog_2_or_more": True}),
    Breaker(C, PAIR, "ecog_ps, is_ecog_2_or_more", {"ecog_ps": 3}),
    Breaker(C, BETWEEN, "metastatic_site_count", {"metastatic_site_count": -1},
            kwarg="min_value"),
    Breaker(C, BETWEEN, "metastatic_site_count",
            {"metastatic_site_count": 8, "has_three_or_more_metastatic_sites": True},
            kwarg="max_value"),
    Breaker(C, BETWEEN, "metastatic_site_count",
            {"metastatic_site_count": 2, "has_three_or_more_metastatic_sites": True},
            kwarg="row_condition:True"),
    Breaker(C, BETWEEN, "metastatic_site_count", {"metastatic_site_count": 3},
            kwarg="row_condition:False"),
    Breaker(C, BETWEEN, "first_line_pfs_months", {"first_line_pfs_months": -1.0},
            kwarg="min_value"),
    Breaker(C, BETWEEN, "first_line_pfs_months",
            {"first_line_pfs_months": 5.0, "is_first_line_pfs_6_months_or_more": True},
            kwarg="row_condition:True"),
    Breaker(C, BETWEEN, "first_line_pfs_months", {"first_line_pfs_months": 6.0},
            kwarg="row_condition:False"),
    # adverse_events
    Breaker(A, "expect_table_columns_to_match_ordered_list", None,
            reshape=lambda frame: frame.drop(columns="center_id")),
    Breaker(A, "expect_table_row_count_to_be_between", None, kwarg="min_value",
            reshape=lambda frame: frame.iloc[0:0]),
    Breaker(A, NOT_NULL, "study_id", {"study_id": None}),
    Breaker(A, NOT_NULL, "patient_id", {"patient_id": None}),
    Breaker(A, NOT_NULL, "center_id", {"center_id": None}),
    Breaker(A, NOT_NULL, "arm", {"arm": None}),
    Breaker(A, IN_SET, "arm", {"arm": "control"}),
    Breaker(A, NOT_NULL, "ae_term", {"ae_term": None}),
    Breaker(A, NOT_NULL, "ctcae_grade", reshape=lambda frame: frame.assign(
        ctcae_grade=pd.array([None, 3, 4, 1, 5], dtype="Int32"))),
    Breaker(A, IN_SET, "ctcae_grade", {"ctcae_grade": 6}),
    Breaker(A, "expect_compound_columns_to_be_unique", "study_id, patient_id, ae_term",
            reshape=_duplicate_ae),
    # quarantine
    Breaker(Q, "expect_table_columns_to_match_ordered_list", None,
            reshape=lambda frame: frame.drop(columns="failing_column")),
    *(Breaker(Q, NOT_NULL, column, {column: None}) for column in (
        "center_id", "source_table", "source_file_name", "source_row_number", "failing_column",
        "reason", "reason_description")),
    Breaker(Q, BETWEEN, "source_row_number", {"source_row_number": 0}, kwarg="min_value"),
    Breaker(Q, IN_SET, "reason", {"reason": "no_second_line"}),
    Breaker(Q, "expect_compound_columns_to_be_unique",
            "center_id, source_table, source_row_number",
            reshape=_duplicate_first_row(failing_column="line_start_date",
                                         reason="unparseable_date")),
    # row_accounting
    Breaker(R, "expect_table_columns_to_match_ordered_list", None, reshape=_swap_first_columns),
    Breaker(R, "expect_table_row_count_to_be_between", None, kwarg="min_value",
            reshape=lambda frame: frame.iloc[0:0]),
    *(Breaker(R, NOT_NULL, column, {column: None}) for column in (
        "center_id", "source_table", "rows_in", "row_status", "reason", "row_count")),
    Breaker(R, BETWEEN, "rows_in", {"rows_in": -1}, kwarg="min_value"),
    Breaker(R, IN_SET, "row_status", {"row_status": "rejected"}),
    Breaker(R, PAIR, "row_status, reason", {"row_status": "excluded"}),
    Breaker(R, BETWEEN, "row_count", {"row_count": -1}, kwarg="min_value"),
    Breaker(R, "expect_column_pair_values_a_to_be_greater_than_b", "rows_in, row_count",
            {"row_count": 11}),
    Breaker(R, "expect_compound_columns_to_be_unique",
            "center_id, source_table, row_status, reason",
            reshape=_duplicate_first_row(row_count=np.int64(1))),
]


def _kwarg_key(kwargs: dict[str, Any]) -> str | None:
    """What tells same-type, same-column expectations apart in our suites."""
    condition = kwargs.get("row_condition")
    if condition is not None:
        return f"row_condition:{condition['parameter']}"
    bounds = [name for name in ("min_value", "max_value") if kwargs.get(name) is not None]
    return bounds[0] if len(bounds) == 1 else None


def _target_key(table: str, entry: dict[str, Any]) -> tuple:
    kwargs = entry["kwargs"]
    if "column" in kwargs:
        column = kwargs["column"]
    elif "column_A" in kwargs:
        column = f"{kwargs['column_A']}, {kwargs['column_B']}"
    elif entry["type"].startswith("expect_table_"):
        column = None
    else:
        column = ", ".join(kwargs["column_list"])
    return (table, entry["type"], column, _kwarg_key(kwargs))


def _suite_entries(table: str) -> list[dict[str, Any]]:
    return json.loads(SUITES[table].read_text(encoding="utf-8"))["expectations"]


def _breaker_key(breaker: Breaker) -> tuple:
    return (breaker.table, breaker.expectation_type, breaker.column_name, breaker.kwarg)


# --------------------------------------------------------------------------- tests

#: Clean frames: name -> (table, frame). Each passes every expectation of its suite.
CLEAN_FRAMES: dict[str, tuple[str, Callable[[], pd.DataFrame]]] = {
    "analysis_cohort": (C, valid_cohort),
    "analysis_cohort_nullable_dtypes": (C, valid_cohort_nullable_dtypes),
    "adverse_events": (A, valid_adverse_events),
    "quarantine": (Q, valid_quarantine),
    # A clean export quarantines nothing.
    "quarantine_empty": (Q, lambda: valid_quarantine().iloc[0:0]),
    "row_accounting": (R, valid_row_accounting),
}


@pytest.fixture(scope="module")
def clean_results() -> dict[str, pd.DataFrame]:
    return {name: validate_frame(make(), SUITES[table], table)
            for name, (table, make) in CLEAN_FRAMES.items()}


@pytest.mark.parametrize("table", sorted(SUITES))
def test_real_suites_load_with_every_expectation(table):
    entries = _suite_entries(table)
    suite = load_suite(SUITES[table])
    assert len(entries) == EXPECTED_COUNTS[table]
    assert len(suite.expectations) == len(entries)
    assert [e.expectation_type for e in suite.expectations] == [e["type"] for e in entries]
    assert [e.severity.value for e in suite.expectations] == [e["severity"] for e in entries]


@pytest.mark.parametrize("name", sorted(CLEAN_FRAMES))
def test_clean_frames_pass_every_expectation(clean_results, name):
    results = clean_results[name]
    failed = results.loc[~results["success"],
                         ["expectation_index", "expectation_type", "column_name",
                          "observed_value", "exception_message"]]
    assert failed.empty, failed.to_string()
    assert results["exception_message"].isna().all()


def test_missing_covariates_fail_exactly_their_not_null_checks():
    """In-set, between and pair checks skip nulls (GX's rule); the not_null
    checks are what stop a cohort with a missing covariate."""
    results = validate_frame(cohort_with_missing_covariates(), SUITES[C], C)
    failed = results.loc[~results["success"]]
    assert sorted(failed["column_name"]) == sorted(MISSING_COVARIATES)
    assert (failed["expectation_type"] == NOT_NULL).all()
    assert (failed["severity"] == "critical").all()
    assert results["exception_message"].isna().all()


def test_every_column_has_a_critical_not_null_expectation():
    """docs/data-quality.md: a column that must be filled has a not_null
    expectation. In every published table, every column must be filled."""
    for table in SUITES:
        entries = _suite_entries(table)
        [columns] = [entry["kwargs"]["column_list"] for entry in entries
                     if entry["type"] == "expect_table_columns_to_match_ordered_list"]
        not_null = {entry["kwargs"]["column"] for entry in entries
                    if entry["type"] == NOT_NULL and entry["severity"] == "critical"}
        assert set(columns) - not_null == set(), table
        assert not_null <= set(columns), table


@pytest.mark.parametrize("study_id", study_ids())
def test_every_statistics_covariate_has_a_critical_not_null_expectation(study_id):
    statistics = file_parameters(study_id)
    covariates = {*statistics["propensity_covariates"], *statistics["cox_terms"],
                  *statistics["subgroups"].values(), "age_years", "sex"}
    not_null = {entry["kwargs"]["column"] for entry in _suite_entries(C)
                if entry["type"] == NOT_NULL and entry["severity"] == "critical"}
    assert len(covariates) >= 14
    assert covariates - not_null == set()


def test_reason_codes_match_the_reasons_seed():
    """The audit suites list the seed's codes; a new code needs a suite edit."""
    seed = row_outcome_reasons()
    [quarantine_reasons] = [entry["kwargs"]["value_set"] for entry in _suite_entries(Q)
                            if entry["type"] == IN_SET and entry["kwargs"]["column"] == "reason"]
    assert quarantine_reasons == [reason for status, reason in seed if status == "quarantined"]
    [statuses] = [entry["kwargs"]["value_set"] for entry in _suite_entries(R)
                  if entry["type"] == IN_SET and entry["kwargs"]["column"] == "row_status"]
    assert sorted(statuses) == sorted({status for status, _ in seed})
    [pairs] = [entry["kwargs"]["value_pairs_set"] for entry in _suite_entries(R)
               if entry["type"] == PAIR]
    assert [tuple(pair) for pair in pairs] == seed


def test_every_expectation_has_a_breaker():
    suite_keys = [_target_key(table, entry) for table in SUITES for entry in _suite_entries(table)]
    assert len(set(suite_keys)) == len(suite_keys), "two expectations share a target key"
    breaker_keys = [_breaker_key(breaker) for breaker in BREAKERS]
    assert len(set(breaker_keys)) == len(breaker_keys), "two breakers aim at one expectation"
    untested = set(suite_keys) - set(breaker_keys) - NOT_BROKEN_HERE
    assert not untested, f"expectations no test breaks: {sorted(untested, key=str)}"
    stale = set(breaker_keys) - set(suite_keys)
    assert not stale, f"breakers aimed at no expectation: {sorted(stale, key=str)}"
    for table in SUITES:
        for entry in _suite_entries(table):
            if entry["severity"] == "critical":
                assert _target_key(table, entry) not in NOT_BROKEN_HERE


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda breaker: breaker.case_id)
def test_broken_frame_fails_its_expectation(breaker, tmp_path):
    [entry] = [entry for entry in _suite_entries(breaker.table)
               if _target_key(breaker.table, entry) == _breaker_key(breaker)]
    # The target entry exactly as in the real file, alone: GX costs ~0.4 s per
    # full-suite run, and the full suites are run on clean frames above.
    path = tmp_path / "one_expectation.json"
    path.write_text(json.dumps({"name": breaker.table, "expectations": [entry]}),
                    encoding="utf-8")
    assert validate_frame(VALID_FRAMES[breaker.table](), path, breaker.table)["success"].all()
    [target] = validate_frame(breaker.frame(), path, breaker.table).to_dict("records")
    assert not target["success"], (breaker.case_id, target)
    assert pd.isna(target["exception_message"]), target["exception_message"]
    assert target["severity"] == entry["severity"]


def test_critical_failure_reports_count_and_unexpected_value():
    frame = valid_cohort()
    frame.loc[0, "ecog_ps"] = 7
    results = validate_frame(frame, SUITES[C], C)
    row = results.loc[(results["expectation_type"] == IN_SET)
                      & (results["column_name"] == "ecog_ps")].iloc[0]
    assert row["severity"] == "critical"
    assert row["unexpected_count"] == 1
    assert row["unexpected_percent"] == pytest.approx(100 / 6)
    assert json.loads(row["observed_value"])["partial_unexpected_list"] == [7]
    assert row["reason"].startswith("ECOG performance status")


def test_results_have_the_exact_columns_and_dtypes(clean_results):
    for results in clean_results.values():
        assert tuple(results.columns) == RESULT_COLUMNS
        assert {name: str(dtype) for name, dtype in results.dtypes.items()} == {
            name: str(pd.Series(dtype=dtype).dtype) for name, dtype in RESULT_DTYPES.items()
        }
    assert list(RESULT_COLUMNS) == [
        "table_name", "suite_name", "expectation_index", "expectation_type", "column_name",
        "kwargs_json", "severity", "success", "unexpected_count", "unexpected_percent",
        "observed_value", "reason", "exception_message",
    ]
    # exception_message is null everywhere here, yet keeps its string dtype.
    assert str(clean_results["adverse_events"]["exception_message"].dtype) == "string"


def test_results_are_one_row_per_expectation_in_file_order(clean_results):
    for table in TABLES:
        results = clean_results[table]
        entries = _suite_entries(table)
        assert results["expectation_index"].tolist() == list(range(len(entries)))
        assert results["expectation_type"].tolist() == [entry["type"] for entry in entries]
        assert results["severity"].tolist() == [entry["severity"] for entry in entries]
        assert results["reason"].tolist() == [entry["meta"]["reason"] for entry in entries]
        assert [json.loads(k) for k in results["kwargs_json"]] == [e["kwargs"] for e in entries]
        assert (results["table_name"] == table).all()
        assert (results["suite_name"] == table).all()


def test_results_do_not_depend_on_row_order():
    frame = valid_cohort()
    frame.loc[[0, 3], "ecog_ps"] = np.array([7, 9], dtype="int32")
    forward = validate_frame(frame, SUITES[C], C)
    backward = validate_frame(frame.iloc[::-1].reset_index(drop=True), SUITES[C], C)
    pd.testing.assert_frame_equal(forward, backward)


def _cohort_of(patients: int) -> pd.DataFrame:
    """valid_cohort repeated to ``patients`` rows, each with its own patient and source row."""
    base = valid_cohort()
    frame = base.iloc[np.arange(patients) % len(base)].reset_index(drop=True)
    frame["patient_id"] = [f"p{number:03d}" for number in range(patients)]
    frame["second_line_source_row_number"] = np.arange(1, patients + 1, dtype="int32")
    return frame


@pytest.mark.parametrize("kind", ["pandas", "duckdb"])
def test_batches_give_the_rows_of_validating_the_table_in_one_go(kind):
    """validate_table in batches of 10 rows gives validate_frame's rows for the whole table:
    counts, percentages, verdicts and the partial lists added up across batches, the row count,
    and a key repeated across batches (on DuckDB the engine finds it)."""
    frame = _cohort_of(30)
    frame.loc[14, "age_years"] = 150  # second batch only: must be counted
    frame.loc[[2, 23], "sex"] = None
    frame.loc[3:27, "metastatic_site_count"] = 9  # 25 unexpected: more than one partial list
    frame.loc[29, "patient_id"] = frame.loc[1, "patient_id"]  # first and third batch
    if kind == "duckdb":
        connection = duckdb.connect()
        connection.register("frame", frame)
        connection.execute("create table cohort as select * from frame")
        connection.execute("update cohort set is_ici = null where patient_id = 'p025'")
        table = connection.table("cohort")
        whole = table.df()
    else:
        table = whole = frame
    in_batches = validate_table(table, SUITES[C], C, batch_rows=10)
    pd.testing.assert_frame_equal(in_batches, validate_frame(whole, SUITES[C], C))

    def unexpected(kind: str, column: str, bound: str = "") -> list:
        rows = in_batches.loc[(in_batches["expectation_type"] == kind)
                              & (in_batches["column_name"] == column)
                              & in_batches["kwargs_json"].str.contains(bound, regex=False)]
        return rows["unexpected_count"].tolist()

    assert unexpected(BETWEEN, "age_years", '"max_value": 100, "min_value": 18}') == [1]
    assert unexpected(NOT_NULL, "sex") == [2]
    assert unexpected("expect_compound_columns_to_be_unique", "study_id, patient_id") == [2]
    assert unexpected(BETWEEN, "metastatic_site_count", '"max_value": 7}') == [25]
    sites = in_batches.loc[(in_batches["column_name"] == "metastatic_site_count")
                           & (in_batches["unexpected_count"] == 25), "observed_value"]
    assert len(json.loads(sites.iloc[0])["partial_unexpected_list"]) == 20


def test_gx_exception_becomes_a_failed_row_with_its_message():
    frame = valid_cohort().drop(columns="sex")
    results = validate_frame(frame, SUITES[C], C)
    sex_rows = results.loc[results["column_name"].fillna("").str.contains("sex")]
    assert len(sex_rows) == 3  # not_null, in_set, the (sex, is_male) pair
    assert not sex_rows["success"].any()
    assert sex_rows["exception_message"].str.contains('"sex"').all()
    assert sex_rows["unexpected_count"].isna().all()
    assert sex_rows["observed_value"].isna().all()
    others = results.loc[~results.index.isin(sex_rows.index)]
    assert others["exception_message"].isna().all()
    assert others.loc[others["expectation_index"] > 0, "success"].all()


@pytest.mark.parametrize("validate", [validate_frame, validate_table])
def test_a_gx_crash_fails_every_row_instead_of_raising(monkeypatch, validate):
    import rwe_quality.validation

    class CrashingBatchDefinition:
        def get_batch(self, batch_parameters):
            raise RuntimeError("metric engine exploded")

    monkeypatch.setattr(rwe_quality.validation._Validator, "__init__",
                        lambda self: setattr(self, "batch_definition", CrashingBatchDefinition()))
    results = validate(valid_adverse_events(), SUITES[A], A)
    assert len(results) == EXPECTED_COUNTS[A]
    assert not results["success"].any()
    assert results["exception_message"].str.contains("metric engine exploded").all()
    assert {name: str(dtype) for name, dtype in results.dtypes.items()} == {
        name: str(pd.Series(dtype=dtype).dtype) for name, dtype in RESULT_DTYPES.items()
    }


# --------------------------------------------------------------------------- the count guard

def _write_suite(directory: Path, extra: dict[str, Any]) -> Path:
    suite = json.loads(SUITES[A].read_text(encoding="utf-8"))
    suite["expectations"].append(extra)
    path = directory / "broken_suite.json"
    path.write_text(json.dumps(suite), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param({"type": "expect_column_values_to_be_purple", "kwargs": {"column": "arm"},
                      "severity": "critical", "meta": {"reason": "unknown type"}},
                     "silently dropped", id="unknown-type-dropped-by-gx"),
        pytest.param({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "arm"},
                      "severity": "fatal", "meta": {"reason": "bad severity"}},
                     "silently dropped", id="bad-severity-dropped-by-gx"),
        pytest.param({"type": "expect_column_values_to_not_be_null", "kwargs": {"colum": "arm"},
                      "severity": "critical", "meta": {"reason": "typo in kwargs"}},
                     "could not load", id="bad-kwargs-rejected-by-gx"),
        pytest.param({"type": "expect_column_values_to_be_between",
                      "kwargs": {"column": "ctcae_grade", "min_value": "one"},
                      "severity": "critical", "meta": {"reason": "bad bound"}},
                     "could not load", id="bad-kwarg-value-rejected-by-gx"),
        pytest.param({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "arm"},
                      "meta": {"reason": "severity left to GX's default"}},
                     "explicit 'severity'", id="missing-severity"),
        pytest.param({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "arm"},
                      "severity": "warning"},
                     "meta.reason", id="missing-reason"),
    ],
)
def test_broken_suite_raises_and_names_the_file(tmp_path, entry, message):
    path = _write_suite(tmp_path, entry)
    with pytest.raises(SuiteLoadError) as raised:
        load_suite(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)
    with pytest.raises(SuiteLoadError):
        validate_frame(valid_adverse_events(), path, A)


def test_count_guard_names_the_dropped_entry(tmp_path):
    path = _write_suite(tmp_path, {"type": "expect_column_values_to_be_purple",
                                   "kwargs": {"column": "arm"}, "severity": "critical",
                                   "meta": {"reason": "unknown type"}})
    with pytest.raises(SuiteLoadError, match="has 12 expectations but Great Expectations "
                                             "loaded only 11") as raised:
        load_suite(path)
    assert "expectation 11 (expect_column_values_to_be_purple)" in str(raised.value)
    assert "not found" in str(raised.value)


def test_unreadable_suite_file_raises_and_names_the_file(tmp_path):
    path = tmp_path / "not_json.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(SuiteLoadError, match="not valid JSON") as raised:
        load_suite(path)
    assert str(path) in str(raised.value)
    with pytest.raises(SuiteLoadError, match="cannot read"):
        load_suite(tmp_path / "missing.json")


# ------------------------------------------------------------------------- dq_results and the gate

class FakeDbt:
    """The three things dq_results asks of dbt's model argument; ``ref`` hands
    it pandas frames (one of the kinds rwe_study.inputs reads)."""

    this = SimpleNamespace(identifier="dq_results")

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames
        self.refs: list[str] = []

    def config(self, **kwargs: Any) -> None:
        self.configured = kwargs

    def ref(self, name: str) -> pd.DataFrame:
        self.refs.append(name)
        return self.frames[name].copy()


def run_dq_results_model(monkeypatch, project_dir: Path,
                         frames: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Run python_models/quality/dq_results.py as dbt would, with PROJECT_DIR = project_dir."""
    spec = importlib.util.spec_from_file_location("dq_results_model", DQ_RESULTS_MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "get_flags", lambda: type("Flags", (), {
        "PROJECT_DIR": str(project_dir)})())
    fake = FakeDbt(frames or {table: VALID_FRAMES[table]() for table in TABLES})
    results = module.model(fake, session=None)
    assert fake.refs == list(TABLES)
    return results


def _project_with_suites(tmp_path: Path) -> Path:
    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "expectations")
    return tmp_path


def test_dq_results_refs_every_suite_by_a_literal_ref():
    """dbt orders dq_results after the tables it finds in literal dbt.ref calls."""
    tree = ast.parse(DQ_RESULTS_MODEL.read_text(encoding="utf-8"))
    refs = [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "ref" and isinstance(node.args[0], ast.Constant)]
    assert refs == list(TABLES)
    assert sorted(path.stem for path in EXPECTATIONS_DIR.glob("*.json")) == sorted(TABLES)


def test_dq_results_validates_every_table_against_its_suite(monkeypatch):
    results = run_dq_results_model(monkeypatch, PROJECT_DIR)
    assert results["table_name"].tolist() == [
        table for table in TABLES for _ in range(EXPECTED_COUNTS[table])]
    assert results.groupby("table_name", sort=False)["expectation_index"].apply(list).to_dict(
        ) == {table: list(range(EXPECTED_COUNTS[table])) for table in TABLES}
    assert results["success"].all(), results.loc[~results["success"]].to_string()
    assert list(results.columns) == [*RESULT_COLUMNS, "built_at"]
    assert str(results["built_at"].dtype) == "datetime64[us]"
    assert results["built_at"].nunique() == 1


def test_dq_results_reports_each_tables_failures_under_its_name(monkeypatch):
    frames = {table: VALID_FRAMES[table]() for table in TABLES}
    frames[Q].loc[0, "reason"] = "no_second_line"
    frames[R].loc[0, "row_count"] = 11
    results = run_dq_results_model(monkeypatch, PROJECT_DIR, frames)
    failed = results.loc[~results["success"], ["table_name", "expectation_type", "column_name"]]
    assert failed.to_records(index=False).tolist() == [
        (Q, IN_SET, "reason"),
        (R, "expect_column_pair_values_a_to_be_greater_than_b", "rows_in, row_count"),
    ]


def test_dq_results_fails_on_a_suite_gx_loads_partially(monkeypatch, tmp_path):
    """The count guard inside the model: the build error names the suite file."""
    project = _project_with_suites(tmp_path)
    path = project / "expectations" / "quarantine.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["expectations"].append({"type": "expect_column_values_to_be_purple",
                                  "kwargs": {"column": "reason"}, "severity": "critical",
                                  "meta": {"reason": "unknown type"}})
    path.write_text(json.dumps(suite), encoding="utf-8")
    expected = EXPECTED_COUNTS[Q]
    with pytest.raises(SuiteLoadError, match=re.escape(
            f"{path.resolve()}: the file has {expected + 1} expectations but Great "
            f"Expectations loaded only {expected}")):
        run_dq_results_model(monkeypatch, project)


def test_dq_results_fails_on_a_suite_without_a_table(monkeypatch, tmp_path):
    project = _project_with_suites(tmp_path)
    orphan = project / "expectations" / "matched_cohort.json"
    shutil.copy(SUITES[A], orphan)
    with pytest.raises(SuiteLoadError, match="a suite file with no table") as raised:
        run_dq_results_model(monkeypatch, project)
    assert str(orphan.resolve()) in str(raised.value)


def test_validate_tables_refuses_a_missing_or_misnamed_suite(tmp_path):
    shutil.copy(SUITES[A], tmp_path / "adverse_events.json")
    with pytest.raises(SuiteLoadError, match="no suite file") as raised:
        validate_tables({A: valid_adverse_events(), Q: valid_quarantine()}, tmp_path)
    assert str(tmp_path / "quarantine.json") in str(raised.value)
    shutil.copy(SUITES[A], tmp_path / "quarantine.json")
    with pytest.raises(SuiteLoadError, match="named 'adverse_events' but validates the "
                                             "table 'quarantine'"):
        validate_tables({A: valid_adverse_events(), Q: valid_quarantine()}, tmp_path)


def _gate_rows(results: pd.DataFrame) -> list[tuple]:
    """Run the singular test's SQL (its ref replaced by a table) on ``results``."""
    sql = GATE_TEST.read_text(encoding="utf-8")
    sql = re.sub(r"\{#.*?#\}", "", sql, flags=re.DOTALL)
    sql = sql.replace("{{ ref('dq_results') }}", "dq_results")
    assert "{" not in sql, sql
    with duckdb.connect() as connection:
        connection.register("dq_results", results)
        return connection.sql(sql).fetchall()


def test_gate_returns_failed_critical_expectations_only():
    frame = valid_cohort()
    frame.loc[0, ["ecog_ps", "is_ecog_2_or_more"]] = (7, True)    # two critical checks
    frame.loc[1, ["pfs_months", "os_months"]] = (130.0, 130.0)    # two warnings
    results = validate_frame(frame, SUITES[C], C)
    assert set(results.loc[~results["success"], "severity"]) == {"critical", "warning"}
    assert _gate_rows(results) == [
        (C, IN_SET, "ecog_ps", 1, "ECOG performance status is an integer from 0 to 4 "
                                  "(5 = dead)."),
        (C, PAIR, "ecog_ps, is_ecog_2_or_more", 1,
         "is_ecog_2_or_more must agree with ecog_ps (a propensity and Cox covariate)."),
    ]


def test_gate_passes_warnings_and_counts_gx_errors_as_failures():
    results = validate_frame(valid_cohort().assign(os_months=130.0), SUITES[C], C)
    assert (~results["success"]).sum() == 1
    assert _gate_rows(results) == []
    crashed = validate_frame(valid_quarantine().drop(columns="failing_column"), SUITES[Q], Q)
    rows = _gate_rows(crashed)
    assert [row[2] for row in rows] == [None, "failing_column"]   # column list; the GX error


# --------------------------------------------------------------------------- pair metric

def gx_row_by_row(column_a: pd.Series, column_b: pd.Series, value_pairs_set) -> list[bool]:
    """GX 1.24's own pandas rule for column_pair_values.in_set, row by row."""
    allowed = {(a, b) for a, b in value_pairs_set}
    return [(None if pd.isnull(a) else a, None if pd.isnull(b) else b) in allowed
            for a, b in zip(column_a, column_b, strict=True)]


PAIR_COLUMNS = {
    "text": lambda rng, n: pd.Series(rng.choice(["CR", "PR", "SD", "PD", "NE", None], n),
                                     dtype=object),
    "bool": lambda rng, n: pd.Series(rng.random(n) < 0.5),
    "nullable boolean": lambda rng, n: pd.Series(
        pd.array(rng.choice([True, False, None], n), dtype="boolean")),
    "nullable int": lambda rng, n: pd.Series(pd.array(rng.choice([0, 1, 2, None], n),
                                                      dtype="Int32")),
}


@pytest.mark.parametrize("kind_a", sorted(PAIR_COLUMNS))
@pytest.mark.parametrize("kind_b", sorted(PAIR_COLUMNS))
def test_vectorised_pair_metric_agrees_with_gx_row_rule(kind_a, kind_b):
    from rwe_quality.metrics import pair_in_set

    rng = np.random.default_rng(7)
    column_a = PAIR_COLUMNS[kind_a](rng, 400)
    column_b = PAIR_COLUMNS[kind_b](rng, 400)
    pairs = [["CR", True], ["PR", True], ["SD", False], [None, False], ["NE", None],
             [True, 1], [False, None], [2, False], [0, True]]
    expected = gx_row_by_row(column_a, column_b, pairs)
    assert 0 < sum(expected) < len(expected)  # the check can fail both ways
    assert pair_in_set(column_a, column_b, pairs).tolist() == expected


def test_validation_uses_the_vectorised_pair_metric():
    from great_expectations.expectations import registry

    import rwe_quality.metrics

    provider, _ = registry._registered_metrics["column_pair_values.in_set.condition"][
        "providers"]["PandasExecutionEngine"]
    assert provider is rwe_quality.metrics.VectorisedColumnPairValuesInSet


# --------------------------------------------------------------------------- between metric

BETWEEN_COLUMNS = {
    # DuckDB INTEGER, SMALLINT, BIGINT, UBIGINT, DOUBLE, FLOAT, and a nullable INTEGER
    # after GX has dropped its missing values
    "int32": lambda rng, n: pd.Series(rng.integers(-5, 130, n), dtype="int32"),
    "int16": lambda rng, n: pd.Series(rng.integers(-5, 130, n), dtype="int16"),
    "int64": lambda rng, n: pd.Series(rng.integers(-5, 130, n), dtype="int64"),
    "uint64": lambda rng, n: pd.Series(rng.integers(0, 130, n), dtype="uint64"),
    "float64": lambda rng, n: pd.Series(np.round(rng.uniform(-5, 130, n), 1)),
    "float32": lambda rng, n: pd.Series(np.round(rng.uniform(-5, 130, n), 1), dtype="float32"),
    "nullable int": lambda rng, n: pd.Series(pd.array(rng.integers(-5, 130, n), dtype="Int32")),
}
BOUNDS = [(18, 100), (1, None), (None, 64), (6, 60), (0.5, 99.5), (65.0, None)]


@pytest.mark.parametrize("kind", sorted(BETWEEN_COLUMNS))
@pytest.mark.parametrize(("min_value", "max_value"), BOUNDS)
@pytest.mark.parametrize(("strict_min", "strict_max"),
                         [(None, None), (True, False), (False, True), (True, True)])
def test_vectorised_between_metric_agrees_with_gx_row_rule(kind, min_value, max_value,
                                                           strict_min, strict_max):
    from great_expectations.expectations.metrics.column_map_metrics.column_values_between import (  # noqa: E501
        ColumnValuesBetween,
    )

    from rwe_quality.metrics import values_between

    column = BETWEEN_COLUMNS[kind](np.random.default_rng(11), 500)
    column.index = np.arange(3, 1003, 2)  # GX hands over the rows left after dropping nulls
    bounds = {"min_value": min_value, "max_value": max_value, "strict_min": strict_min,
              "strict_max": strict_max}
    # GX's rule one value at a time (what it runs on any dtype but int64 and float64)
    gx_rule = inspect.unwrap(ColumnValuesBetween.__dict__["_pandas"])
    expected = [bool(gx_rule(ColumnValuesBetween, pd.Series([value], dtype=object), **bounds)
                     .iloc[0]) for value in column.tolist()]
    assert 0 < sum(expected) < len(expected)  # the check can fail both ways
    within = values_between(column, **bounds)
    assert within.tolist() == expected
    assert within.dtype == bool and within.index.equals(column.index)


@pytest.mark.parametrize("column", [
    pd.Series(["b", "c", "a", "z"], dtype=object),
    pd.Series(pd.to_datetime(["2020-01-01", "2021-06-30", "2024-12-31", "2019-02-28"])
              .astype("datetime64[us]")),
    pd.Series([True, False, True, True]),
], ids=["text", "dates", "booleans"])
def test_between_metric_leaves_other_columns_to_gx(column):
    from great_expectations.expectations.metrics.column_map_metrics.column_values_between import (  # noqa: E501
        ColumnValuesBetween,
    )

    from rwe_quality.metrics import values_between

    if column.dtype == object:
        bounds = {"min_value": "b", "max_value": "y"}
    elif column.dtype.kind == "M":
        bounds = {"min_value": pd.Timestamp("2020-01-01"), "max_value": pd.Timestamp("2023-01-01")}
    else:
        bounds = {"min_value": 1, "max_value": 1}
    gx_rule = inspect.unwrap(ColumnValuesBetween.__dict__["_pandas"])
    expected = gx_rule(ColumnValuesBetween, column, **bounds).tolist()
    assert 0 < sum(expected) < len(expected)
    assert values_between(column, **bounds).tolist() == expected


def test_between_metric_rejects_what_gx_rejects():
    from rwe_quality.metrics import values_between

    column = pd.Series([1, 2, 3], dtype="int32")
    with pytest.raises(ValueError, match="cannot both be None"):
        values_between(column)
    with pytest.raises(ValueError, match="greater than max_value"):
        values_between(column, min_value=5, max_value=1)


def test_validation_uses_the_vectorised_between_metric():
    from great_expectations.expectations import registry

    import rwe_quality.metrics

    provider, _ = registry._registered_metrics["column_values.between.condition"][
        "providers"]["PandasExecutionEngine"]
    assert provider is rwe_quality.metrics.VectorisedColumnValuesBetween

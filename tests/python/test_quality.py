"""The data-quality gate: GX suites in expectations/ and rwe_quality.

Every test builds its own small frames, shaped like ``dbt.ref(...).df()`` output
from DuckDB (varchar -> object, integer -> int32, or Int32 when a column has
nulls, boolean -> bool or boolean, date -> datetime64[us]).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rwe_quality import (
    RESULT_COLUMNS,
    RESULT_DTYPES,
    SuiteLoadError,
    load_suite,
    validate_frame,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"
SUITES = {
    "analysis_cohort": EXPECTATIONS_DIR / "analysis_cohort.json",
    "adverse_events": EXPECTATIONS_DIR / "adverse_events.json",
}
EXPECTED_COUNTS = {"analysis_cohort": 40, "adverse_events": 10}
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
    return pd.DataFrame({
        "patient_id": patient,
        "center_id": center,
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
        "best_response": response,
        "is_objective_response": np.array([value in ("CR", "PR") for value in response]),
        "is_disease_control": np.array([value in ("CR", "PR", "SD") for value in response]),
    })


def valid_cohort_with_nulls() -> pd.DataFrame:
    """The valid cohort as DuckDB returns it when optional columns hold NULLs."""
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


def valid_adverse_events() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["p01", "p01", "p02", "p04", "p05"],
        "center_id": ["center_a", "center_a", "center_a", "center_b", "center_c"],
        "arm": ["ICI", "ICI", "non-ICI", "non-ICI", "ICI"],
        "ae_term": ["Fatigue", "Anemia", "Neutrophil count decreased", "Fatigue", "Pneumonitis"],
        "ctcae_grade": np.array([2, 3, 4, 1, 5], dtype="int32"),
    })


VALID_FRAMES: dict[str, Callable[[], pd.DataFrame]] = {
    "analysis_cohort": valid_cohort,
    "adverse_events": valid_adverse_events,
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
            if value is None and frame[column].dtype == bool:
                frame[column] = frame[column].astype("boolean")
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


C = "analysis_cohort"
A = "adverse_events"
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
    Breaker(C, "expect_column_values_to_be_unique", "patient_id", {"patient_id": "p02"}),
    Breaker(C, NOT_NULL, "center_id", {"center_id": None}),
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
    Breaker(C, "expect_column_pair_values_a_to_be_greater_than_b", "os_months, pfs_months",
            {"pfs_months": 9.0}),
    Breaker(C, NOT_NULL, "best_response", {"best_response": None}),
    Breaker(C, IN_SET, "best_response", {"best_response": "MR"}),
    Breaker(C, PAIR, "best_response, is_objective_response", {"is_objective_response": False}),
    Breaker(C, PAIR, "best_response, is_disease_control", {"is_disease_control": False}),
    # baseline covariates
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
    Breaker(A, NOT_NULL, "patient_id", {"patient_id": None}),
    Breaker(A, NOT_NULL, "center_id", {"center_id": None}),
    Breaker(A, NOT_NULL, "arm", {"arm": None}),
    Breaker(A, IN_SET, "arm", {"arm": "control"}),
    Breaker(A, NOT_NULL, "ae_term", {"ae_term": None}),
    Breaker(A, NOT_NULL, "ctcae_grade", reshape=lambda frame: frame.assign(
        ctcae_grade=pd.array([None, 3, 4, 1, 5], dtype="Int32"))),
    Breaker(A, IN_SET, "ctcae_grade", {"ctcae_grade": 6}),
    Breaker(A, "expect_compound_columns_to_be_unique", "patient_id, ae_term",
            reshape=_duplicate_ae),
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

@pytest.fixture(scope="module")
def clean_results() -> dict[str, pd.DataFrame]:
    return {
        "analysis_cohort": validate_frame(valid_cohort(), SUITES[C], C),
        "analysis_cohort_with_nulls": validate_frame(valid_cohort_with_nulls(), SUITES[C], C),
        "adverse_events": validate_frame(valid_adverse_events(), SUITES[A], A),
    }


@pytest.mark.parametrize("table", sorted(SUITES))
def test_real_suites_load_with_every_expectation(table):
    entries = _suite_entries(table)
    suite = load_suite(SUITES[table])
    assert len(entries) == EXPECTED_COUNTS[table]
    assert len(suite.expectations) == len(entries)
    assert [e.expectation_type for e in suite.expectations] == [e["type"] for e in entries]
    assert [e.severity.value for e in suite.expectations] == [e["severity"] for e in entries]


@pytest.mark.parametrize("name", ["analysis_cohort", "analysis_cohort_with_nulls",
                                  "adverse_events"])
def test_clean_frames_pass_every_expectation(clean_results, name):
    results = clean_results[name]
    failed = results.loc[~results["success"],
                         ["expectation_index", "expectation_type", "column_name",
                          "observed_value", "exception_message"]]
    assert failed.empty, failed.to_string()
    assert results["exception_message"].isna().all()


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
    for table, key in ((C, "analysis_cohort"), (A, "adverse_events")):
        results = clean_results[key]
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


def test_gx_exception_becomes_a_failed_row_with_its_message():
    frame = valid_cohort().drop(columns="sex")
    results = validate_frame(frame, SUITES[C], C)
    sex_rows = results.loc[results["column_name"].fillna("").str.contains("sex")]
    assert len(sex_rows) == 2
    assert not sex_rows["success"].any()
    assert sex_rows["exception_message"].str.contains('"sex"').all()
    assert sex_rows["unexpected_count"].isna().all()
    assert sex_rows["observed_value"].isna().all()
    others = results.loc[~results.index.isin(sex_rows.index)]
    assert others["exception_message"].isna().all()
    assert others.loc[others["expectation_index"] > 0, "success"].all()


def test_a_gx_crash_fails_every_row_instead_of_raising(monkeypatch):
    import rwe_quality.validation

    def crash(df, suite):
        raise RuntimeError("metric engine exploded")

    monkeypatch.setattr(rwe_quality.validation, "_run_gx", crash)
    results = validate_frame(valid_adverse_events(), SUITES[A], A)
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
    with pytest.raises(SuiteLoadError, match="has 11 expectations but Great Expectations "
                                             "loaded only 10") as raised:
        load_suite(path)
    assert "expectation 10 (expect_column_values_to_be_purple)" in str(raised.value)
    assert "not found" in str(raised.value)


def test_unreadable_suite_file_raises_and_names_the_file(tmp_path):
    path = tmp_path / "not_json.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(SuiteLoadError, match="not valid JSON") as raised:
        load_suite(path)
    assert str(path) in str(raised.value)
    with pytest.raises(SuiteLoadError, match="cannot read"):
        load_suite(tmp_path / "missing.json")


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

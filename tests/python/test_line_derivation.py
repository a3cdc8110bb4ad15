"""line_derivation_agreement: derived lines of therapy against the generator's true lines.

The warehouse's agreement (int_line_derivation_compared per patient,
line_derivation_agreement by center and number of true lines) is checked
against an agreement computed here in pandas from the true-lines file (keys
pseudonymised here with the documented keyed hash) and the warehouse's derived
lines: on the embedded build, on the hard line histories (``--line-history
hard``) with their own true lines, and with true lines perturbed so that every
kind of disagreement occurs, the start tolerance at and beyond its bound
included. Without a true-lines file (real data) the table is empty.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dbt_harness import PROJECT_DIR, TEST_PSEUDONYM_KEY, run_dbt
from rwe_study.line_agreement import line_agreement_table
from rwe_synth import generate

TOLERANCE_DAYS = 7  # dbt_project.yml var line_start_tolerance_days
MIN_CELL_COUNT = 5  # statistics +meta min_cell_count
FLAGS = ["has_same_line_count", "has_line_starts_within_tolerance", "has_same_regimens"]
COUNTS = {"has_same_line_count": "patients_same_line_count",
          "has_line_starts_within_tolerance": "patients_line_starts_within_tolerance",
          "has_same_regimens": "patients_same_regimens"}
VALIDATION_MODELS = ["stg_validation__true_lines", "int_line_derivation_compared",
                     "line_derivation_agreement"]


def pseudonym(center_id: str, patient_key: str) -> str:
    """The keyed pseudonym of docs (sha256 of key|center|patient key, 24 hex characters)."""
    text = f"{TEST_PSEUDONYM_KEY}|{center_id}|{patient_key.strip()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def independent_agreement(truth: pd.DataFrame, derived: pd.DataFrame,
                          tolerance_days: int) -> pd.DataFrame:
    """Per patient of the centers in ``truth``: counts and the three flags."""
    truth = truth.assign(
        patient_id=[pseudonym(c, k) for c, k in zip(truth["center_id"], truth["patient_key"],
                                                    strict=True)],
        start=pd.to_datetime(truth["start_date"]), line=truth["line_number"].astype(int))
    derived = derived.loc[derived["center_id"].isin(set(truth["center_id"]))]
    rows = []
    patients = (set(zip(truth["center_id"], truth["patient_id"], strict=True))
                | set(zip(derived["center_id"], derived["patient_id"], strict=True)))
    true_by = {key: block for key, block in truth.groupby(["center_id", "patient_id"])}
    derived_by = {key: block for key, block in derived.groupby(["center_id", "patient_id"])}
    for key in sorted(patients):
        t = true_by.get(key, truth.iloc[:0]).sort_values("line")
        d = derived_by.get(key, derived.iloc[:0]).sort_values("line_number")
        same_count = len(t) == len(d)
        starts = same_count and all(
            abs((pd.Timestamp(ds) - ts).days) <= tolerance_days
            for ts, ds in zip(t["start"], d["line_start_date"], strict=True))
        regimens = same_count and list(t["regimen"]) == list(d["regimen_name"])
        rows.append({"center_id": key[0], "patient_id": key[1], "true_line_count": len(t),
                     "derived_line_count": len(d), "has_same_line_count": same_count,
                     "has_line_starts_within_tolerance": starts, "has_same_regimens": regimens})
    return pd.DataFrame(rows)


def check_build(run, truth: pd.DataFrame) -> pd.DataFrame:
    """The warehouse's agreement equals the independent one; returns the latter."""
    derived = run.frame("select center_id, patient_id, line_number, line_start_date, regimen_name "
                        "from intermediate.int_administration_lines_summarised")
    expected = independent_agreement(truth, derived, TOLERANCE_DAYS)
    compared = run.frame("select * from intermediate.int_line_derivation_compared "
                         "order by center_id, patient_id")
    pd.testing.assert_frame_equal(
        compared.astype({"true_line_count": int, "derived_line_count": int}),
        expected[compared.columns].astype({"true_line_count": int, "derived_line_count": int}),
        check_dtype=False)
    published = run.frame("select * from marts.line_derivation_agreement "
                          "order by center_id, true_line_count")
    groups = expected.groupby(["center_id", "true_line_count"])
    assert len(published) == groups.ngroups
    for row in published.itertuples():
        block = groups.get_group((row.center_id, row.true_line_count))
        cells = {"patients": len(block)} | {COUNTS[f]: int(block[f].sum()) for f in FLAGS}
        for cell, value in cells.items():
            shown = getattr(row, cell)
            if pd.isna(shown):
                assert row.is_suppressed and cell in row.suppressed_cells
            else:
                assert shown == value, (row.center_id, row.true_line_count, cell)
                assert not 0 < value < MIN_CELL_COUNT, "a small count is published"
                if cell != "patients":
                    share = getattr(row, cell.replace("patients_", "share_"))
                    assert share == pytest.approx(value / len(block), abs=1e-12)
    return expected


# --------------------------------------------------------------------------- the table function


def test_agreement_table_counts_each_group_and_suppresses_small_ones():
    rng = np.random.default_rng(3)
    n = 60
    same = rng.random(n) < 0.8
    compared = pd.DataFrame({
        "center_id": np.where(np.arange(n) < 40, "center_x", "center_y"),
        "true_line_count": rng.integers(1, 4, n),
        "has_same_line_count": same,
        "has_line_starts_within_tolerance": same & (rng.random(n) < 0.9),
        "has_same_regimens": same & (rng.random(n) < 0.7)})
    compared.loc[:2, ["center_id", "true_line_count"]] = ["center_z", 1]  # a 3-patient group
    table = line_agreement_table(compared, 7, MIN_CELL_COUNT)
    for row in table.itertuples():
        block = compared.loc[(compared["center_id"] == row.center_id)
                             & (compared["true_line_count"] == row.true_line_count)]
        expected = {"patients": len(block)} | {COUNTS[f]: int(block[f].sum()) for f in FLAGS}
        for cell, value in expected.items():
            shown = getattr(row, cell)
            assert pd.isna(shown) or shown == value
            if 0 < value < MIN_CELL_COUNT or 0 < len(block) - value < MIN_CELL_COUNT:
                # the count or its complement is small: one of the pair is hidden
                assert pd.isna(shown) or pd.isna(row.patients)
    small = table.loc[table["center_id"] == "center_z"].iloc[0]
    assert pd.isna(small["patients"]) and small["is_suppressed"]
    assert len(table) == compared.groupby(["center_id", "true_line_count"]).ngroups


def test_agreement_table_refuses_starts_agreeing_without_the_line_count():
    compared = pd.DataFrame({"center_id": ["c"], "true_line_count": [2],
                             "has_same_line_count": [False],
                             "has_line_starts_within_tolerance": [True],
                             "has_same_regimens": [False]})
    with pytest.raises(ValueError, match="line count"):
        line_agreement_table(compared, 7, MIN_CELL_COUNT)


# --------------------------------------------------------------------------- builds


def test_embedded_build_agreement_equals_an_independent_computation(embedded_build):
    truth = pd.read_csv(PROJECT_DIR / "data" / "raw_truth" / "true_lines.csv", dtype=str)
    expected = check_build(embedded_build, truth)
    assert len(expected) == truth.groupby(["center_id", "patient_key"]).ngroups


@pytest.fixture(scope="module")
def hard_variant(tmp_path_factory):
    """The hard line histories at the embedded size, built up to the agreement."""
    root = tmp_path_factory.mktemp("hard_lines")
    generate(496, 3, 20250919, root / "raw", line_history="hard")
    run = run_dbt(["build", "--select", "+line_derivation_agreement"], root / "build",
                  raw_data_dir=root / "raw", partial_parse=True)
    assert run.returncode == 0, run.output[-6000:]
    return root, run


def rerun_validation(root: Path, truth_path: Path):
    """Re-run only the validation models against another true-lines file."""
    run = run_dbt(["run", "--select", *VALIDATION_MODELS], root / "build",
                  raw_data_dir=root / "raw", extra_vars={"line_truth_path": str(truth_path)})
    assert run.returncode == 0, run.output[-6000:]
    return run


def test_hard_variant_agreement_is_computed_from_its_true_lines(hard_variant):
    root, run = hard_variant
    truth = pd.read_csv(root / "raw_truth" / "true_lines.csv", dtype=str)
    assert set(truth["features"].dropna().str.split(";").explode()) >= {
        "drug_added_day_15", "skipped_dose", "drug_holiday", "maintenance", "rechallenge"}
    check_build(run, truth)


def test_each_kind_of_disagreement_is_counted(hard_variant):
    """True lines altered here: the agreement must move exactly as the pandas one does."""
    root, _ = hard_variant
    truth = pd.read_csv(root / "raw_truth" / "true_lines.csv", dtype=str)
    lines = truth.groupby("patient_key")["line_number"].transform("size")
    two = sorted(truth.loc[lines == 2, "patient_key"].unique())
    three = sorted(truth.loc[lines == 3, "patient_key"].unique())
    shifted_out, shifted_in, other_regimen = two[:8], two[8:14], two[14:20]
    start = pd.to_datetime(truth["start_date"])
    at = truth["patient_key"].isin(shifted_out) & (truth["line_number"] == "2")
    truth.loc[at, "start_date"] = (start[at] + pd.Timedelta(days=TOLERANCE_DAYS + 1)).dt.strftime(
        "%Y-%m-%d")
    at = truth["patient_key"].isin(shifted_in) & (truth["line_number"] == "1")
    truth.loc[at, "start_date"] = (start[at] - pd.Timedelta(days=TOLERANCE_DAYS)).dt.strftime(
        "%Y-%m-%d")
    at = truth["patient_key"].isin(other_regimen) & (truth["line_number"] == "1")
    truth.loc[at, "regimen"] = "topotecan"
    truth = truth.loc[~(truth["patient_key"].isin(three[:7]) & (truth["line_number"] == "3"))]
    truth = pd.concat([truth, pd.DataFrame([{
        "center_id": "center_b", "patient_key": "TJ-NOT-EXPORTED", "line_number": "1",
        "start_date": "2021-01-01", "end_date": "2021-02-01", "regimen": "topotecan",
        "features": ""}])], ignore_index=True)
    path = root / "perturbed_truth" / "true_lines.csv"
    path.parent.mkdir(exist_ok=True)
    truth.to_csv(path, index=False)
    expected = check_build(rerun_validation(root, path), truth).set_index("patient_id")
    ids = {name: [pseudonym("center_b", key) for key in keys] for name, keys in
           {"out": shifted_out, "in": shifted_in, "regimen": other_regimen,
            "dropped": three[:7]}.items()}
    assert not expected.loc[ids["out"], "has_line_starts_within_tolerance"].any()
    assert expected.loc[ids["in"], "has_line_starts_within_tolerance"].all()
    assert not expected.loc[ids["regimen"], "has_same_regimens"].any()
    assert not expected.loc[ids["dropped"], "has_same_line_count"].any()


def test_without_true_lines_the_agreement_is_empty(hard_variant):
    root, _ = hard_variant
    run = rerun_validation(root, root / "no_such_dir" / "true_lines.csv")
    for model in ("staging.stg_validation__true_lines",
                  "intermediate.int_line_derivation_compared",
                  "marts.line_derivation_agreement"):
        assert run.query(f"select count(*) from {model}") == [(0,)]

"""Tests of the synthetic data generator (rwe_synth).

The exports are checked against the documented formats (docs/raw-exports.md,
docs/generator.md for center_d's OMOP CDM v5.4 tables) and the terminology
seeds by an independent reader written here, not by the generator's own
code: every listed dirty row must carry exactly its defect, every other row
none; the eligible cohort re-derived from the files by the documented rules
(center_b's and center_d's lines from administrations and assessments) must
equal the generator's truth frame; the true lines (``<out>_truth/true_lines``) must
cut the administrations exactly; calibration and the true hazard ratios are
checked with lifelines at the embedded size and at 20,000 patients.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy.special import expit
from scipy.stats import norm

from rwe_synth import (
    COMPANION_TARGETS,
    TARGETS,
    ModelParameters,
    companion_truth_frame,
    generate,
    seed_coverage_problems,
    truth_frame,
)
from rwe_synth.__main__ import main
from rwe_synth.exports import key_digits
from rwe_synth.generator import measured_summary, truth_dir_for
from rwe_synth.model import arm_sizes, center_counts, companion_sizes

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_DIR / "seeds" / "terminology"
EMBEDDED = {"n_patients": 496, "n_centers": 3, "seed": 20250919}
#: Small four-center runs (center_d in OMOP CDM tables), default and hard line histories.
FOUR = {"n_patients": 220, "n_centers": 4, "seed": 7}
#: --chunk-patients of the blocked four-center runs: four blocks (60, 60, 60, 40).
BLOCK = 60
LARGE_N = 20_000
LARGE_SEED = 20250920
PARAMS = ModelParameters()
MONTH = 30.4375
CUTOFF = date.fromisoformat(PARAMS.design.data_cutoff_date)
WINDOW = (date.fromisoformat(PARAMS.design.study_window_start_date),
          date.fromisoformat(PARAMS.design.study_window_end_date))
#: The companion study (docs/generator.md, "One registry, two studies"): its
#: window, cut-off, centers and first-line rule, written here from the docs.
COMPANION = PARAMS.companion
COMPANION_WINDOW = (date.fromisoformat(COMPANION.study_window_start_date),
                    date.fromisoformat(COMPANION.study_window_end_date))
COMPANION_CUTOFF = date.fromisoformat(COMPANION.data_cutoff_date)
ICI_CLASSES = {"pd_1_inhibitor", "pd_l1_inhibitor"}
REFERENCE_STUDY = {"window": WINDOW, "cutoff": CUTOFF,
                   "centers": {"center_a", "center_b", "center_c", "center_d"},
                   "first_line": lambda classes: True}
COMPANION_STUDY = {"window": COMPANION_WINDOW, "cutoff": COMPANION_CUTOFF,
                   "centers": {"center_a", "center_b"},
                   "first_line": lambda classes: {"platinum", "etoposide"} <= classes
                   and bool(classes & ICI_CLASSES)}
COX_TERMS = [
    "is_ici", "age_years", "is_male", "is_ecog_2_or_more", "is_ever_smoker",
    "has_liver_metastases", "has_brain_metastases", "has_bone_metastases",
    "has_three_or_more_metastatic_sites", "had_thoracic_radiotherapy",
    "had_prophylactic_cranial_irradiation", "had_first_line_ici",
    "is_first_line_pfs_6_months_or_more",
]


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("embedded")
    generate(EMBEDDED["n_patients"], EMBEDDED["n_centers"], EMBEDDED["seed"], out)
    return out


@pytest.fixture(scope="module")
def manifest(embedded_dir) -> dict:
    return json.loads((embedded_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def exports(embedded_dir) -> dict[tuple[str, str], pd.DataFrame]:
    return read_exports(embedded_dir, "csv")


@pytest.fixture(scope="module")
def four_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("four")
    generate(FOUR["n_patients"], FOUR["n_centers"], FOUR["seed"], out)
    return out


@pytest.fixture(scope="module")
def hard_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hard")
    generate(FOUR["n_patients"], FOUR["n_centers"], FOUR["seed"], out, line_history="hard")
    return out


@pytest.fixture(scope="module")
def blocks_dir(tmp_path_factory) -> Path:
    """FOUR written in blocks of BLOCK eligible patients."""
    out = tmp_path_factory.mktemp("blocks")
    generate(**FOUR, out_dir=out, chunk_patients=BLOCK)
    return out


@pytest.fixture(scope="module")
def blocks_hard_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blocks_hard")
    generate(**FOUR, out_dir=out, line_history="hard", chunk_patients=BLOCK)
    return out


@pytest.fixture(scope="module")
def four_truth() -> pd.DataFrame:
    return truth_frame(FOUR["n_patients"], FOUR["n_centers"], FOUR["seed"])


@pytest.fixture(scope="module")
def embedded_truth() -> pd.DataFrame:
    return truth_frame(EMBEDDED["n_patients"], EMBEDDED["n_centers"], EMBEDDED["seed"])


@pytest.fixture(scope="module")
def large_truth() -> pd.DataFrame:
    return truth_frame(LARGE_N, 3, LARGE_SEED)


@pytest.fixture(scope="module")
def embedded_companion() -> pd.DataFrame:
    return companion_truth_frame(EMBEDDED["n_patients"], EMBEDDED["n_centers"], EMBEDDED["seed"])


@pytest.fixture(scope="module")
def large_companion() -> pd.DataFrame:
    return companion_truth_frame(LARGE_N, 3, LARGE_SEED)


@pytest.fixture(scope="module")
def seeds() -> dict[str, pd.DataFrame]:
    return {path.stem: pd.read_csv(path, dtype=str, keep_default_na=False)
            for path in SEEDS_DIR.glob("terminology__*.csv")}


def read_manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def read_true_lines(directory: Path) -> pd.DataFrame:
    return pd.read_csv(truth_dir_for(directory) / "true_lines.csv", dtype=str,
                       keep_default_na=False)


def read_exports(directory: Path, file_format: str) -> dict[tuple[str, str], pd.DataFrame]:
    """Every export as text; missing values as ''."""
    tables = {}
    for path in sorted(directory.glob(f"center_*/*.{file_format}")):
        if file_format == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        else:
            frame = pq.read_table(path).to_pandas().fillna("")
        tables[(path.parent.name, path.stem)] = frame
    return tables


# ---------------------------------------------------------------------------
# an independent reader of the documented formats
# ---------------------------------------------------------------------------

LAYOUTS = {"YYYY-MM-DD": "%Y-%m-%d", "DD/MM/YYYY": "%d/%m/%Y", "YYYYMMDD": "%Y%m%d",
           "YYYY/M/D": "%Y/%m/%d"}
ROW_IDS = {("center_a", "treatment_lines"): "record_no", ("center_a", "adverse_events"):
           "record_no", ("center_b", "drug_administrations"): "admin_id",
           ("center_b", "assessments"): "assessment_id", ("center_b", "adverse_events"): "ae_id",
           ("center_c", "adverse_events"): "ae_no"}


def parse_date(value: str, layout: str) -> date | None:
    if layout == "YYYY/M/D" and not re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", value):
        return None
    if layout == "YYYYMMDD" and not re.fullmatch(r"\d{8}", value):
        return None
    try:
        return datetime.strptime(value, LAYOUTS[layout]).date()
    except ValueError:
        return None


def vocabularies(seeds: dict[str, pd.DataFrame]) -> dict[str, set[str]]:
    return {
        "drugs": set(seeds["terminology__drug_names"]["source_name"].str.lower()),
        "ae": set(seeds["terminology__adverse_event_terms"]["source_term"].str.lower()),
        "sites": set(seeds["terminology__metastatic_sites"]["source_term"].str.lower()),
        "responses": set(seeds["terminology__recist_responses"]["source_term"].str.lower()),
        "yes_no": set(seeds["terminology__yes_no_codes"]["source_term"].str.lower()),
        "grades": set(seeds["terminology__ctcae_grades"]["source_term"].str.lower()),
    }


#: center_d (OMOP CDM v5.4), written from OHDSI/CommonDataModel
#: inst/csv/OMOP_CDMv5.4_Field_Level.csv: every column in CDM order, and the
#: ones the CDM marks required (isRequired = Yes).
OMOP_CDM_V54 = {
    "person": ("person_id* gender_concept_id* year_of_birth* month_of_birth day_of_birth "
               "birth_datetime race_concept_id* ethnicity_concept_id* location_id provider_id "
               "care_site_id person_source_value gender_source_value gender_source_concept_id "
               "race_source_value race_source_concept_id ethnicity_source_value "
               "ethnicity_source_concept_id"),
    "observation_period": ("observation_period_id* person_id* observation_period_start_date* "
                           "observation_period_end_date* period_type_concept_id*"),
    "drug_exposure": ("drug_exposure_id* person_id* drug_concept_id* drug_exposure_start_date* "
                      "drug_exposure_start_datetime drug_exposure_end_date* "
                      "drug_exposure_end_datetime verbatim_end_date drug_type_concept_id* "
                      "stop_reason refills quantity days_supply sig route_concept_id lot_number "
                      "provider_id visit_occurrence_id visit_detail_id drug_source_value "
                      "drug_source_concept_id route_source_value dose_unit_source_value"),
    "condition_occurrence": ("condition_occurrence_id* person_id* condition_concept_id* "
                             "condition_start_date* condition_start_datetime condition_end_date "
                             "condition_end_datetime condition_type_concept_id* "
                             "condition_status_concept_id stop_reason provider_id "
                             "visit_occurrence_id visit_detail_id condition_source_value "
                             "condition_source_concept_id condition_status_source_value"),
    "measurement": ("measurement_id* person_id* measurement_concept_id* measurement_date* "
                    "measurement_datetime measurement_time measurement_type_concept_id* "
                    "operator_concept_id value_as_number value_as_concept_id unit_concept_id "
                    "range_low range_high provider_id visit_occurrence_id visit_detail_id "
                    "measurement_source_value measurement_source_concept_id unit_source_value "
                    "unit_source_concept_id value_source_value measurement_event_id "
                    "meas_event_field_concept_id"),
    "observation": ("observation_id* person_id* observation_concept_id* observation_date* "
                    "observation_datetime observation_type_concept_id* value_as_number "
                    "value_as_string value_as_concept_id qualifier_concept_id unit_concept_id "
                    "provider_id visit_occurrence_id visit_detail_id observation_source_value "
                    "observation_source_concept_id unit_source_value qualifier_source_value "
                    "value_source_value observation_event_id obs_event_field_concept_id"),
    "procedure_occurrence": ("procedure_occurrence_id* person_id* procedure_concept_id* "
                             "procedure_date* procedure_datetime procedure_end_date "
                             "procedure_end_datetime procedure_type_concept_id* "
                             "modifier_concept_id quantity provider_id visit_occurrence_id "
                             "visit_detail_id procedure_source_value procedure_source_concept_id "
                             "modifier_source_value"),
    "death": ("person_id* death_date* death_datetime death_type_concept_id cause_concept_id "
              "cause_source_value cause_source_concept_id"),
}
OMOP_KEYS = {"person": "person_id", "observation_period": "observation_period_id",
             "drug_exposure": "drug_exposure_id", "condition_occurrence": "condition_occurrence_id",
             "measurement": "measurement_id", "observation": "observation_id",
             "procedure_occurrence": "procedure_occurrence_id", "death": "person_id"}
#: center_d's record codes (docs/generator.md).
D_ECOG, D_RECIST, D_SMOKING, D_GRADE = "PS-ECOG", "RECIST-TPR", "SMOKING-STATUS", "CTCAE-GRADE"
D_THORACIC_RT, D_PCI = "RT-THORAX", "RT-PCI"


def omop_columns(table: str) -> list[str]:
    return [c.rstrip("*") for c in OMOP_CDM_V54[table].split()]


def omop_required(table: str) -> list[str]:
    return [c.rstrip("*") for c in OMOP_CDM_V54[table].split() if c.endswith("*")]


def _omop_value_checks(table: str, vocab: dict[str, set[str]]):
    """Checks that depend on what an OMOP row records (its source code)."""
    def measurement(row):
        if row["measurement_source_value"] == D_ECOG and row["value_as_number"] not in {
                "0", "1", "2", "3", "4", "5"}:
            return {("unknown_code", "value_as_number")}
        if row["measurement_source_value"] == D_RECIST and row[
                "value_source_value"].strip().lower() not in vocab["responses"]:
            return {("unknown_code", "value_source_value")}
        return set()

    def observation(row):
        if row["observation_source_value"] == D_GRADE and row[
                "value_as_number"] not in vocab["grades"]:
            return {("unknown_code", "value_as_number")}
        if row["observation_source_value"] == D_SMOKING and row[
                "value_source_value"].strip().lower() not in vocab["yes_no"]:
            return {("unknown_code", "value_source_value")}
        return set()

    return {"measurement": measurement, "observation": observation}.get(table)


def table_rules(center: str, table: str, vocab: dict[str, set[str]]):
    """(required, dates, code checks, token checks, order checks) of a table,
    written from docs/raw-exports.md."""
    flag01 = {"0", "1"}
    if (center, table) == ("center_a", "treatment_lines"):
        return dict(
            required=["mrn", "line_start_date", "line_no"],
            dates={c: "YYYY-MM-DD" for c in ("birth_date", "line_start_date", "progression_date",
                                             "death_date", "last_contact_date")},
            codes={"sex": {"M", "F"}, "ecog": {"0", "1", "2", "3", "4"},
                   "smoking_history": {"Y", "N"}, "thoracic_rt": {"Y", "N"}, "pci": {"Y", "N"},
                   "line_no": {"1", "2", "3"},
                   "best_response": {"CR", "PR", "SD", "PD", "NE"}},
            tokens={"metastatic_sites": (";", "sites", "unknown_code"),
                    "regimen": (" + ", "drugs", "unknown_drug")},
            order=[("progression_date", "line_start_date"), ("death_date", "line_start_date"),
                   ("last_contact_date", "line_start_date")],
        )
    if (center, table) == ("center_a", "adverse_events"):
        return dict(required=["mrn", "line_no"], dates={"onset_date": "YYYY-MM-DD"},
                    codes={"line_no": {"1", "2", "3"},
                           "ctcae_grade": {"1", "2", "3", "4", "5"}},
                    tokens={"ae_term": (None, "ae", "unknown_code")}, order=[])
    if (center, table) == ("center_b", "patients"):
        return dict(required=["patient_key", "last_followup"],
                    dates={"dob": "DD/MM/YYYY", "death_date": "DD/MM/YYYY",
                           "last_followup": "DD/MM/YYYY"},
                    codes={"gender": {"1", "2"}, "kps": {str(k) for k in range(40, 101, 10)},
                           "smoker": flag01, "liver_met": flag01, "brain_met": flag01,
                           "bone_met": flag01, "other_met_sites": {"0", "1", "2", "3", "4"},
                           "thoracic_radiotherapy": flag01, "pci": flag01},
                    tokens={}, order=[])
    if (center, table) == ("center_b", "drug_administrations"):
        return dict(required=["patient_key", "admin_date", "drug_name"],
                    dates={"admin_date": "DD/MM/YYYY"}, codes={},
                    tokens={"drug_name": (None, "drugs", "unknown_drug")}, order=[])
    if (center, table) == ("center_b", "assessments"):
        return dict(required=["patient_key", "assessment_date"],
                    dates={"assessment_date": "DD/MM/YYYY"},
                    codes={"response": {"complete response", "partial response",
                                        "stable disease", "progressive disease",
                                        "not evaluable"}}, tokens={}, order=[])
    if (center, table) == ("center_b", "adverse_events"):
        return dict(required=["patient_key", "ae_date"], dates={"ae_date": "DD/MM/YYYY"},
                    codes={"grade": {"G1", "G2", "G3", "G4", "G5"}},
                    tokens={"ae_description": (None, "ae", "unknown_code")}, order=[])
    if (center, table) == ("center_c", "lines"):
        return dict(
            required=["case_no", "start_date", "line_number", "pfs_days", "os_months"],
            dates={"start_date": "YYYYMMDD", "birth_date": "YYYY/M/D"},
            codes={"sex": {"男", "女"}, "ps_score": {"0", "1", "2", "3", "4"},
                   "smoking": {"yes", "no", "former"}, "thoracic_rt": {"是", "否"},
                   "pci": {"是", "否"}, "line_number": {"1L", "2L", "3L"},
                   "progressed": flag01, "dead": flag01,
                   "response": {"完全缓解", "部分缓解", "疾病稳定", "疾病进展", "无法评估"}},
            tokens={"met_sites": ("、", "sites", "unknown_code"),
                    "regimen_pinyin": ("+", "drugs", "unknown_drug")},
            order=[],
        )
    if (center, table) == ("center_c", "adverse_events"):
        return dict(required=["case_no"], dates={},
                    codes={"line_number": {"1L", "2L", "3L"},
                           "grade": {"I", "II", "III", "IV", "V"}},
                    tokens={"ae_name": (None, "ae", "unknown_code")}, order=[])
    if center == "center_d":
        columns = omop_columns(table)
        dates = {c: "YYYY-MM-DD" for c in columns if c.endswith("_date")}
        order = {"drug_exposure": [("drug_exposure_end_date", "drug_exposure_start_date")],
                 "observation_period": [("observation_period_end_date",
                                         "observation_period_start_date")]}.get(table, [])
        return dict(
            required=omop_required(table) + (["person_source_value"] if table == "person"
                                             else []),
            dates=dates,
            codes={"gender_source_value": {"M", "F"}} if table == "person" else {},
            tokens={"drug_source_value": (None, "drugs", "unknown_drug")}
            if table == "drug_exposure" else {},
            order=order, values=_omop_value_checks(table, vocab))
    raise KeyError((center, table))


def find_defects(center: str, table: str, frame: pd.DataFrame, vocab: dict[str, set[str]]
                 ) -> dict[int, set[tuple[str, str]]]:
    """Every defect of every row: {1-based data row: {(reason, column)}}."""
    rules = table_rules(center, table, vocab)
    row_id = ROW_IDS.get((center, table))
    defects: dict[int, set[tuple[str, str]]] = {}
    seen: set[tuple[str, ...]] = set()
    content_columns = [c for c in frame.columns if c != row_id]
    if center == "center_d":
        duplicate_column = OMOP_KEYS[table]
    else:
        duplicate_column = row_id or {"patients": "patient_key", "lines": "case_no"}[table]
    for number, row in enumerate(frame.to_dict("records"), start=1):
        found: set[tuple[str, str]] = set()
        for column in rules["required"]:
            if row[column].strip() == "":
                found.add(("missing_required_value", column))
        for column, layout in rules["dates"].items():
            if row[column] != "" and parse_date(row[column], layout) is None:
                found.add(("unparseable_date", column))
        for column, allowed in rules["codes"].items():
            if row[column] != "" and row[column] not in allowed:
                found.add(("unknown_code", column))
        for column, (separator, vocabulary, reason) in rules["tokens"].items():
            if row[column] == "":
                continue
            tokens = [row[column]] if separator is None else row[column].split(separator)
            if any(token.strip().lower() not in vocab[vocabulary] for token in tokens):
                found.add((reason, column))
        for later, earlier in rules["order"]:
            a = parse_date(row[later], "YYYY-MM-DD") if row[later] else None
            b = parse_date(row[earlier], "YYYY-MM-DD") if row[earlier] else None
            if a is not None and b is not None and a < b:
                found.add(("date_order_violation", later))
        if table == "lines" and re.fullmatch(r"-\d+", row["pfs_days"]):
            found.add(("date_order_violation", "pfs_days"))
        if table == "lines" and not re.fullmatch(r"-?\d+\.\d\d", row["os_months"]):
            found.add(("unknown_code", "os_months"))
        if rules.get("values") is not None:
            found |= rules["values"](row)
        content = tuple(row[c] for c in content_columns)
        if content in seen:
            found.add(("duplicate_row", duplicate_column))
        seen.add(content)
        if found:
            defects[number] = found
    return defects


# ---------------------------------------------------------------------------
# arguments, arm sizes, determinism, formats
# ---------------------------------------------------------------------------


def test_arm_sizes_scale_with_n_and_are_exact_at_the_embedded_size(embedded_truth, manifest):
    assert arm_sizes(496) == (200, 296)
    assert arm_sizes(1000) == (403, 597)
    counts = embedded_truth["arm"].value_counts().to_dict()
    assert counts == {"ICI": 200, "non-ICI": 296}
    assert manifest["cohort"]["eligible_patients"] == 496
    assert manifest["cohort"]["per_arm"] == {"ICI": 200, "non-ICI": 296}
    per_center = manifest["cohort"]["per_center_per_arm"]
    assert sum(sum(arms.values()) for arms in per_center.values()) == 496
    # 45/35/20 % of 496 = 223.2/173.6/99.2, largest remainder -> 223/174/99
    assert {c: sum(a.values()) for c, a in per_center.items()} == {
        "center_a": 223, "center_b": 174, "center_c": 99}
    for n_patients in (1, 7, 133):
        truth = truth_frame(n_patients, 2, 5)
        assert len(truth) == n_patients
        assert int(truth["is_ici"].sum()) == round(n_patients * 200 / 496)


def test_four_centers_spread_the_patients_by_the_stated_shares(four_dir, four_truth):
    shares = PARAMS.fourth_center.center_shares
    n = FOUR["n_patients"]
    # largest remainder, computed here from the stated shares
    raw = [share * n for share in shares]
    counts = [math.floor(r) for r in raw]
    for index in sorted(range(4), key=lambda i: -(raw[i] - counts[i]))[: n - sum(counts)]:
        counts[index] += 1
    centers = ["center_a", "center_b", "center_c", "center_d"]
    assert center_counts(n, 4, PARAMS) == counts
    assert four_truth["center_id"].value_counts().to_dict() == dict(zip(centers, counts,
                                                                        strict=True))
    assert four_truth["arm"].value_counts().to_dict() == {"ICI": round(n * 200 / 496),
                                                          "non-ICI": n - round(n * 200 / 496)}
    manifest = read_manifest(four_dir)
    assert {c: sum(a.values()) for c, a in manifest["cohort"]["per_center_per_arm"].items()} \
        == dict(zip(centers, counts, strict=True))
    assert (four_truth.loc[four_truth["center_id"] == "center_d", "patient_key"]
            .str.fullmatch(r"GZ\d{7}").all())
    # the embedded three-center size: 35/27/15/23 % of 496
    assert center_counts(496, 4, PARAMS) == [174, 134, 74, 114]


def test_a_variant_adds_its_parameters_and_arguments_only_when_it_is_used(
        manifest, four_dir, hard_dir):
    assert "fourth_center" not in manifest["truth"]["parameters"]
    assert "hard_line_history" not in manifest["truth"]["parameters"]
    assert "line_history" not in manifest["generator"]["args"]
    four = read_manifest(four_dir)
    assert four["truth"]["parameters"]["fourth_center"]["center_id"] == "center_d"
    assert "hard_line_history" not in four["truth"]["parameters"]
    hard = read_manifest(hard_dir)
    assert hard["truth"]["parameters"]["hard_line_history"]["p_skipped_dose"] == \
        PARAMS.hard_line_history.p_skipped_dose
    assert hard["generator"]["args"]["line_history"] == "hard"
    assert hard["generator"]["command"].endswith("--line-history hard")


def test_cli_rejects_a_bad_number_of_centers(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--patients", "10", "--centers", "5", "--seed", "1", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "--centers must be 1, 2, 3 or 4" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--centers must be 1, 2, 3 or 4"):
        generate(10, 0, 1, tmp_path)
    with pytest.raises(ValueError, match="--line-history must be one of default, hard"):
        generate(10, 1, 1, tmp_path, line_history="easy")
    with pytest.raises(ValueError, match="--patients must be a positive integer"):
        generate(0, 1, 1, tmp_path)
    with pytest.raises(ValueError, match="--seed must be a non-negative integer"):
        generate(10, 1, -1, tmp_path)


def test_cli_writes_only_the_requested_centers(tmp_path):
    out = tmp_path / "raw"
    assert main(["--patients", "40", "--centers", "2", "--seed", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["center_a", "center_b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "raw_truth"]


def _files(directory: Path) -> list[Path]:
    """Every file the generator wrote for ``directory``: its exports and
    manifest, then the true lines beside it (as ``truth/<file>``)."""
    truth = truth_dir_for(directory)
    return [*sorted(p.relative_to(directory) for p in directory.rglob("*") if p.is_file()),
            *sorted(Path("truth") / p.relative_to(truth) for p in truth.rglob("*") if p.is_file())]


def _bytes(directory: Path, relative: Path) -> bytes:
    if relative.parts[0] == "truth":
        return (truth_dir_for(directory) / relative.relative_to("truth")).read_bytes()
    return (directory / relative).read_bytes()


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, embedded_dir):
    again, other = tmp_path / "again", tmp_path / "other"
    generate(EMBEDDED["n_patients"], EMBEDDED["n_centers"], EMBEDDED["seed"], again)
    generate(EMBEDDED["n_patients"], EMBEDDED["n_centers"], EMBEDDED["seed"] + 1, other)
    files = _files(embedded_dir)
    assert len(files) == 10  # 8 exports, manifest.json, truth/true_lines.csv
    for relative in files:
        assert _bytes(again, relative) == _bytes(embedded_dir, relative)
    differing = [r for r in files if _bytes(other, r) != _bytes(embedded_dir, r)]
    assert len(differing) == len(files)


def test_committed_embedded_data_is_what_the_generator_writes(embedded_dir):
    """data/raw is the generator's output for the embedded arguments, byte for
    byte: adding center_d and the hard variant changed none of it."""
    raw = PROJECT_DIR / "data" / "raw"
    assert _files(raw) == _files(embedded_dir)
    for relative in _files(raw):
        assert _bytes(raw, relative) == _bytes(embedded_dir, relative), relative


@pytest.mark.parametrize("line_history", ["default", "hard"])
def test_four_centers_are_deterministic(tmp_path, four_dir, hard_dir, line_history):
    first = four_dir if line_history == "default" else hard_dir
    again = tmp_path / "again"
    generate(FOUR["n_patients"], FOUR["n_centers"], FOUR["seed"], again,
             line_history=line_history)
    files = _files(first)
    assert len(files) == 18  # 8 + 8 OMOP tables, manifest.json, truth/true_lines.csv
    assert _files(again) == files
    for relative in files:
        assert _bytes(again, relative) == _bytes(first, relative), relative


def test_hard_histories_change_the_administrations_and_not_the_cohort(four_dir, hard_dir):
    """The hard variant rewrites what the administration-level centers give
    (and third-line regimens) but leaves the patients, their second lines and
    their outcomes alone."""
    differing = {str(r) for r in _files(four_dir)
                 if _bytes(four_dir, r) != _bytes(hard_dir, r)}
    assert {"center_b/drug_administrations.csv", "center_d/drug_exposure.csv",
            "truth/true_lines.csv", "manifest.json"} <= differing
    assert not differing & {"center_b/patients.csv", "center_b/assessments.csv",
                            "center_d/person.csv", "center_d/measurement.csv",
                            "center_d/death.csv"}
    same = read_manifest(four_dir)
    hard = read_manifest(hard_dir)
    assert same["cohort"] == hard["cohort"] and same["measured"] == hard["measured"]


def test_csv_files_are_plain_utf8_with_the_documented_columns(embedded_dir, exports):
    from rwe_synth.exports import EXPORT_LAYOUT

    for (center, table), frame in exports.items():
        raw = (embedded_dir / center / f"{table}.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in raw and b'"' not in raw
        raw.decode("utf-8")
        assert tuple(frame.columns) == EXPORT_LAYOUT[center][table][1]
        row_id = ROW_IDS.get((center, table))
        if row_id:
            assert frame[row_id].tolist() == [str(i) for i in range(1, len(frame) + 1)]
    assert sorted(exports) == [
        ("center_a", "adverse_events"), ("center_a", "treatment_lines"),
        ("center_b", "adverse_events"), ("center_b", "assessments"),
        ("center_b", "drug_administrations"), ("center_b", "patients"),
        ("center_c", "adverse_events"), ("center_c", "lines")]


def test_patient_keys_follow_the_documented_layout(exports):
    patterns = {("center_a", "treatment_lines", "mrn"): r"NX\d{6}",
                ("center_b", "patients", "patient_key"): r"TJ-\d{5}",
                ("center_c", "lines", "case_no"): r"NM\d{5}"}
    for (center, table, column), pattern in patterns.items():
        keys = exports[(center, table)][column]
        keys = keys[keys != ""]
        assert keys.str.fullmatch(pattern).all()
    id_columns = {("center_a", "treatment_lines"): "id_card_no",
                  ("center_b", "patients"): "national_id", ("center_c", "lines"): "id_number"}
    for table, column in id_columns.items():
        assert exports[table][column].str.fullmatch(r"\d{17}[\dX]").all()
    assert key_digits(1_000, 5) == 5
    assert key_digits(60_000, 5) == 6  # only very large N widen the keys


def test_parquet_has_the_same_columns_and_text_as_csv(tmp_path):
    generate(60, 3, 11, tmp_path / "csv", "csv")
    generate(60, 3, 11, tmp_path / "parquet", "parquet")
    as_csv = read_exports(tmp_path / "csv", "csv")
    as_parquet = read_exports(tmp_path / "parquet", "parquet")
    assert as_csv.keys() == as_parquet.keys()
    for key, frame in as_parquet.items():
        schema = pq.read_schema(tmp_path / "parquet" / key[0] / f"{key[1]}.parquet")
        assert all(str(field.type) == "string" for field in schema)
        pd.testing.assert_frame_equal(frame, as_csv[key])


def _written_spellings(exports: dict[tuple[str, str], pd.DataFrame], manifest: dict,
                       ) -> dict[str, set[str]]:
    """The coded values the clean rows of the exports hold, by seed, read from
    the files (lower case, trimmed as staging matches them)."""
    tables = _without_dirty(exports, manifest)
    found: dict[str, set[str]] = {}

    def add(seed: str, values) -> None:
        found.setdefault(seed, set()).update(
            v.strip().lower() for v in values if isinstance(v, str) and v.strip())

    def split(values, separator):
        return [token for value in values for token in value.split(separator)]

    for (center, table), frame in tables.items():
        columns = set(frame.columns)
        if {"regimen", "metastatic_sites"} <= columns:  # center_a lines
            add("terminology__drug_names", split(frame["regimen"], " + "))
            add("terminology__metastatic_sites", split(frame["metastatic_sites"], ";"))
            add("terminology__recist_responses", frame["best_response"])
            add("terminology__sex_codes", frame["sex"])
            add("terminology__yes_no_codes", pd.concat([frame["smoking_history"],
                                                        frame["thoracic_rt"], frame["pci"]]))
        if "regimen_pinyin" in columns:  # center_c lines
            add("terminology__drug_names", split(frame["regimen_pinyin"], "+"))
            add("terminology__metastatic_sites", split(frame["met_sites"], "、"))
            add("terminology__recist_responses", frame["response"])
            add("terminology__sex_codes", frame["sex"])
            add("terminology__yes_no_codes", pd.concat([frame["smoking"], frame["thoracic_rt"],
                                                        frame["pci"]]))
        for column, seed in (("drug_name", "terminology__drug_names"),
                             ("drug_source_value", "terminology__drug_names"),
                             ("ae_term", "terminology__adverse_event_terms"),
                             ("ae_description", "terminology__adverse_event_terms"),
                             ("ae_name", "terminology__adverse_event_terms"),
                             ("ctcae_grade", "terminology__ctcae_grades"),
                             ("gender", "terminology__sex_codes"),
                             ("gender_source_value", "terminology__sex_codes"),
                             ("kps", "terminology__karnofsky_to_ecog")):
            if column in columns:
                add(seed, frame[column])
        if (center, table) == ("center_b", "assessments"):
            add("terminology__recist_responses", frame["response"])
        if (center, table) == ("center_b", "patients"):
            add("terminology__yes_no_codes", pd.concat([frame[c] for c in (
                "smoker", "liver_met", "brain_met", "bone_met", "thoracic_radiotherapy",
                "pci")]))
        if "grade" in columns:
            add("terminology__ctcae_grades", frame["grade"])
        if (center, table) == ("center_d", "condition_occurrence"):
            codes = frame["condition_source_value"]
            add("terminology__metastatic_sites", codes[codes.str.fullmatch(r"C7[7-9]\.\d")])
            add("terminology__adverse_event_terms", codes[~codes.str.fullmatch(r"C\d\d\.\d")])
        if (center, table) == ("center_d", "measurement"):
            add("terminology__recist_responses", frame.loc[
                frame["measurement_source_value"] == D_RECIST, "value_source_value"])
        if (center, table) == ("center_d", "observation"):
            kind = frame["observation_source_value"]
            add("terminology__yes_no_codes", frame.loc[kind == D_SMOKING, "value_source_value"])
            add("terminology__ctcae_grades", frame.loc[kind == D_GRADE, "value_as_number"])
    return found


def test_seeds_hold_every_spelling_the_exports_write(seeds, exports, manifest, four_dir):
    """The seeds own the terminology: every code in the clean rows of every
    export (four centers) is a seed row, matched as staging matches it, and
    the generator's own check agrees; seed keys stay unique case-insensitively
    (a second spelling up to case would fan out the staging joins)."""
    keys = {"terminology__drug_names": "source_name",
            "terminology__karnofsky_to_ecog": "karnofsky_score"}
    written = _written_spellings(exports, manifest)
    for seed, values in _written_spellings(read_exports(four_dir, "csv"),
                                           read_manifest(four_dir)).items():
        written.setdefault(seed, set()).update(values)
    assert len(written) == 8
    for seed, values in written.items():
        key = seeds[seed][keys.get(seed, "source_term")].str.strip().str.lower()
        assert key.is_unique, seed
        assert values <= set(key), (seed, sorted(values - set(key)))
    assert seed_coverage_problems(["center_a", "center_b", "center_c", "center_d"]) == []
    classes = set(seeds["terminology__drug_names"]["drug_class"])
    assert classes <= {"platinum", "etoposide", "topoisomerase_inhibitor", "taxane",
                       "anti_angiogenic_tki", "pd_l1_inhibitor", "pd_1_inhibitor", "supportive"}


def test_appending_a_seed_row_breaks_nothing_and_a_missing_or_changed_row_is_named(
        tmp_path, capsys):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    drugs = seeds / "terminology__drug_names.csv"
    text = drugs.read_text(encoding="utf-8")
    # a new center's spelling (onboarding step 4): the generator's check still passes
    drugs.write_text(text + "TOPOTECAN HCL 4 MG VIAL,topotecan,topoisomerase_inhibitor,false\n",
                     encoding="utf-8")
    assert seed_coverage_problems(["center_a", "center_b", "center_c", "center_d"], seeds) == []
    generate(30, 2, 1, tmp_path / "out", seeds_dir=seeds)
    # a spelling the generator writes, removed: named with the row to append
    drugs.write_text(text.replace("Hycamtin,topotecan,topoisomerase_inhibitor,false\n", ""),
                     encoding="utf-8")
    problems = seed_coverage_problems(["center_b"], seeds)
    assert problems == ["center_b writes 'Hycamtin', which has no row in "
                        "terminology__drug_names.csv: append "
                        "Hycamtin,topotecan,topoisomerase_inhibitor,false"]
    assert seed_coverage_problems(["center_a", "center_c"], seeds) == []
    with pytest.raises(ValueError, match="'Hycamtin', which has no row"):
        generate(30, 2, 1, tmp_path / "out", seeds_dir=seeds)
    # a spelling with another meaning in the seed
    drugs.write_text(text.replace("Hycamtin,topotecan,", "Hycamtin,irinotecan,"),
                     encoding="utf-8")
    assert len(problems := seed_coverage_problems(["center_b"], seeds)) == 1
    assert "'Hycamtin' meaning" in problems[0] and "'irinotecan'" in problems[0]
    with pytest.raises(SystemExit) as stop:
        main(["--patients", "30", "--centers", "2", "--seed", "1", "--out",
              str(tmp_path / "cli"), "--seeds", str(seeds)])
    assert stop.value.code == 2
    assert "maps it to {'generic_name': 'irinotecan'" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# dirty rows and excluded patients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["embedded", "four_centers", "blocks"])
def test_every_listed_dirty_row_has_its_defect_and_no_other_row_has_one(
        run, exports, manifest, four_dir, blocks_dir, seeds):
    if run != "embedded":
        directory = four_dir if run == "four_centers" else blocks_dir
        exports, manifest = read_exports(directory, "csv"), read_manifest(directory)
        assert {d["center_id"] for d in manifest["dirty_rows"]} == {
            "center_a", "center_b", "center_c", "center_d"}
    vocab = vocabularies(seeds)
    listed = {(d["center_id"], d["table"], d["source_row_number"]): (d["reason"], d["column"])
              for d in manifest["dirty_rows"]}
    assert len(listed) == len(manifest["dirty_rows"])
    found = {}
    for (center, table), frame in exports.items():
        for number, defects in find_defects(center, table, frame, vocab).items():
            found[(center, table, number)] = defects
    assert set(found) == set(listed)
    for location, defect in listed.items():
        assert found[location] == {defect}, location


def test_center_d_dirty_rows_cover_its_tables_and_reasons(four_dir):
    dirty = pd.DataFrame(read_manifest(four_dir)["dirty_rows"])
    dirty = dirty.loc[dirty["center_id"] == "center_d"]
    assert set(dirty["table"]) == set(OMOP_CDM_V54)
    assert set(dirty["reason"]) == {"duplicate_row", "unparseable_date", "date_order_violation",
                                    "unknown_drug", "missing_required_value", "unknown_code"}


@pytest.mark.parametrize("run", ["embedded", "four_centers", "blocks"])
def test_duplicates_copy_an_earlier_row(run, exports, manifest, four_dir, blocks_dir):
    if run != "embedded":
        directory = four_dir if run == "four_centers" else blocks_dir
        exports, manifest = read_exports(directory, "csv"), read_manifest(directory)
    for entry in manifest["dirty_rows"]:
        if entry["reason"] != "duplicate_row":
            continue
        frame = exports[(entry["center_id"], entry["table"])]
        row_id = ROW_IDS.get((entry["center_id"], entry["table"]))
        content = frame.drop(columns=[row_id] if row_id else [])
        row = content.iloc[entry["source_row_number"] - 1]
        earlier = content.iloc[: entry["source_row_number"] - 1]
        assert (earlier == row).all(axis=1).any()


def test_dirty_rows_cover_every_reason_at_least_twice(manifest):
    reasons = pd.DataFrame(manifest["dirty_rows"])
    counts = reasons.groupby("reason")["center_id"].agg(["size", "nunique"])
    assert set(counts.index) == {"duplicate_row", "unparseable_date", "date_order_violation",
                                 "unknown_drug", "missing_required_value", "unknown_code"}
    assert (counts["size"] >= 2).all()
    assert (counts["nunique"] >= 2).all()  # spread over the centers


def test_excluded_patients_are_listed_with_both_reasons(manifest):
    excluded = pd.DataFrame(manifest["excluded_patients"])
    assert set(excluded["reason"]) == {"no_second_line", "second_line_outside_study_window"}
    assert excluded.groupby("reason")["center_id"].nunique().min() == 3


# ---------------------------------------------------------------------------
# the cohort re-derived from the files equals the truth frame
# ---------------------------------------------------------------------------


def _without_dirty(exports, manifest) -> dict[tuple[str, str], pd.DataFrame]:
    dirty = {}
    for entry in manifest["dirty_rows"]:
        dirty.setdefault((entry["center_id"], entry["table"]), set()).add(
            entry["source_row_number"] - 1)
    return {key: frame.drop(index=sorted(dirty.get(key, set())))
            for key, frame in exports.items()}


def _outcomes(start: date, progression: date | None, death: date | None,
              last_progression_free: date | None, last_contact: date,
              cutoff: date = CUTOFF) -> dict:
    """PFS / OS by the contract's rules (docs/analysis-cohort-contract.md)."""
    pfs_event = min(d for d in (progression, death) if d) if (progression or death) else None
    pfs_end = pfs_event if pfs_event and pfs_event <= cutoff else min(
        last_progression_free or last_contact, cutoff)
    os_end = death if death and death <= cutoff else min(last_contact, cutoff)
    return {"pfs_months": (pfs_end - start).days / MONTH,
            "is_pfs_event": bool(pfs_event and pfs_event <= cutoff),
            "os_months": (os_end - start).days / MONTH,
            "is_os_event": bool(death and death <= cutoff)}


def _drug_lookup(seeds) -> dict[str, tuple[str, bool, str]]:
    drugs = seeds["terminology__drug_names"]
    return {row.source_name.lower(): (row.generic_name, row.is_ici == "true", row.drug_class)
            for row in drugs.itertuples()}


def _line_level(frame: pd.DataFrame, center: str, seeds, study=REFERENCE_STUDY
                ) -> pd.DataFrame:
    """Eligible patients of a line-level export (center_a / center_c) by a
    study's rules (window, cut-off, first-line drug classes)."""
    drugs = _drug_lookup(seeds)
    sites = dict(zip(seeds["terminology__metastatic_sites"]["source_term"],
                     seeds["terminology__metastatic_sites"]["site"], strict=True))
    is_a = center == "center_a"
    key, line_col = ("mrn", "line_no") if is_a else ("case_no", "line_number")
    rows = []
    for patient, group in frame.groupby(key):
        lines = {int(r[line_col].rstrip("L")): r for r in group.to_dict("records")}
        if 2 not in lines or 1 not in lines:
            continue
        first, second = lines[1], lines[2]
        if is_a:
            start = parse_date(second["line_start_date"], "YYYY-MM-DD")
            first_start = parse_date(first["line_start_date"], "YYYY-MM-DD")
            first_progression = parse_date(first["progression_date"], "YYYY-MM-DD")
            progression = parse_date(second["progression_date"], "YYYY-MM-DD") \
                if second["progression_date"] else None
            death = parse_date(second["death_date"], "YYYY-MM-DD") \
                if second["death_date"] else None
            last_contact = parse_date(second["last_contact_date"], "YYYY-MM-DD")
            last_pf = None
            tokens = second["regimen"].split(" + ")
            site_tokens = second["metastatic_sites"].split(";") if second[
                "metastatic_sites"] else []
            birth_year = int(second["birth_date"][:4])
            male, smoker = second["sex"] == "M", second["smoking_history"] == "Y"
            ecog, trt, pci = int(second["ecog"]), second["thoracic_rt"] == "Y", \
                second["pci"] == "Y"
            response = second["best_response"]
            first_line_ici = any(drugs[t.lower()][1] for t in first["regimen"].split(" + "))
            first_classes = {drugs[t.lower()][2] for t in first["regimen"].split(" + ")}
        else:
            start = parse_date(second["start_date"], "YYYYMMDD")
            first_start = parse_date(first["start_date"], "YYYYMMDD")
            first_progression = date.fromordinal(first_start.toordinal()
                                                 + int(first["pfs_days"]))
            end_pfs = date.fromordinal(start.toordinal() + int(second["pfs_days"]))
            end_os = date.fromordinal(start.toordinal()
                                      + round(float(second["os_months"]) * MONTH))
            progression = end_pfs if second["progressed"] == "1" else None
            last_pf = None if progression else end_pfs
            death = end_os if second["dead"] == "1" else None
            last_contact = end_os
            tokens = second["regimen_pinyin"].split("+")
            site_tokens = second["met_sites"].split("、") if second["met_sites"] else []
            birth_year = int(second["birth_date"][:4])
            male, smoker = second["sex"] == "男", second["smoking"] in ("yes", "former")
            ecog, trt, pci = int(second["ps_score"]), second["thoracic_rt"] == "是", \
                second["pci"] == "是"
            chinese = {"完全缓解": "CR", "部分缓解": "PR", "疾病稳定": "SD", "疾病进展": "PD",
                       "无法评估": "NE"}
            response = chinese[second["response"]]
            first_line_ici = any(drugs[t.lower()][1] for t in first["regimen_pinyin"].split("+"))
            first_classes = {drugs[t.lower()][2] for t in first["regimen_pinyin"].split("+")}
        window = study["window"]
        if not (window[0] <= start <= window[1]) or not study["first_line"](first_classes):
            continue
        site_set = {sites[t] for t in site_tokens}
        rows.append({
            "center_id": center, "patient_key": patient, "second_line_start_date": start,
            "second_line_regimen": " + ".join(sorted(drugs[t.lower()][0] for t in tokens)),
            "is_ici": any(drugs[t.lower()][1] for t in tokens),
            "age_years": start.year - birth_year, "is_male": male, "is_ever_smoker": smoker,
            "ecog_ps": ecog, "had_thoracic_radiotherapy": trt,
            "had_prophylactic_cranial_irradiation": pci,
            "has_liver_metastases": "liver" in site_set,
            "has_brain_metastases": "brain" in site_set,
            "has_bone_metastases": "bone" in site_set, "metastatic_site_count": len(site_set),
            "had_first_line_ici": first_line_ici,
            "first_line_pfs_months": (first_progression - first_start).days / MONTH,
            "best_response": response,
            **_outcomes(start, progression, death, last_pf, last_contact, study["cutoff"]),
        })
    return pd.DataFrame(rows)


def derive_center_b_lines(administrations: pd.DataFrame, assessments: pd.DataFrame,
                          drugs: dict, gap_days: int = 120) -> pd.DataFrame:
    """Lines of therapy by the documented rule (docs/raw-exports.md), written
    independently of the generator: per patient, administration days in date
    order; a day starts a new line if it is the first, comes more than
    ``gap_days`` after the previous day, or gives a drug the previous day did
    not give after a progression documented since the previous day."""
    words = {"complete response": "CR", "partial response": "PR", "stable disease": "SD",
             "progressive disease": "PD", "not evaluable": "NE"}
    admin = _administration_days(administrations["patient_key"], [
        parse_date(d, "DD/MM/YYYY") for d in administrations["admin_date"]],
        administrations["drug_name"], drugs)
    assess = pd.DataFrame({
        "patient_key": assessments["patient_key"].to_numpy(),
        "day": [parse_date(d, "DD/MM/YYYY") for d in assessments["assessment_date"]],
        "code": [words[w] for w in assessments["response"]]})
    return derive_lines(admin, assess, gap_days)


def derive_center_d_lines(tables, seeds, gap_days: int = 120) -> pd.DataFrame:
    """The same rule on center_d's OMOP tables: drug_exposure start dates and
    RECIST timepoint responses (measurement), keyed by person_source_value."""
    drugs = _drug_lookup(seeds)
    person = tables[("center_d", "person")].set_index("person_id")["person_source_value"]
    exposure = tables[("center_d", "drug_exposure")]
    admin = _administration_days(
        person.reindex(exposure["person_id"]).to_numpy(),
        [parse_date(d, "YYYY-MM-DD") for d in exposure["drug_exposure_start_date"]],
        exposure["drug_source_value"], drugs)
    measurement = tables[("center_d", "measurement")]
    recist = measurement.loc[measurement["measurement_source_value"] == D_RECIST]
    responses = dict(zip(seeds["terminology__recist_responses"]["source_term"].str.lower(),
                         seeds["terminology__recist_responses"]["response_code"], strict=True))
    assess = pd.DataFrame({
        "patient_key": person.reindex(recist["person_id"]).to_numpy(),
        "day": [parse_date(d, "YYYY-MM-DD") for d in recist["measurement_date"]],
        "code": [responses[v.lower()] for v in recist["value_source_value"]]})
    return derive_lines(admin, assess, gap_days)


def _administration_days(keys, days, names, drugs) -> pd.DataFrame:
    """Line-defining administrations: patient_key, day, generic, is_ici."""
    frame = pd.DataFrame({
        "patient_key": np.asarray(keys), "day": days,
        "generic": [drugs[n.lower()][0] for n in names],
        "is_ici": [drugs[n.lower()][1] for n in names],
        "supportive": [drugs[n.lower()][2] == "supportive" for n in names]})
    return frame.loc[~frame["supportive"]].drop(columns="supportive")


def derive_lines(admin: pd.DataFrame, assess: pd.DataFrame, gap_days: int = 120
                 ) -> pd.DataFrame:
    """The documented rule on line-defining administrations (patient_key,
    day, generic, is_ici) and assessments (patient_key, day, RECIST code)."""
    rank = {"CR": 1, "PR": 2, "SD": 3, "PD": 4, "NE": 5}
    assess_by_patient = dict(tuple(assess.groupby("patient_key")))
    out = []
    for patient, group in admin.groupby("patient_key"):
        days = group.groupby("day")["generic"].apply(set).sort_index()
        patient_assess = assess_by_patient.get(patient, assess.iloc[0:0])
        pd_days = sorted(patient_assess.loc[patient_assess["code"] == "PD", "day"])
        line, previous, starts = 0, None, []
        line_of_day = {}
        for day, drug_set in days.items():
            new = previous is None or (day - previous[0]).days > gap_days or (
                bool(drug_set - previous[1]) and any(previous[0] < d <= day for d in pd_days))
            if new:
                line += 1
                starts.append(day)
            line_of_day[day] = line
            previous = (day, drug_set)
        for number, start in enumerate(starts, start=1):
            next_start = starts[number] if number < len(starts) else None
            line_days = [d for d, n in line_of_day.items() if n == number]
            line_rows = group.loc[group["day"].isin(line_days)]
            window = patient_assess.loc[(patient_assess["day"] > start) & (
                (patient_assess["day"] <= next_start) if next_start else True)]
            progression = min(window.loc[window["code"] == "PD", "day"], default=None)
            if progression is not None:
                window = window.loc[window["day"] <= progression]
            best = min(window["code"], key=rank.get, default="NE")
            out.append({"patient_key": patient, "line_number": number, "start": start,
                        "progression": progression, "best_response": best,
                        "regimen": " + ".join(sorted(set(line_rows["generic"]))),
                        "is_ici": bool(line_rows["is_ici"].any())})
    return pd.DataFrame(out)


def _center_b(tables, seeds, study=REFERENCE_STUDY) -> pd.DataFrame:
    drugs = _drug_lookup(seeds)
    classes = {generic: drug_class for generic, _, drug_class in drugs.values()}
    kps = dict(zip(seeds["terminology__karnofsky_to_ecog"]["karnofsky_score"],
                   seeds["terminology__karnofsky_to_ecog"]["ecog_ps"], strict=True))
    lines = derive_center_b_lines(tables[("center_b", "drug_administrations")],
                                  tables[("center_b", "assessments")], drugs)
    patients = tables[("center_b", "patients")].set_index("patient_key")
    rows = []
    for patient, group in lines.groupby("patient_key"):
        by_line = group.set_index("line_number")
        if 2 not in by_line.index or by_line.at[1, "progression"] is None:
            continue
        start = by_line.at[2, "start"]
        window = study["window"]
        first_classes = {classes[g] for g in by_line.at[1, "regimen"].split(" + ")}
        if not (window[0] <= start <= window[1]) or not study["first_line"](first_classes):
            continue
        base = patients.loc[patient]
        death = parse_date(base["death_date"], "DD/MM/YYYY") if base["death_date"] else None
        flags = {s: base[f"{s}_met"] == "1" for s in ("liver", "brain", "bone")}
        rows.append({
            "center_id": "center_b", "patient_key": patient, "second_line_start_date": start,
            "second_line_regimen": by_line.at[2, "regimen"], "is_ici": by_line.at[2, "is_ici"],
            "age_years": start.year - int(base["dob"][-4:]), "is_male": base["gender"] == "1",
            "is_ever_smoker": base["smoker"] == "1", "ecog_ps": int(kps[base["kps"]]),
            "had_thoracic_radiotherapy": base["thoracic_radiotherapy"] == "1",
            "had_prophylactic_cranial_irradiation": base["pci"] == "1",
            "has_liver_metastases": flags["liver"], "has_brain_metastases": flags["brain"],
            "has_bone_metastases": flags["bone"],
            "metastatic_site_count": sum(flags.values()) + int(base["other_met_sites"]),
            "had_first_line_ici": by_line.at[1, "is_ici"],
            "first_line_pfs_months": (by_line.at[1, "progression"]
                                      - by_line.at[1, "start"]).days / MONTH,
            "best_response": by_line.at[2, "best_response"],
            **_outcomes(start, by_line.at[2, "progression"], death, None,
                        parse_date(base["last_followup"], "DD/MM/YYYY"), study["cutoff"]),
        })
    return pd.DataFrame(rows)


def test_cohort_derived_from_the_files_equals_the_truth_frame(
        exports, manifest, seeds, embedded_truth):
    tables = _without_dirty(exports, manifest)
    derived = pd.concat([
        _line_level(tables[("center_a", "treatment_lines")], "center_a", seeds),
        _center_b(tables, seeds),
        _line_level(tables[("center_c", "lines")], "center_c", seeds),
    ], ignore_index=True)
    assert len(derived) == 496
    assert derived["is_ici"].sum() == 200
    truth = embedded_truth.assign(
        second_line_start_date=embedded_truth["second_line_start_date"].dt.date)
    merged = truth.merge(derived, on=["center_id", "patient_key"], suffixes=("", "_files"),
                         validate="one_to_one")
    assert len(merged) == 496
    for column in derived.columns.drop(["center_id", "patient_key"]):
        expected, got = merged[column], merged[f"{column}_files"]
        if column.endswith("_months"):
            assert np.allclose(expected.astype(float), got.astype(float)), column
        else:
            assert (expected.astype(str) == got.astype(str)).all(), column


# ---------------------------------------------------------------------------
# one registry, two studies: the companion cohort
# ---------------------------------------------------------------------------

#: rwe_synth 1.0.0's embedded exports (data rows, SHA-256 of the file), from
#: the manifest committed before the companion population existed.
VERSION_1_0_0_FILES = {
    "center_a/treatment_lines.csv": (
        551, "70a5bb4efcbcc58d81e00ea0be781c45f8a8f6074b66cab21b71f816744bd0e6"),
    "center_a/adverse_events.csv": (
        687, "f079a1a0a078009c37d543d6acbac4ec2fded45d9b1891e54f345993e8c9c660"),
    "center_b/patients.csv": (
        181, "357f0a254137f5fcd5d7f35a5aa51624583ff0b9e48af8363f384a8ba6e972d2"),
    "center_b/drug_administrations.csv": (
        5237, "a230fa21bd8a136b7bba5a98280204bedaa7514e28e45ef0773aebf5c8ddf387"),
    "center_b/assessments.csv": (
        1581, "9972ab13057e39fa4c7d1b9e47ecf73f7760ba9e616c685849c64af27f9acd66"),
    "center_b/adverse_events.csv": (
        524, "00120987bce38e430600f932ec63d72d74c518b8d8bc9122009036f6cff9120a"),
    "center_c/lines.csv": (
        247, "0fc82dbd159d85e2537a8264806cf7ea39923a92911ca6f176dd480c2da72768"),
    "center_c/adverse_events.csv": (
        308, "112102c21fa00730c13e4b8dce6d6e3c7acf8a24c667f5f6eded98e2c1272322"),
}


def test_the_embedded_reference_rows_are_those_of_version_1_0_0(embedded_dir, manifest):
    """Every export begins with exactly the rows rwe_synth 1.0.0 wrote (same
    bytes, so same row ids and dirty rows): the companion population only
    appends rows, so the reference study reads what it always read."""
    import hashlib

    for path, (rows, digest) in VERSION_1_0_0_FILES.items():
        lines = (embedded_dir / path).read_bytes().split(b"\n")
        assert hashlib.sha256(b"\n".join(lines[: rows + 1]) + b"\n").hexdigest() == digest, path
    added = {entry["path"]: entry["rows"] for entry in manifest["files"]}
    assert all(added[path] >= rows for path, (rows, _) in VERSION_1_0_0_FILES.items())
    assert added["center_a/treatment_lines.csv"] > 551 and added["center_c/lines.csv"] == 247


def test_the_companion_population_only_appends_rows(tmp_path, monkeypatch, hard_dir):
    """A run without the companion population (the generator as it was)
    writes, file by file, exactly the first rows of the full run: same
    patients, keys, administrations, supportive drugs, dirty rows and row
    ids, in four centers with the hard line histories too."""
    import rwe_synth.model as model

    monkeypatch.setattr(model, "simulate_companion_population",
                        lambda n, centers, seed, params, reference, arms=None: reference.iloc[0:0])
    without = tmp_path / "without"
    generate(FOUR["n_patients"], FOUR["n_centers"], FOUR["seed"], without,
             line_history="hard")
    for relative in _files(without):
        if relative.suffix != ".csv" or relative.parts[0] == "truth":
            continue
        before = _bytes(without, relative)
        after = _bytes(hard_dir, relative)
        assert after.startswith(before), relative
        assert (after != before) == (relative.parts[0] in ("center_a", "center_b")), relative
    old, new = read_manifest(without), read_manifest(hard_dir)
    assert old["dirty_rows"] == new["dirty_rows"]
    assert old["cohort"] == new["cohort"] and old["measured"] == new["measured"]
    assert {e["patient_key"] for e in old["excluded_patients"]} < {
        e["patient_key"] for e in new["excluded_patients"]}


def test_the_companion_cohort_is_118_93_and_disjoint_from_the_reference_cohort(
        embedded_truth, embedded_companion, manifest):
    counts = embedded_companion["arm"].value_counts().to_dict()
    assert counts == COMPANION_TARGETS["arm_sizes"]["value"] == {"ICI": 118, "non-ICI": 93}
    assert companion_sizes(496, PARAMS) == (118, 93)
    cohort = manifest["companion"]["cohort"]
    assert cohort["eligible_patients"] == 211
    assert cohort["per_arm"] == counts
    assert cohort["in_reference_cohort"] == 0
    reference = set(zip(embedded_truth["center_id"], embedded_truth["patient_key"], strict=True))
    companion = set(zip(embedded_companion["center_id"], embedded_companion["patient_key"],
                        strict=True))
    assert not reference & companion
    assert set(embedded_companion["center_id"]) == COMPANION_STUDY["centers"]
    start = embedded_companion["second_line_start_date"].dt.date
    assert start.between(*COMPANION_WINDOW).all()
    assert embedded_companion["had_first_line_ici"].all()
    # the few reference-population members are its extras with a 2024 second
    # line (before the reference study's cut-off, so their records end there)
    members = embedded_companion.loc[embedded_companion["population"] == "reference"]
    assert cohort["per_population"] == {"companion": 211 - len(members),
                                        "reference": len(members)}
    assert (members["second_line_start_date"].dt.date <= CUTOFF).all()
    assert (members["os_months"] <= (CUTOFF - COMPANION_WINDOW[0]).days / MONTH).all()
    # sizes scale with N; exact whenever the reference population does not
    # already hold more of them
    for n_patients, n_centers in ((133, 3), (1000, 2), (300, 4)):
        truth = companion_truth_frame(n_patients, n_centers, 5)
        n_ici, n_non = companion_sizes(n_patients, PARAMS)
        assert truth["arm"].value_counts().to_dict() == {"ICI": n_ici, "non-ICI": n_non}
    only_a = companion_truth_frame(200, 1, 3)
    assert set(only_a["center_id"]) == {"center_a"} and len(only_a) == round(200 * 211 / 496)


def test_companion_cohort_derived_from_the_files_equals_its_truth_frame(
        exports, manifest, seeds, embedded_companion):
    """The companion's rule (centers a and b, first line platinum + etoposide +
    an ICI, second line in its window, outcomes to its cut-off) applied to
    the files by the independent reader gives the companion truth frame."""
    tables = _without_dirty(exports, manifest)
    derived = pd.concat([
        _line_level(tables[("center_a", "treatment_lines")], "center_a", seeds,
                    COMPANION_STUDY),
        _center_b(tables, seeds, COMPANION_STUDY),
    ], ignore_index=True)
    assert len(derived) == 211
    assert derived["is_ici"].sum() == 118
    _assert_same_cohort(derived, embedded_companion)
    # the companion population's extra patients, each failing one rule
    excluded = pd.DataFrame(manifest["companion"]["excluded_patients"])
    assert set(excluded["reason"]) == {"no_second_line", "first_line_without_ici",
                                       "first_line_not_platinum_etoposide",
                                       "second_line_outside_study_window"}
    assert (excluded.groupby("reason")["center_id"].nunique() == 2).all()
    assert not set(excluded["patient_key"]) & set(derived["patient_key"])


@pytest.mark.parametrize("size", ["n_211", "n_8508"])
def test_companion_medians_orr_and_dcr_are_near_its_abstract(size, embedded_companion,
                                                            large_companion):
    truth = embedded_companion if size == "n_211" else large_companion
    for arm, group in truth.groupby("arm"):
        checks = {
            "median_pfs_months": _km_median(group, "pfs_months", "is_pfs_event"),
            "median_os_months": _km_median(group, "os_months", "is_os_event"),
            "objective_response_rate": group["is_objective_response"].mean(),
            "disease_control_rate": group["is_disease_control"].mean(),
        }
        for name, value in checks.items():
            tolerance = COMPANION_TARGETS[name]["tolerance"][size].get(arm)
            if tolerance is None:  # the continuation arm's OS median is not a target
                continue
            target = COMPANION_TARGETS[name]["value"][arm]
            assert abs(value - target) <= tolerance, (size, arm, name, value, target)


def test_companion_os_log_rank_statistic_is_the_abstracts_at_its_size(large_companion):
    """OS is calibrated to the abstract's log-rank P (0.016 at 211 patients):
    at 8,508 patients the statistic scaled to 211 has SD about 0.16."""
    from lifelines.statistics import logrank_test

    ici = large_companion["is_ici"]
    test = logrank_test(large_companion.loc[ici, "os_months"],
                        large_companion.loc[~ici, "os_months"],
                        large_companion.loc[ici, "is_os_event"],
                        large_companion.loc[~ici, "is_os_event"])
    scaled = math.sqrt(test.test_statistic * 211 / len(large_companion))
    target = float(norm.isf(COMPANION_TARGETS["os_log_rank_p"]["value"] / 2))
    assert abs(scaled - target) < 4 * math.sqrt(211 / len(large_companion)), (scaled, target)


def test_companion_true_log_hazard_ratios_are_recovered_by_cox(large_companion):
    """The companion population's PFS is Weibull PH in its own parameters:
    Cox (Efron) on its eligible patients recovers each true log-HR within
    4 SE (had_first_line_ici is constant there and has no effect)."""
    from rwe_synth.parameters import COMPANION_MODEL_TERMS

    terms = list(COMPANION_MODEL_TERMS)
    cohort = large_companion.loc[large_companion["population"] == "companion"]
    data = cohort[terms + ["pfs_months", "is_pfs_event"]].astype(float)
    fitted = CoxPHFitter().fit(data, "pfs_months", "is_pfs_event")
    for term in terms:
        true = COMPANION.pfs.log_hr[term]
        assert abs(fitted.params_[term] - true) < 4 * fitted.standard_errors_[term], (
            term, fitted.params_[term], true)
    x = np.column_stack([np.ones(len(cohort))] + [
        cohort[t].astype(float) - (60 if t == "age_years" else 0) for t in COMPANION.assignment])
    beta, se = _logistic_fit(x, cohort["is_ici"].astype(float).to_numpy())
    for index, term in enumerate(COMPANION.assignment, start=1):
        assert abs(beta[index] - COMPANION.assignment[term]) < 4 * se[index], (term, beta[index])


def test_companion_post_progression_log_hazard_ratios_are_recovered_by_cox(large_companion):
    """OS is PFS plus a Weibull PH survival after progression with its own
    log-HRs (continuation: +0.13, calibrated to the abstract's OS P): Cox
    (Efron) on the latent post-progression times of the companion
    population's progressors recovers each within 4 SE, and the continuation
    effect has its stated sign and size (PFS HR 0.52, post-progression HR 1.14)."""
    from rwe_synth.parameters import COMPANION_MODEL_TERMS

    terms = list(COMPANION_MODEL_TERMS)
    cohort = large_companion.loc[large_companion["population"] == "companion"]
    after = cohort["latent_os_months"] - cohort["latent_pfs_months"]
    progressors = cohort.loc[after > 0].assign(after_months=after[after > 0], is_death=1.0)
    data = progressors[terms + ["after_months", "is_death"]].astype(float)
    fitted = CoxPHFitter().fit(data, "after_months", "is_death")
    true = COMPANION.post_progression.log_hr
    for term in terms:
        assert abs(fitted.params_[term] - true[term]) < 4 * fitted.standard_errors_[term], (
            term, fitted.params_[term], true[term])
    assert COMPANION.pfs.log_hr["is_ici"] < -0.5 and 0 < true["is_ici"] < 0.3


def test_docs_companion_table_is_the_embedded_registrys(embedded_companion):
    """docs/generator.md's table "companion cohort on the embedded data vs
    abstract" is what rwe_synth.companion_figures measures on the embedded
    registry (the warehouse's harmonised layer gives the same patients:
    test_warehouse_build)."""
    from rwe_synth.companion_figures import figures, markdown_table

    cohort = embedded_companion.assign(
        patient_id=embedded_companion["center_id"] + ":" + embedded_companion["patient_key"],
        tie_break_key=embedded_companion["center_id"] + ":" + embedded_companion["patient_key"])
    measured = figures(cohort)
    assert measured["patients"] == {"ICI": 118, "non-ICI": 93}
    assert measured["median_pfs_months"]["p"] < 0.001
    assert measured["median_pfs_months"]["ICI"] > measured["median_pfs_months"]["non-ICI"]
    assert markdown_table(measured) in (PROJECT_DIR / "docs" / "generator.md").read_text(
        encoding="utf-8")


def _center_d(tables, seeds) -> pd.DataFrame:
    """Eligible patients of center_d, read from its OMOP tables by the contract's
    rules: lines from drug_exposure and RECIST measurements, baseline ECOG the
    last ECOG measurement on or before the second-line start, metastatic sites
    and radiotherapy recorded before it, follow-up to the observation period's
    end (last contact or death)."""
    lines = derive_center_d_lines(tables, seeds)
    person = tables[("center_d", "person")].set_index("person_id")
    key_of = person["person_source_value"]
    sites = dict(zip(seeds["terminology__metastatic_sites"]["source_term"],
                     seeds["terminology__metastatic_sites"]["site"], strict=True))
    yes_no = dict(zip(seeds["terminology__yes_no_codes"]["source_term"],
                      seeds["terminology__yes_no_codes"]["is_yes"], strict=True))

    def by_key(table: str, date_column: str) -> dict[str, pd.DataFrame]:
        frame = tables[("center_d", table)]
        frame = frame.assign(patient_key=key_of.reindex(frame["person_id"]).to_numpy(),
                             day=[parse_date(d, "YYYY-MM-DD") for d in frame[date_column]])
        return dict(tuple(frame.groupby("patient_key")))

    measurements = by_key("measurement", "measurement_date")
    conditions = by_key("condition_occurrence", "condition_start_date")
    observations = by_key("observation", "observation_date")
    procedures = by_key("procedure_occurrence", "procedure_date")
    periods = by_key("observation_period", "observation_period_end_date")
    deaths = by_key("death", "death_date")
    empty = pd.DataFrame(columns=["day", "procedure_source_value"])
    rows = []
    for patient, group in lines.groupby("patient_key"):
        by_line = group.set_index("line_number")
        if 2 not in by_line.index or by_line.at[1, "progression"] is None:
            continue
        start = by_line.at[2, "start"]
        if not (WINDOW[0] <= start <= WINDOW[1]):
            continue
        base = person.loc[person["person_source_value"] == patient].iloc[0]
        ecog = measurements[patient]
        ecog = ecog.loc[(ecog["measurement_source_value"] == D_ECOG) & (ecog["day"] <= start)]
        site_set = {sites[code] for code, day in zip(
            conditions[patient]["condition_source_value"], conditions[patient]["day"],
            strict=True) if code in sites and day <= start}
        smoking = observations[patient]
        smoking = smoking.loc[smoking["observation_source_value"] == D_SMOKING,
                              "value_source_value"]
        done = procedures.get(patient, empty)
        done = set(done.loc[done["day"] < start, "procedure_source_value"])
        death = deaths[patient]["day"].iloc[0] if patient in deaths else None
        rows.append({
            "center_id": "center_d", "patient_key": patient, "second_line_start_date": start,
            "second_line_regimen": by_line.at[2, "regimen"], "is_ici": by_line.at[2, "is_ici"],
            "age_years": start.year - int(base["year_of_birth"]),
            "is_male": base["gender_source_value"] == "M",
            "is_ever_smoker": yes_no[smoking.iloc[0]] == "true",
            "ecog_ps": int(ecog.sort_values("day")["value_as_number"].iloc[-1]),
            "had_thoracic_radiotherapy": D_THORACIC_RT in done,
            "had_prophylactic_cranial_irradiation": D_PCI in done,
            "has_liver_metastases": "liver" in site_set,
            "has_brain_metastases": "brain" in site_set,
            "has_bone_metastases": "bone" in site_set, "metastatic_site_count": len(site_set),
            "had_first_line_ici": by_line.at[1, "is_ici"],
            "first_line_pfs_months": (by_line.at[1, "progression"]
                                      - by_line.at[1, "start"]).days / MONTH,
            "best_response": by_line.at[2, "best_response"],
            **_outcomes(start, by_line.at[2, "progression"], death, None,
                        periods[patient]["day"].iloc[0]),
        })
    return pd.DataFrame(rows)


def _assert_same_cohort(derived: pd.DataFrame, truth: pd.DataFrame) -> None:
    truth = truth.assign(second_line_start_date=truth["second_line_start_date"].dt.date)
    merged = truth.merge(derived, on=["center_id", "patient_key"], suffixes=("", "_files"),
                         validate="one_to_one")
    assert len(merged) == len(truth) == len(derived)
    for column in derived.columns.drop(["center_id", "patient_key"]):
        expected, got = merged[column], merged[f"{column}_files"]
        if column.endswith("_months"):
            assert np.allclose(expected.astype(float), got.astype(float)), column
        else:
            assert (expected.astype(str) == got.astype(str)).all(), column


@pytest.mark.parametrize("line_history", ["default", "hard"])
def test_center_d_cohort_read_from_the_omop_tables_equals_the_truth_frame(
        four_dir, hard_dir, four_truth, seeds, line_history):
    """center_d carries the whole contract: the cohort derived from its OMOP
    tables alone is the truth frame's center_d patients, in both line-history
    variants (the hard one keeps every second line's start, regimen and
    progression)."""
    directory = four_dir if line_history == "default" else hard_dir
    tables = _without_dirty(read_exports(directory, "csv"), read_manifest(directory))
    truth = four_truth.loc[four_truth["center_id"] == "center_d"]
    assert len(truth) > 30
    _assert_same_cohort(_center_d(tables, seeds), truth)
    if line_history == "default":
        _assert_same_cohort(_center_b(tables, seeds),
                            four_truth.loc[four_truth["center_id"] == "center_b"])


@pytest.mark.parametrize("run", ["one_block", "blocks"])
def test_center_d_omop_tables_follow_the_cdm(four_dir, blocks_dir, seeds, run):
    """Columns of OMOP CDM v5.4 in CDM order, required fields filled, unique
    primary keys, every person_id a person, AE grades linked to their AE's
    condition row, and every record inside its person's observation period
    (also when the files were written in blocks: ids continue across them)."""
    directory = four_dir if run == "one_block" else blocks_dir
    tables = _without_dirty(read_exports(directory, "csv"), read_manifest(directory))
    d = {table: frame for (center, table), frame in tables.items() if center == "center_d"}
    assert set(d) == set(OMOP_CDM_V54)
    persons = set(d["person"]["person_id"])
    assert d["person"]["person_source_value"].is_unique
    assert set(d["person"]["gender_concept_id"] + d["person"]["gender_source_value"]) <= {
        "8507M", "8532F"}
    for table, frame in d.items():
        assert list(frame.columns) == omop_columns(table), table
        for column in omop_required(table):
            assert (frame[column] != "").all(), (table, column)
        assert frame[OMOP_KEYS[table]].is_unique, table
        assert set(frame["person_id"]) <= persons, table
    period = d["observation_period"].set_index("person_id")
    assert set(period.index) == persons
    dated = [("drug_exposure", "drug_exposure_start_date"),
             ("drug_exposure", "drug_exposure_end_date"),
             ("condition_occurrence", "condition_start_date"),
             ("measurement", "measurement_date"), ("observation", "observation_date"),
             ("procedure_occurrence", "procedure_date"), ("death", "death_date")]
    for table, column in dated:
        frame = d[table]
        start = period.loc[frame["person_id"], "observation_period_start_date"].to_numpy()
        end = period.loc[frame["person_id"], "observation_period_end_date"].to_numpy()
        assert ((start <= frame[column].to_numpy()) & (frame[column].to_numpy() <= end)).all(), \
            (table, column)
    death = d["death"].set_index("person_id")["death_date"]
    assert (period.loc[death.index, "observation_period_end_date"] == death).all()
    # one drug concept per formulary name; an injection is given on one day
    exposure = d["drug_exposure"]
    assert (exposure.groupby("drug_source_value")["drug_concept_id"].nunique() == 1).all()
    injection = exposure["route_source_value"] != "PO"
    assert (exposure.loc[injection, "drug_exposure_start_date"]
            == exposure.loc[injection, "drug_exposure_end_date"]).all()
    oral = exposure.loc[~injection]
    assert len(oral) > 0
    assert all((date.fromisoformat(e) - date.fromisoformat(b)).days + 1 == int(n) for b, e, n in
               zip(oral["drug_exposure_start_date"], oral["drug_exposure_end_date"],
                   oral["days_supply"], strict=True))
    # each AE condition has exactly one CTCAE grade, linked to it
    ae_terms = set(seeds["terminology__adverse_event_terms"]["source_term"])
    conditions = d["condition_occurrence"].set_index("condition_occurrence_id")
    grades = d["observation"].loc[d["observation"]["observation_source_value"] == D_GRADE]
    assert (grades["obs_event_field_concept_id"] == "1147127").all()
    linked = conditions.loc[grades["observation_event_id"]]
    assert (linked["person_id"].to_numpy() == grades["person_id"].to_numpy()).all()
    assert (linked["condition_start_date"].to_numpy()
            == grades["observation_date"].to_numpy()).all()
    assert linked["condition_source_value"].isin(ae_terms).all()
    adverse = conditions.loc[conditions["condition_source_value"].isin(ae_terms)]
    assert sorted(adverse.index) == sorted(grades["observation_event_id"])


# ---------------------------------------------------------------------------
# true lines (<out>_truth/true_lines) and the hard line histories
# ---------------------------------------------------------------------------


def _line_defining_administrations(tables, seeds) -> pd.DataFrame:
    """center_b's and center_d's clean administrations: center_id,
    patient_key, first and last day covered, generic name, drug class."""
    drugs = _drug_lookup(seeds)
    b = tables[("center_b", "drug_administrations")]
    days_b = [parse_date(d, "DD/MM/YYYY") for d in b["admin_date"]]
    person = tables[("center_d", "person")].set_index("person_id")["person_source_value"]
    e = tables[("center_d", "drug_exposure")]
    frame = pd.DataFrame({
        "center_id": ["center_b"] * len(b) + ["center_d"] * len(e),
        "patient_key": list(b["patient_key"]) + list(person.reindex(e["person_id"])),
        "first": days_b + [parse_date(d, "YYYY-MM-DD") for d in e["drug_exposure_start_date"]],
        "last": days_b + [parse_date(d, "YYYY-MM-DD") for d in e["drug_exposure_end_date"]],
        "name": list(b["drug_name"]) + list(e["drug_source_value"])})
    frame["generic"] = [drugs[n.lower()][0] for n in frame["name"]]
    frame["drug_class"] = [drugs[n.lower()][2] for n in frame["name"]]
    return frame.loc[frame["drug_class"] != "supportive"].reset_index(drop=True)


@pytest.mark.parametrize("line_history", ["default", "hard", "hard_in_blocks"])
def test_true_lines_cut_the_administrations_exactly(four_dir, hard_dir, blocks_hard_dir, seeds,
                                                    line_history):
    """Every line-defining administration (supportive drugs never define a
    line) lies inside exactly one true line of its patient; a line starts on
    its first and ends on its last administration, and its regimen is the
    drugs given in it; lines are numbered 1..k in time and do not overlap."""
    directory = {"default": four_dir, "hard": hard_dir,
                 "hard_in_blocks": blocks_hard_dir}[line_history]
    tables = _without_dirty(read_exports(directory, "csv"), read_manifest(directory))
    admin = _line_defining_administrations(tables, seeds)
    truth = read_true_lines(directory)
    assert list(truth.columns) == ["center_id", "patient_key", "line_number", "start_date",
                                   "end_date", "regimen", "features"]
    truth = truth.assign(start=[date.fromisoformat(d) for d in truth["start_date"]],
                         end=[date.fromisoformat(d) for d in truth["end_date"]],
                         line_number=truth["line_number"].astype(int))
    assert set(truth["center_id"]) == {"center_b", "center_d"}
    pairs = admin.reset_index().merge(truth, on=["center_id", "patient_key"])
    inside = pairs.loc[(pairs["start"] <= pairs["first"]) & (pairs["last"] <= pairs["end"])]
    assert inside["index"].is_unique and set(inside["index"]) == set(admin.index)
    for (_, key, number), group in inside.groupby(["center_id", "patient_key",
                                                   "line_number"]):
        line = group.iloc[0]
        assert line["start"] == group["first"].min() and line["end"] == group["last"].max()
        assert line["regimen"] == " + ".join(sorted(set(group["generic"]))), (key, number)
    lines_used = inside[["center_id", "patient_key", "line_number"]].drop_duplicates()
    assert len(lines_used) == len(truth)  # no true line without an administration
    # no gap inside a line reaches 120 days (a gap rule would end the line there)
    days = inside[["center_id", "patient_key", "line_number", "first"]].drop_duplicates()
    days = days.sort_values(["center_id", "patient_key", "line_number", "first"])
    gaps = days.groupby(["center_id", "patient_key", "line_number"])["first"].diff().dropna()
    assert gaps.map(lambda gap: gap.days).max() < PARAMS.hard_line_history.max_gap_within_line_days
    for _, group in truth.groupby(["center_id", "patient_key"]):
        group = group.sort_values("line_number")
        assert group["line_number"].tolist() == list(range(1, len(group) + 1))
        assert (group["start"].iloc[1:].to_numpy() > group["end"].iloc[:-1].to_numpy()).all()
    # features: what the hard variant adds, and what is true of the lines themselves
    features = truth["features"].str.split(";").explode()
    default_features = {"maintenance", "rechallenge"}
    added = {"drug_added_day_15", "drug_holiday", "skipped_dose"}
    if line_history == "default":
        assert set(features) - {""} == default_features
    else:
        assert set(features) - {""} == default_features | added
    cytotoxic = {"platinum", "etoposide", "topoisomerase_inhibitor", "taxane"}
    for (center, key), group in truth.sort_values("line_number").groupby(
            ["center_id", "patient_key"]):
        given = inside.loc[(inside["center_id"] == center) & (inside["patient_key"] == key)]
        earlier: set[str] = set()
        for line in group.itertuples():
            drugs = set(line.regimen.split(" + "))
            assert ("rechallenge" in line.features) == (line.line_number > 1
                                                        and drugs <= earlier), (key, line)
            earlier |= drugs
            rows = given.loc[given["line_number"] == line.line_number]
            chemo = rows["drug_class"].isin(cytotoxic)
            maintenance = chemo.any() and (~chemo).any() and (
                rows.loc[~chemo, "last"].max() > rows.loc[chemo, "last"].max())
            assert ("maintenance" in line.features) == maintenance, (key, line)


def _agreement(derived: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """Per patient: derived lines equal the true lines (count, starts, regimens)."""
    def lines_of(frame, start_column):
        return {key: [(str(row[start_column]), row["regimen"]) for _, row in
                      group.sort_values("line_number").iterrows()]
                for key, group in frame.groupby("patient_key")}

    got, expected = lines_of(derived, "start"), lines_of(truth, "start_date")
    assert set(got) == set(expected)
    return pd.Series({key: got[key] == expected[key] for key in expected})


def test_the_documented_rule_recovers_every_true_line_only_in_the_default_variant(
        four_dir, hard_dir, seeds, four_truth):
    """The default histories keep lines recoverable by the documented rule
    (new drug after a progression, or a gap over 120 days): the independent
    implementation above finds exactly the true lines of every center_b and
    center_d patient. The hard variant defeats it for some patients (a
    re-challenge within 120 days), while every second line's start and
    regimen stay those of the truth frame."""
    for directory, everyone in ((four_dir, True), (hard_dir, False)):
        tables = _without_dirty(read_exports(directory, "csv"), read_manifest(directory))
        truth = read_true_lines(directory).assign(
            line_number=lambda t: t["line_number"].astype(int))
        derived = {"center_b": derive_center_b_lines(
            tables[("center_b", "drug_administrations")], tables[("center_b", "assessments")],
            _drug_lookup(seeds)), "center_d": derive_center_d_lines(tables, seeds)}
        for center, lines in derived.items():
            agree = _agreement(lines, truth.loc[truth["center_id"] == center])
            assert agree.all() if everyone else not agree.all(), (center, directory)
            second = truth.loc[(truth["center_id"] == center) & (truth["line_number"] == 2)]
            second = second.set_index("patient_key")
            cohort = four_truth.loc[four_truth["center_id"] == center].set_index("patient_key")
            assert (second.loc[cohort.index, "start_date"]
                    == cohort["second_line_start_date"].dt.strftime("%Y-%m-%d")).all()
            assert (second.loc[cohort.index, "regimen"] == cohort["second_line_regimen"]).all()


def test_regimens_keep_lines_recoverable_by_the_gap_rule(large_truth):
    """A 2L regimen with no drug new to the patient (platinum-etoposide
    rechallenge, or the first-line ICI alone) needs a > 120-day gap since the
    last first-line administration; 1L ICIs are atezolizumab or durvalumab;
    each 2L ICI regimen holds exactly one of the listed ICIs."""
    from rwe_synth.model import simulate_patients
    from rwe_synth.vocabulary import DRUG_INDEX

    everyone = simulate_patients(5_000, 3, 99)
    patients = everyone.loc[everyone["population"] == 0]
    rechallenge = patients.loc[patients["is_rechallenge"]]
    assert len(rechallenge) > 50
    assert (rechallenge["first_line_gap_days"] > 120).all()
    continuation = patients.loc[patients["is_ici"]
                                & (patients["second_line_drug_1"]
                                   == patients["first_line_ici_drug"])
                                & (patients["second_line_drug_2"] < 0)]
    assert (continuation["first_line_gap_days"] > 120).all()
    first_line_icis = set(patients["first_line_ici_drug"]) - {-1}
    assert first_line_icis == {DRUG_INDEX["atezolizumab"], DRUG_INDEX["durvalumab"]}
    regimens = large_truth.loc[large_truth["is_ici"], "second_line_regimen"].str.split(
        " + ", regex=False)
    icis = {"atezolizumab", "durvalumab", "serplulimab", "adebrelimab", "tislelizumab",
            "toripalimab", "sintilimab", "camrelizumab", "pembrolizumab", "nivolumab"}
    assert regimens.map(lambda drugs: len(set(drugs) & icis) == 1).all()
    assert not large_truth.loc[~large_truth["is_ici"], "second_line_regimen"].str.contains(
        "|".join(icis)).any()
    # the companion population: first-line ICIs of its own list, no rechallenge,
    # and every second line gives a drug the first line did not
    added = everyone.loc[everyone["population"] == 1]
    assert len(added) > 2_000
    assert set(added["first_line_ici_drug"]) - {-1} == {
        DRUG_INDEX[name] for name in COMPANION.first_line_ici}
    assert not added["is_rechallenge"].any()
    first = added[["first_line_platinum", "first_line_backbone_drug", "first_line_ici_drug"]]
    second = added[["second_line_drug_1", "second_line_drug_2", "second_line_drug_3"]]
    new_drug = [bool(set(b) - {-1} - set(a)) for a, b in zip(first.to_numpy(), second.to_numpy(),
                                                              strict=True)]
    assert all(new_drug)
    continuation = added.loc[added["is_ici"] & (added["companion_status"] == "eligible")]
    same = (continuation["second_line_drug_1"] == continuation["first_line_ici_drug"]).mean()
    # the first-line ICI goes on, or another drawn ICI happens to be the same one
    switch = PARAMS.treatment.second_line_ici
    by_chance = sum(share * switch[name] / sum(switch.values())
                    for name, share in COMPANION.first_line_ici.items())
    keep = COMPANION.p_same_ici_in_continuation
    p = keep + (1 - keep) * by_chance
    assert abs(same - p) < 4 * math.sqrt(p * (1 - p) / len(continuation))


# ---------------------------------------------------------------------------
# calibration against the paper
# ---------------------------------------------------------------------------


def _km_median(group: pd.DataFrame, time: str, event: str) -> float:
    return float(KaplanMeierFitter().fit(group[time], group[event]).median_survival_time_)


@pytest.mark.parametrize("size", ["n_496", "n_20000"])
def test_medians_orr_and_dcr_are_near_the_paper(size, embedded_truth, large_truth):
    truth = embedded_truth if size == "n_496" else large_truth
    for arm, group in truth.groupby("arm"):
        checks = {
            "median_pfs_months": _km_median(group, "pfs_months", "is_pfs_event"),
            "objective_response_rate": group["is_objective_response"].mean(),
            "disease_control_rate": group["is_disease_control"].mean(),
        }
        for name, value in checks.items():
            target = TARGETS[name]["value"][arm]
            tolerance = TARGETS[name]["tolerance"][size][arm]
            assert abs(value - target) <= tolerance, (size, arm, name, value, target)


def test_exactly_one_grade_3_rash_in_the_ici_arm_at_the_embedded_size(
        exports, manifest, seeds, embedded_truth):
    tables = _without_dirty(exports, manifest)
    ici = set(embedded_truth.loc[embedded_truth["is_ici"], "patient_key"])
    a = tables[("center_a", "adverse_events")]
    c = tables[("center_c", "adverse_events")]
    count = (a["mrn"].isin(ici) & (a["line_no"] == "2") & (a["ae_term"] == "Rash maculo-papular")
             & (a["ctcae_grade"] == "3")).sum()
    count += (c["case_no"].isin(ici) & (c["line_number"] == "2L") & (c["ae_name"] == "皮疹")
              & (c["grade"] == "III")).sum()
    lines = derive_center_b_lines(tables[("center_b", "drug_administrations")],
                                  tables[("center_b", "assessments")], _drug_lookup(seeds))
    b = tables[("center_b", "adverse_events")]
    b = b.loc[b["patient_key"].isin(ici) & (b["ae_description"] == "rash") & (b["grade"] == "G3")]
    for row in b.itertuples():
        day = parse_date(row.ae_date, "DD/MM/YYYY")
        patient_lines = lines.loc[lines["patient_key"] == row.patient_key].set_index(
            "line_number")
        after_start = day >= patient_lines.at[2, "start"]
        before_next = 3 not in patient_lines.index or day < patient_lines.at[3, "start"]
        count += int(after_start and before_next)
    assert count == 1
    grades = pd.concat([a.loc[a["mrn"].isin(ici) & (a["line_no"] == "2"), "ctcae_grade"],
                        c.loc[c["case_no"].isin(ici) & (c["line_number"] == "2L"), "grade"]])
    assert grades.isin(["1", "2", "I", "II"]).mean() > 0.95  # mostly grade 1-2


def test_true_pfs_log_hazard_ratios_are_recovered_by_cox(large_truth):
    """At 20,000 patients the Cox model (Efron ties) on the truth frame is
    correctly specified (Weibull PH, censoring independent), so each estimate
    must lie within 4 standard errors of the true log-HR (a false alarm has
    probability about 1e-4 per term)."""
    data = large_truth[COX_TERMS + ["pfs_months", "is_pfs_event"]].astype(float)
    fitted = CoxPHFitter().fit(data, "pfs_months", "is_pfs_event")
    for term in COX_TERMS:
        true = PARAMS.pfs.log_hr[term]
        estimate = fitted.params_[term]
        se = fitted.standard_errors_[term]
        assert abs(estimate - true) < 4 * se, (term, estimate, true, se)
    # confounding: the unadjusted ICI estimate differs from the adjusted one
    crude = CoxPHFitter().fit(data[["is_ici", "pfs_months", "is_pfs_event"]], "pfs_months",
                              "is_pfs_event")
    assert crude.params_["is_ici"] < fitted.params_["is_ici"] - 0.01


def _logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised logistic regression by Newton-Raphson: (coef, SE)."""
    beta = np.zeros(x.shape[1])
    for _ in range(25):
        p = expit(x @ beta)
        hessian = x.T @ (x * (p * (1 - p))[:, None])
        beta = beta + np.linalg.solve(hessian, x.T @ (y - p))
    p = expit(x @ beta)
    covariance = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    return beta, np.sqrt(np.diag(covariance))


def test_treatment_assignment_follows_the_stated_logistic_model(large_truth):
    coefficients = PARAMS.assignment.coefficients
    start = pd.to_datetime(large_truth["second_line_start_date"])
    frame = large_truth.assign(
        years_since_window_start=(start - pd.Timestamp(WINDOW[0])).dt.days / 365.25,
        age_years=large_truth["age_years"] - 60)
    terms = list(coefficients)
    x = np.column_stack([np.ones(len(frame))] + [frame[t].astype(float) for t in terms])
    beta, se = _logistic_fit(x, frame["is_ici"].astype(float).to_numpy())
    for index, term in enumerate(terms, start=1):
        assert abs(beta[index] - coefficients[term]) < 4 * se[index], (term, beta[index])
    # so the arms differ at baseline (standardised differences of the main confounders)
    for term in ("is_ecog_2_or_more", "has_liver_metastases"):
        by_arm = frame.groupby("is_ici")[term].mean()
        pooled = math.sqrt((by_arm * (1 - by_arm)).mean())
        assert abs(by_arm[True] - by_arm[False]) / pooled > 0.1


def test_baseline_prevalences_match_the_stated_covariate_model(large_truth):
    cov = PARAMS.covariates
    n = len(large_truth)

    def close(observed: float, expected: float) -> bool:
        return abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / n)

    # logit-normal site prevalence by Gauss-Hermite quadrature
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()

    def site(p: float) -> float:
        return float(np.sum(weights * expit(np.log(p / (1 - p)) + cov.site_burden_sd * nodes)))

    p_smoker = cov.p_male * cov.p_ever_smoker_male + (1 - cov.p_male) * cov.p_ever_smoker_female
    expected = {
        "is_male": cov.p_male,
        "is_ever_smoker": p_smoker,
        "is_ecog_2_or_more": sum(cov.ecog_probabilities[2:]),
        "has_liver_metastases": site(cov.site_prevalence["liver"]),
        "has_brain_metastases": site(cov.site_prevalence["brain"]),
        "has_bone_metastases": site(cov.site_prevalence["bone"]),
        "had_thoracic_radiotherapy": cov.p_thoracic_radiotherapy,
    }
    for column, value in expected.items():
        assert close(large_truth[column].mean(), value), (column, large_truth[column].mean())
    # first-line PFS: log-normal (clipped far from the median), median by 1L regimen
    for ici, median in ((False, cov.first_line_pfs_median_months_chemo),
                        (True, cov.first_line_pfs_median_months_chemo_ici)):
        values = large_truth.loc[large_truth["had_first_line_ici"] == ici,
                                 "first_line_pfs_months"]
        assert abs(float((values < median).mean()) - 0.5) < 4 * math.sqrt(0.25 / len(values))
    age = large_truth["age_years"]
    assert abs(age.mean() - cov.age_mean_years) < 4 * cov.age_sd_years / math.sqrt(n)


# ---------------------------------------------------------------------------
# large cohorts: blocks (--chunk-patients, docs/generator.md)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_cohort_of_one_block_is_written_byte_for_byte_as_without_blocks(
        tmp_path, four_dir, file_format):
    """--chunk-patients equal to --patients is one block: every file, the
    manifest and the true lines are the bytes of a run without the option;
    one patient fewer per block makes two blocks and other files."""
    plain = four_dir
    if file_format == "parquet":
        plain = tmp_path / "plain"
        generate(**FOUR, out_dir=plain, file_format=file_format)
    one, two = tmp_path / "one", tmp_path / "two"
    generate(**FOUR, out_dir=one, file_format=file_format, chunk_patients=FOUR["n_patients"])
    generate(**FOUR, out_dir=two, file_format=file_format,
             chunk_patients=FOUR["n_patients"] - 1)
    files = _files(plain)
    assert len(files) == 18  # 16 exports, manifest.json, truth/true_lines
    assert _files(one) == files
    for relative in files:
        assert _bytes(one, relative) == _bytes(plain, relative), relative
    assert read_manifest(two)["generator"]["args"]["chunk_patients"] == FOUR["n_patients"] - 1
    assert _bytes(two, Path("center_b") / f"drug_administrations.{file_format}") != _bytes(
        plain, Path("center_b") / f"drug_administrations.{file_format}")


def test_blocks_append_whole_files_with_row_ids_and_counts_that_add_up(blocks_dir, four_dir):
    """Each table is one file of every block's rows: the manifest's row
    counts are the files' rows, the row ids run 1..n down the file, each
    patient is in one block (patient keys unique), and every OMOP primary
    key is unique except on the rows listed as exact duplicates."""
    manifest = read_manifest(blocks_dir)
    assert manifest["generator"]["args"]["chunk_patients"] == BLOCK
    assert "--chunk-patients 60" in manifest["generator"]["command"]
    exports = read_exports(blocks_dir, "csv")
    assert {f"{center}/{table}.csv" for center, table in exports} == {
        entry["path"] for entry in manifest["files"]}
    for entry in manifest["files"]:
        center, table = entry["path"].removesuffix(".csv").split("/")
        assert entry["rows"] == len(exports[(center, table)]) == \
            manifest["row_counts"][center][table]
    for (center, table), column in ROW_IDS.items():
        assert exports[(center, table)][column].tolist() == [
            str(i) for i in range(1, len(exports[(center, table)]) + 1)], (center, table)
    duplicates: dict[tuple[str, str], set[int]] = {}
    for entry in manifest["dirty_rows"]:
        if entry["reason"] == "duplicate_row":
            duplicates.setdefault((entry["center_id"], entry["table"]), set()).add(
                entry["source_row_number"])
    for table, key in OMOP_KEYS.items():
        frame = exports[("center_d", table)]
        copies = duplicates.get(("center_d", table), set())
        kept = frame.loc[[n not in copies for n in range(1, len(frame) + 1)], key]
        assert kept.is_unique and (kept != "").all(), table
    clean = _without_dirty(exports, manifest)
    # rows of unknown patients: each block takes its own unused keys
    for center, table, key in [("center_b", "patients", "patient_key"),
                               ("center_d", "person", "person_source_value")]:
        assert clean[(center, table)][key].is_unique
        unknown = [exports[(center, table)][key].iloc[entry["source_row_number"] - 1]
                   for entry in manifest["dirty_rows"]
                   if (entry["center_id"], entry["table"], entry["reason"])
                   == (center, table, "unknown_code")]
        assert len(unknown) >= 3  # up to one per block
        assert len(set(unknown)) == len(unknown)
        assert not set(unknown) & set(clean[(center, table)][key])
    # more dirty rows than one block writes: each block adds at least the minimum per recipe
    one_block = read_manifest(four_dir)
    assert len(manifest["dirty_rows"]) > len(one_block["dirty_rows"])


def _check_character(body: str) -> str:
    """ISO 7064 MOD 11-2 check character of a national ID's 17 digits."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def test_blocks_simulate_their_own_patients_and_add_up_to_the_cohort(
        blocks_dir, four_dir, seeds):
    """Each block is a cohort of its own (its patients drawn from the
    block's seed), so the patients differ from the one-block run's; the
    cohort read back from all four centers' files is the truth frame of the
    same blocks; the arms and the companion arms have exactly the sizes of
    the whole cohort; keys and national IDs stay unique over the blocks and
    the national IDs' check characters valid; the manifest's figures, added
    up over the blocks, are those of the blocks' truth frames."""
    n = FOUR["n_patients"]
    manifest = read_manifest(blocks_dir)
    blocked = _without_dirty(read_exports(blocks_dir, "csv"), manifest)
    one = _without_dirty(read_exports(four_dir, "csv"), read_manifest(four_dir))
    assert not blocked[("center_b", "patients")]["patient_key"].isin(
        one[("center_b", "patients")]["patient_key"]).all()
    truth = truth_frame(**FOUR, chunk_patients=BLOCK)
    assert len(truth) == n and truth["patient_index"].is_unique
    assert not truth["age_years"].equals(truth_frame(**FOUR)["age_years"])
    derived = pd.concat([
        _line_level(blocked[("center_a", "treatment_lines")], "center_a", seeds),
        _center_b(blocked, seeds),
        _line_level(blocked[("center_c", "lines")], "center_c", seeds),
        _center_d(blocked, seeds),
    ], ignore_index=True)
    _assert_same_cohort(derived, truth)

    n_ici = arm_sizes(n)[0]
    assert int(truth["is_ici"].sum()) == n_ici
    assert manifest["cohort"]["per_arm"] == {"ICI": n_ici, "non-ICI": n - n_ici}
    assert manifest["cohort"]["per_center_per_arm"] == {
        center: group["arm"].value_counts().sort_index().to_dict()
        for center, group in truth.groupby("center_id")}
    measured = dict(manifest["measured"])
    measured.pop("grade_3_rash_ici")
    assert measured == measured_summary(truth)
    assert len(manifest["truth"]["assignment_intercept_realised"]) == 4  # one per block
    companion = companion_truth_frame(**FOUR, chunk_patients=BLOCK)
    assert (int(companion["is_ici"].sum()), int((~companion["is_ici"]).sum())) == \
        companion_sizes(n, PARAMS)
    assert manifest["companion"]["measured"] == measured_summary(companion)
    excluded = pd.DataFrame(manifest["excluded_patients"])
    assert excluded.equals(excluded.sort_values(["center_id", "patient_key"]))
    assert not excluded.duplicated(["center_id", "patient_key"]).any()

    for (center, table), (key, column) in {
            ("center_a", "treatment_lines"): ("mrn", "id_card_no"),
            ("center_b", "patients"): ("patient_key", "national_id"),
            ("center_c", "lines"): ("case_no", "id_number")}.items():
        ids = blocked[(center, table)].drop_duplicates(key)[column]
        assert ids.is_unique, center
        assert all(value[17] == _check_character(value[:17]) for value in ids), center
    for center, table, key in [("center_a", "treatment_lines", "mrn"),
                               ("center_b", "patients", "patient_key"),
                               ("center_c", "lines", "case_no"),
                               ("center_d", "person", "person_source_value")]:
        keys = blocked[(center, table)][key].drop_duplicates()
        # one width in all blocks
        assert keys.str.len().nunique() == 1, center
    assert blocked[("center_d", "person")]["person_id"].is_unique


def test_each_block_draws_its_histories_from_its_own_seed(blocks_dir):
    """center_d's diagnosis is drawn 8-28 days before the first
    administration, one draw per person in file order: blocks sharing a seed
    would repeat the first block's draws person for person."""
    exports = read_exports(blocks_dir, "csv")
    tables = _without_dirty(exports, read_manifest(blocks_dir))
    person = tables[("center_d", "person")]["person_id"]
    first_dose = tables[("center_d", "drug_exposure")].groupby("person_id")[
        "drug_exposure_start_date"].min()
    period = tables[("center_d", "observation_period")].set_index("person_id")[
        "observation_period_start_date"]
    lead = np.asarray([(date.fromisoformat(first_dose[p]) - date.fromisoformat(period[p])).days
                       for p in person])
    low, high = PARAMS.fourth_center.diagnosis_before_first_line_days
    assert ((low <= lead) & (lead <= high)).all()
    parts = np.array_split(lead, FOUR["n_patients"] // BLOCK + 1)  # the blocks' persons
    size = min(len(part) for part in parts)
    assert size > 10
    assert len({tuple(part[:size]) for part in parts}) == len(parts)


def test_cli_rejects_a_block_of_no_patients(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--patients", "10", "--centers", "1", "--seed", "1", "--out", str(tmp_path),
              "--chunk-patients", "0"])
    assert stopped.value.code == 2
    assert "--chunk-patients must be a positive integer, got 0" in capsys.readouterr().err

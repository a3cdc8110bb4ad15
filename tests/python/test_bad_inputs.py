"""Bad-input suite: broken and hostile raw exports (docs/bad-inputs.md).

Row-level defects are all injected into ONE copy of the embedded data, by
appending rows (mostly for new, never-eligible patients) or by editing rows in
ways that must be accepted. That copy and a clean copy are built once each; a
test per defect then checks the outcome of exactly the row it broke
(quarantined with reason and failing column, excluded with reason, or
published), and suite-wide tests check that nothing else moved: the cohort and
the adverse-event table equal the clean build's, every original raw row keeps
its clean outcome, and row_accounting balances against the broken files.

File-level defects each get their own raw copy and a build of the staging
layer. A defect that makes an export unreadable must stop the build in the
on-run-start gate with an error naming center, table and file (and the line or
column); a harmless variation must pass and read every row exactly as the
clean file.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bad_inputs.builds import (
    STAGING_BUILD,
    STUDY_BUILD,
    BuildPool,
    query,
    run_in_one_lane,
    tables_containing,
)
from bad_inputs.raw_exports import (
    PATIENT_KEY,
    RAW_DIR,
    RawExports,
    copy_raw,
    data_row_count,
    parse_csv,
    to_csv,
)

from dbt_harness import run_dbt
from rwe_synth import truth_frame

pytestmark = pytest.mark.slow

MANIFEST = json.loads((RAW_DIR / "manifest.json").read_text(encoding="utf-8"))
HUGE = "HUGE-TEXT-" + "x" * 100_000
SQL_TEXT = "'); drop table marts.analysis_cohort; --"
FORMULA_HYPERLINK = '=HYPERLINK("http://example.invalid/x","click me")'
FORMULA_CMD = "+cmd|' /C calc'!A0"


# ============================================================================
# Injecting row-level defects
# ============================================================================

class Injector:
    """Edits a RawExports copy. Knows the eligible patients (from the
    generator's truth, not from a build) and keeps clear of every patient the
    generator already wrote a dirty row for, so an injected defect never meets
    another one."""

    def __init__(self, raw: RawExports) -> None:
        self.raw = raw
        arguments = MANIFEST["generator"]["args"]
        truth = truth_frame(arguments["patients"], arguments["centers"], arguments["seed"])
        self.truth = truth.set_index("patient_key")
        dirty_keys = set()
        for row in MANIFEST["dirty_rows"]:
            table = raw.table(row["center_id"], row["table"])
            key_column = PATIENT_KEY[(row["center_id"], row["table"])]
            dirty_keys.add((row["center_id"], table.get(row["source_row_number"], key_column)))
        self.eligible = {
            center: [key for key in group["patient_key"] if (center, key) not in dirty_keys]
            for center, group in truth.groupby("center_id", sort=True)
        }

    def eligible_key(self, center: str, patient: int) -> str:
        return self.eligible[center][patient]

    def eligible_row(self, center: str, table: str, patient: int = 0, **match: str) -> int:
        """First row of the n-th clean eligible patient of a center."""
        key = self.eligible_key(center, patient)
        rows = self.raw.table(center, table).find(**{PATIENT_KEY[(center, table)]: key}, **match)
        assert rows, (center, table, key, match)
        return rows[0]

    def get(self, center: str, table: str, row: int, column: str) -> str:
        return self.raw.table(center, table).get(row, column)

    def edit(self, center: str, table: str, row: int, **changes: str) -> int:
        for column, value in changes.items():
            self.raw.table(center, table).set(row, column, value)
        return row

    def copy(self, center: str, table: str, row: int, **changes: str) -> int:
        return self.raw.table(center, table).append_copy(row, **changes)

    def new_patient_row(self, center: str, table: str, template: int, **changes: str) -> int:
        """Append a copy of a row for a patient no export knows, with changes."""
        key = self.raw.fresh_patient_key(center)
        return self.copy(center, table, template, **{PATIENT_KEY[(center, table)]: key, **changes})


@dataclass(frozen=True)
class Injected:
    """A raw row an injection added or edited, and what must become of it."""

    center: str
    table: str
    row: int
    outcome: str  # quarantined | excluded | published
    reason: str
    column: str | None = None


def moved(text: str, layout: str, days: int, new_layout: str | None = None) -> str:
    """A date in ``layout`` moved by ``days``, written in ``new_layout``."""
    moved_date = datetime.strptime(text, layout).date() + timedelta(days=days)
    return moved_date.strftime(new_layout or layout)


# Templates: a second-line row (line tables) or any row of a clean eligible patient.
def line_a(i: Injector) -> int:
    return i.eligible_row("center_a", "treatment_lines", line_no="2")


def line_c(i: Injector) -> int:
    return i.eligible_row("center_c", "lines", line_number="2L")


def new_line_a(i: Injector, **changes: str) -> list[int]:
    return [i.new_patient_row("center_a", "treatment_lines", line_a(i), **changes)]


def new_line_c(i: Injector, **changes: str) -> list[int]:
    return [i.new_patient_row("center_c", "lines", line_c(i), **changes)]


def new_row(center: str, table: str, **changes: str) -> Callable[[Injector], list[int]]:
    def inject(i: Injector) -> list[int]:
        return [i.new_patient_row(center, table, i.eligible_row(center, table), **changes)]
    return inject


def death_before_line_start(i: Injector) -> list[int]:
    start = i.get("center_a", "treatment_lines", line_a(i), "line_start_date")
    death = moved(start, "%Y-%m-%d", -30)
    return new_line_a(i, progression_date="", death_date=death, last_contact_date=death)


def death_before_birth(i: Injector) -> list[int]:
    row = i.eligible_row("center_b", "patients")
    dob = i.get("center_b", "patients", row, "dob")
    return [i.new_patient_row("center_b", "patients", row,
                              death_date=moved(dob, "%d/%m/%Y", -400))]


def two_digit_year_a(i: Injector) -> list[int]:
    start = i.get("center_a", "treatment_lines", line_a(i), "line_start_date")
    return new_line_a(i, line_start_date=moved(start, "%Y-%m-%d", 0, "%y-%m-%d"))


def two_digit_year_b(i: Injector) -> list[int]:
    row = i.eligible_row("center_b", "patients")
    last = i.get("center_b", "patients", row, "last_followup")
    return [i.new_patient_row("center_b", "patients", row, death_date="",
                              last_followup=moved(last, "%d/%m/%Y", 0, "%d/%m/%y"))]


def exact_duplicate_assessment(i: Injector) -> list[int]:
    return [i.copy("center_b", "assessments", i.eligible_row("center_b", "assessments", 3))]


def spaced(value: str) -> str:
    return f"  {value} "


def whitespace_and_case_center_a(i: Injector) -> list[int]:
    table = ("center_a", "treatment_lines")
    row = i.eligible_row(*table, patient=4, line_no="2")
    old = {column: i.get(*table, row, column) for column in (
        "mrn", "sex", "ecog", "smoking_history", "metastatic_sites", "regimen",
        "line_start_date", "best_response")}
    return [i.edit(*table, row, mrn=spaced(old["mrn"]), sex=spaced(old["sex"].lower()),
                   ecog=spaced(old["ecog"]), smoking_history=spaced(old["smoking_history"].lower()),
                   metastatic_sites=old["metastatic_sites"].upper(),
                   regimen=spaced(old["regimen"].upper()),
                   line_start_date=spaced(old["line_start_date"]),
                   best_response=spaced(old["best_response"].lower()))]


def whitespace_and_case_center_b_drug(i: Injector) -> list[int]:
    row = i.eligible_row("center_b", "drug_administrations", patient=5)
    drug = i.get("center_b", "drug_administrations", row, "drug_name")
    return [i.edit("center_b", "drug_administrations", row, drug_name=spaced(drug.upper()))]


def whitespace_and_case_center_b_assessment(i: Injector) -> list[int]:
    row = i.eligible_row("center_b", "assessments", patient=6)
    response = i.get("center_b", "assessments", row, "response")
    return [i.edit("center_b", "assessments", row, response=spaced(response.title()))]


def whitespace_and_case_center_c(i: Injector) -> list[int]:
    row = i.eligible_row("center_c", "lines", patient=7, line_number="2L")
    old = {column: i.get("center_c", "lines", row, column)
           for column in ("sex", "response", "start_date")}
    return [i.edit("center_c", "lines", row, line_number=" 2l ", sex=spaced(old["sex"]),
                   response=spaced(old["response"]), start_date=spaced(old["start_date"]))]


def huge_free_text_name(i: Injector) -> list[int]:
    row = i.eligible_row("center_a", "treatment_lines", patient=8, line_no="1")
    return [i.edit("center_a", "treatment_lines", row, patient_name=HUGE)]


def comma_quote_newline_in_name(i: Injector) -> list[int]:
    row = i.eligible_row("center_b", "patients", patient=9)
    name = i.get("center_b", "patients", row, "name")
    return [i.edit("center_b", "patients", row, name=f'{name}, "Jr"\nsecond line')]


def new_patient_a(i: Injector, patient: int = 0, **second_line_changes: str) -> list[int]:
    """A patient no export knows: copies of the first- and second-line rows of
    the n-th clean eligible center_a patient, with changes to the second line."""
    key = i.raw.fresh_patient_key("center_a")
    first = i.eligible_row("center_a", "treatment_lines", patient, line_no="1")
    second = i.eligible_row("center_a", "treatment_lines", patient, line_no="2")
    return [i.copy("center_a", "treatment_lines", first, mrn=key),
            i.copy("center_a", "treatment_lines", second, mrn=key, **second_line_changes)]


def same_national_id_at_two_centers(i: Injector) -> list[int]:
    """A new center_c patient (copies of an eligible patient's first two lines)
    carries the national ID, sex and birth date of an eligible center_a
    patient and starts second line one day after that patient: the person is
    analysed once, under the center_a record (the earlier second-line start)."""
    for patient in range(10, 60):
        a_second = i.eligible_row("center_a", "treatment_lines", patient, line_no="2")
        a_start = datetime.strptime(
            i.get("center_a", "treatment_lines", a_second, "line_start_date"), "%Y-%m-%d")
        if a_start < datetime(2023, 11, 1):
            break
    national_id = i.get("center_a", "treatment_lines", a_second, "id_card_no")
    sex = {"M": "男", "F": "女"}[i.get("center_a", "treatment_lines", a_second, "sex")]
    birth = datetime.strptime(i.get("center_a", "treatment_lines", a_second, "birth_date"),
                              "%Y-%m-%d")
    c_key = i.eligible_key("center_c", 10)
    c_rows = {i.get("center_c", "lines", row, "line_number"): row
              for row in i.raw.table("center_c", "lines").find(case_no=c_key)}
    c_start = datetime.strptime(i.get("center_c", "lines", c_rows["2L"], "start_date"), "%Y%m%d")
    shift = (a_start + timedelta(days=1) - c_start).days
    new_key = i.raw.fresh_patient_key("center_c")
    return [i.copy("center_c", "lines", c_rows[line], case_no=new_key, id_number=national_id,
                   sex=sex, birth_date=f"{birth.year}/{birth.month}/{birth.day}",
                   start_date=moved(i.get("center_c", "lines", c_rows[line], "start_date"),
                                    "%Y%m%d", shift))
            for line in ("1L", "2L")]


def future_second_line(i: Injector) -> list[int]:
    """A second line after every study's data cut-off (the latest is the
    companion study's, 2025-06-30) but before the build date: a study-window
    matter, not a bad value."""
    key = i.raw.fresh_patient_key("center_a")
    first = i.eligible_row("center_a", "treatment_lines", line_no="1")
    return [
        i.copy("center_a", "treatment_lines", first, mrn=key),
        i.copy("center_a", "treatment_lines", line_a(i), mrn=key, line_start_date="2025-09-15",
               progression_date="", death_date="", last_contact_date="2025-12-31"),
    ]


def line_start_after_the_build_date(i: Injector) -> list[Injected]:
    """A second line dated 2099: the line record is quarantined, and the
    patient's first line cannot stand alone (its index line is missing)."""
    first, second = new_patient_a(i, patient=15, line_start_date="2099-01-15",
                                  progression_date="", death_date="",
                                  last_contact_date="2099-06-30")
    return [Injected("center_a", "treatment_lines", first, "excluded",
                     "incomplete_treatment_history"),
            Injected("center_a", "treatment_lines", second, "quarantined", "date_after_build_date",
                     "line_start_date")]


def last_contact_in_2099(i: Injector) -> list[int]:
    """A patient last seen after 3 months whose last contact reads 2099 (on
    every row, as center A repeats it): was 29 months of follow-up."""
    key = i.raw.fresh_patient_key("center_a")
    rows = []
    for line in ("1", "2"):
        template = i.eligible_row("center_a", "treatment_lines", 16, line_no=line)
        rows.append(i.copy("center_a", "treatment_lines", template, mrn=key, death_date="",
                           last_contact_date="2099-06-30"))
    return rows


W_ID = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def prc_resident_id(region: str, birth: datetime, sequence: int) -> str:
    """A valid 18-character PRC resident ID (ISO 7064 MOD 11-2 check)."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, W_ID, strict=True)) % 11]


def same_person_with_conflicts(sex: bool, birth_year: bool, patient: int):
    """One person (a new, valid national ID) with a record at center A and one
    at center C, copies of eligible patients' first two lines under fresh
    keys, disagreeing on sex or on birth year: both records excluded."""
    def inject(i: Injector) -> list[Injected]:
        a_rows = new_patient_a(i, patient=patient)
        table_a = i.raw.table("center_a", "treatment_lines")
        a_birth = datetime.strptime(table_a.get(a_rows[0], "birth_date"), "%Y-%m-%d")
        a_sex = table_a.get(a_rows[0], "sex")
        national_id = prc_resident_id("640104", a_birth, 900 + patient)
        for row in a_rows:
            i.edit("center_a", "treatment_lines", row, id_card_no=national_id)
        c_birth = a_birth.replace(year=a_birth.year + (3 if birth_year else 0))
        same_sex = "男" if a_sex == "M" else "女"
        c_sex = ("女" if a_sex == "M" else "男") if sex else same_sex
        c_key = i.eligible_key("center_c", patient)
        c_rows = {i.get("center_c", "lines", row, "line_number"): row
                  for row in i.raw.table("center_c", "lines").find(case_no=c_key)}
        new_key = i.raw.fresh_patient_key("center_c")
        c_copies = [i.copy("center_c", "lines", c_rows[line], case_no=new_key,
                           id_number=national_id, sex=c_sex,
                           birth_date=f"{c_birth.year}/{c_birth.month}/{c_birth.day}")
                    for line in ("1L", "2L")]
        return ([Injected("center_a", "treatment_lines", row, "excluded",
                          "conflicting_person_records") for row in a_rows]
                + [Injected("center_c", "lines", row, "excluded", "conflicting_person_records")
                   for row in c_copies])
    return inject


#: Chinese generic names of the ICIs: a drug name "in another script".
ICI_IN_CHINESE = {
    "atezolizumab": "阿替利珠单抗", "durvalumab": "度伐利尤单抗", "adebrelimab": "阿得贝利单抗",
    "serplulimab": "斯鲁利单抗", "tislelizumab": "替雷利珠单抗", "toripalimab": "特瑞普利单抗",
    "sintilimab": "信迪利单抗", "camrelizumab": "卡瑞利珠单抗", "pembrolizumab": "帕博利珠单抗",
    "nivolumab": "纳武利尤单抗",
}
DRUG_NAMES = pd.read_csv(RAW_DIR.parents[1] / "seeds" / "terminology"
                         / "terminology__drug_names.csv")
ICI_GENERIC_BY_NAME = {name.lower(): generic for name, generic, is_ici in DRUG_NAMES[
    ["source_name", "generic_name", "is_ici"]].itertuples(index=False) if is_ici}


def clone_center_b_ici_patient(i: Injector, skip: int
                               ) -> tuple[str, dict[str, list[int]], list[int]]:
    """A new center B patient: copies, under a fresh key, of every patient,
    administration and assessment row of a clean eligible ICI-arm patient
    whose second line adds an ICI to another drug and whose first line has
    none. Returns the key, the copied rows per table and the copied
    administrations of the ICI on or after the second-line start."""
    candidates = [key for key in i.eligible["center_b"]
                  if i.truth.at[key, "arm"] == "ICI" and not i.truth.at[key, "had_first_line_ici"]
                  and " + " in i.truth.at[key, "second_line_regimen"]]
    source_key = candidates[skip]
    second_line_start = pd.Timestamp(i.truth.at[source_key, "second_line_start_date"])
    key = i.raw.fresh_patient_key("center_b")
    copied = {table: [i.copy("center_b", table, row, patient_key=key)
                      for row in i.raw.table("center_b", table).find(patient_key=source_key)]
              for table in ("patients", "drug_administrations", "assessments")}
    administration = i.raw.table("center_b", "drug_administrations")
    second_line_icis = [
        row for row in copied["drug_administrations"]
        if administration.get(row, "drug_name").lower() in ICI_GENERIC_BY_NAME
        and datetime.strptime(administration.get(row, "admin_date"), "%d/%m/%Y")
        >= second_line_start]
    assert second_line_icis, source_key
    return key, copied, second_line_icis


def outcomes_of_clone(copied: dict[str, list[int]], changed: list[int], changed_outcome: tuple,
                      patient_reason: str) -> list[Injected]:
    return [Injected("center_b", table, row, *changed_outcome) if table == "drug_administrations"
            and row in changed else Injected("center_b", table, row, "excluded", patient_reason)
            for table, rows in copied.items() for row in rows]


def drug_name_in_another_script(i: Injector) -> list[Injected]:
    """The second line's ICI written in Chinese: those administrations are
    quarantined, the rest would still form a non-ICI second line (was: the
    patient published in the other arm); the patient is excluded."""
    _, copied, icis = clone_center_b_ici_patient(i, skip=0)
    for row in icis:
        generic = ICI_GENERIC_BY_NAME[i.get("center_b", "drug_administrations", row,
                                            "drug_name").lower()]
        i.edit("center_b", "drug_administrations", row, drug_name=ICI_IN_CHINESE[generic])
    return outcomes_of_clone(copied, icis, ("quarantined", "unknown_drug", "drug_name"),
                             "incomplete_treatment_history")


def patient_key_in_another_case(i: Injector) -> list[Injected]:
    """The second line's ICI administrations filed under the key in lower
    case: they belong to no patient record (quarantined), and the patient,
    whose history they detach, is excluded."""
    key, copied, icis = clone_center_b_ici_patient(i, skip=1)
    for row in icis:
        i.edit("center_b", "drug_administrations", row, patient_key=key.lower())
    return outcomes_of_clone(copied, icis, ("quarantined", "no_patient_record", "patient_key"),
                             "patient_key_spelled_two_ways")


def second_line_before_first_line(i: Injector) -> list[Injected]:
    """Second line dated a month before the first (was: published, with the
    PFS of the wrong line)."""
    first_template = i.eligible_row("center_a", "treatment_lines", 17, line_no="1")
    first_start = i.get("center_a", "treatment_lines", first_template, "line_start_date")
    second_template = i.eligible_row("center_a", "treatment_lines", 17, line_no="2")
    second_start = i.get("center_a", "treatment_lines", second_template, "line_start_date")
    shift = (datetime.strptime(first_start, "%Y-%m-%d")
             - datetime.strptime(second_start, "%Y-%m-%d")).days - 30
    table = i.raw.table("center_a", "treatment_lines")
    changes = {column: moved(table.get(second_template, column), "%Y-%m-%d", shift)
               for column in ("line_start_date", "progression_date")
               if table.get(second_template, column)}
    rows = new_patient_a(i, patient=17, **changes)
    return [Injected("center_a", "treatment_lines", row, "excluded", "line_order_violation")
            for row in rows]


def second_line_before_first_line_progression(i: Injector) -> list[Injected]:
    """Center C: the second line starts halfway through the first line's
    progression-free time, before its progression."""
    key = i.eligible_key("center_c", 17)
    rows = {i.get("center_c", "lines", row, "line_number"): row
            for row in i.raw.table("center_c", "lines").find(case_no=key)}
    first_start = i.get("center_c", "lines", rows["1L"], "start_date")
    first_pfs = int(i.get("center_c", "lines", rows["1L"], "pfs_days"))
    new_key = i.raw.fresh_patient_key("center_c")
    copies = [i.copy("center_c", "lines", rows["1L"], case_no=new_key),
              i.copy("center_c", "lines", rows["2L"], case_no=new_key,
                     start_date=moved(first_start, "%Y%m%d", first_pfs // 2))]
    return [Injected("center_c", "lines", row, "excluded", "line_order_violation")
            for row in copies]


def conflicting_duplicate_patient(i: Injector) -> list[int]:
    """Two records of one (new) patient key that differ in Karnofsky and sex."""
    row = i.eligible_row("center_b", "patients", patient=2)
    kps = i.get("center_b", "patients", row, "kps")
    gender = i.get("center_b", "patients", row, "gender")
    key = i.raw.fresh_patient_key("center_b")
    return [i.copy("center_b", "patients", row, patient_key=key),
            i.copy("center_b", "patients", row, patient_key=key,
                   kps="40" if kps != "40" else "90", gender="2" if gender == "1" else "1")]


def repeated_row_id_with_other_content(i: Injector) -> list[int]:
    """Two administrations (of a new key) that share an admin_id but name
    different drugs."""
    template = i.eligible_row("center_b", "drug_administrations")
    key = i.raw.fresh_patient_key("center_b")
    first = i.copy("center_b", "drug_administrations", template, patient_key=key)
    admin_id = i.get("center_b", "drug_administrations", first, "admin_id")
    return [first, i.copy("center_b", "drug_administrations", template, patient_key=key,
                          admin_id=admin_id, drug_name="Hycamtin")]


def new_first_line_only_a(i: Injector, **changes: str) -> list[int]:
    """A new patient with only a first-line record (never eligible)."""
    template = i.eligible_row("center_a", "treatment_lines", 18, line_no="1")
    return [i.new_patient_row("center_a", "treatment_lines", template, **changes)]


def national_id_with_digits_lost(i: Injector) -> list[int]:
    """A spreadsheet keeps 15 significant digits: 6401...4146 became
    6401...4000, whose check digit no longer fits."""
    template = i.eligible_row("center_c", "lines", 18, line_number="1L")
    national_id = i.get("center_c", "lines", template, "id_number")
    mangled = national_id[:15] + "000"
    assert prc_resident_id(mangled[:6], datetime.strptime(mangled[6:14], "%Y%m%d"),
                           int(mangled[14:17])) != mangled
    return [i.new_patient_row("center_c", "lines", template, id_number=mangled)]


def national_id_with_spaces_and_hyphens(i: Injector) -> list[int]:
    """An eligible patient's ID written 640105 1958-0822 4146 on the rows of its
    first two lines: still valid, still the same person."""
    key = i.eligible_key("center_a", 19)
    rows = [row for line in ("1", "2")
            for row in i.raw.table("center_a", "treatment_lines").find(mrn=key, line_no=line)]
    for row in rows:
        national_id = i.get("center_a", "treatment_lines", row, "id_card_no")
        i.edit("center_a", "treatment_lines", row,
               id_card_no=f"{national_id[:6]} {national_id[6:10]}-{national_id[10:14]} "
                          f"{national_id[14:].lower()}")
    return rows


@dataclass(frozen=True)
class RowCase:
    """One kind of bad (or merely unusual) row and what must become of it."""

    kind: str
    center: str
    table: str
    inject: Callable[[Injector], list[int]]
    outcome: str  # quarantined | excluded | published
    reason: str | None = None
    column: str | None = None
    hostile_text: str | None = None
    #: the national-ID status staging must give every injected row
    national_id_status: str | None = None
    marks: tuple = field(default=())

    def injected(self, rows: list) -> list[Injected]:
        """The injection's rows with their expected outcome: row numbers of
        the case's table get the case's outcome; Injected rows carry theirs."""
        return [row if isinstance(row, Injected)
                else Injected(self.center, self.table, row, self.outcome, self.reason,
                              self.column)
                for row in rows]


def quarantined(kind, center, table, inject, reason, column, **options) -> RowCase:
    return RowCase(kind, center, table, inject, "quarantined", reason, column, **options)


def published(kind, center, table, inject, **options) -> RowCase:
    return RowCase(kind, center, table, inject, "published", "published", None, **options)


A_LINES = ("center_a", "treatment_lines")
A_AE = ("center_a", "adverse_events")
B_PAT = ("center_b", "patients")
B_ADM = ("center_b", "drug_administrations")
B_ASM = ("center_b", "assessments")
B_AE = ("center_b", "adverse_events")
C_LINES = ("center_c", "lines")
C_AE = ("center_c", "adverse_events")

ROW_CASES = [
    # ---- dates
    quarantined("impossible-calendar-date", *A_LINES,
                lambda i: new_line_a(i, line_start_date="2021-02-30"),
                "unparseable_date", "line_start_date"),
    quarantined("date-cell-in-another-layout", *A_LINES,
                lambda i: new_line_a(i, progression_date=moved(
                    i.get(*A_LINES, line_a(i), "line_start_date"), "%Y-%m-%d", 60, "%d/%m/%Y")),
                "unparseable_date", "progression_date"),
    quarantined("impossible-date-dd-mm-yyyy", *B_ADM, new_row(*B_ADM, admin_date="31/04/2022"),
                "unparseable_date", "admin_date"),
    # one cell of a locale swap: quarantined; the gate stops only a column that
    # reads better with day and month exchanged as a whole
    quarantined("date-cell-with-day-and-month-exchanged", *B_ADM,
                new_row(*B_ADM, admin_date="05/13/2022"), "unparseable_date", "admin_date"),
    quarantined("date-cell-in-another-layout-yyyymmdd", *C_LINES,
                lambda i: new_line_c(i, start_date="2021-03-04"), "unparseable_date", "start_date"),
    quarantined("two-digit-year-iso", *A_LINES, two_digit_year_a,
                "unparseable_date", "line_start_date"),
    quarantined("two-digit-year-dd-mm-yy", *B_PAT, two_digit_year_b,
                "unparseable_date", "last_followup"),
    quarantined("death-before-line-start", *A_LINES, death_before_line_start,
                "date_order_violation", "death_date"),
    quarantined("death-before-birth", *B_PAT, death_before_birth,
                "date_order_violation", "death_date"),
    quarantined("negative-pfs-days", *C_LINES, lambda i: new_line_c(i, pfs_days="-5"),
                "date_order_violation", "pfs_days"),
    RowCase("second-line-after-the-data-cutoff", *A_LINES, future_second_line, "excluded",
            "second_line_outside_study_window"),
    RowCase("line-start-after-the-build-date", *A_LINES, line_start_after_the_build_date,
            "excluded", "incomplete_treatment_history"),
    quarantined("last-contact-in-2099", *A_LINES, last_contact_in_2099,
                "date_after_build_date", "last_contact_date"),
    quarantined("administration-after-the-build-date", *B_ADM,
                new_row(*B_ADM, admin_date="15/01/2099"), "date_after_build_date", "admin_date"),
    quarantined("os-months-beyond-the-build-date", *C_LINES,
                lambda i: new_line_c(i, os_months="1000.00", dead="0"),
                "date_after_build_date", "os_months"),
    RowCase("second-line-before-first-line", *A_LINES, second_line_before_first_line,
            "excluded", "line_order_violation"),
    RowCase("second-line-before-first-line-progression", *C_LINES,
            second_line_before_first_line_progression, "excluded", "line_order_violation"),
    # ---- numbers: wrong type, out of range, decimals where an integer belongs
    quarantined("ecog-spelled-out", *A_LINES, lambda i: new_line_a(i, ecog="one"),
                "unknown_code", "ecog"),
    quarantined("ecog-out-of-range", *A_LINES, lambda i: new_line_a(i, ecog="9"),
                "unknown_code", "ecog"),
    quarantined("ecog-with-decimals", *A_LINES, lambda i: new_line_a(i, ecog="1.5"),
                "unknown_code", "ecog"),
    quarantined("line-number-with-decimals", *A_LINES, lambda i: new_line_a(i, line_no="2.5"),
                "unknown_code", "line_no"),
    quarantined("karnofsky-out-of-range", *B_PAT, new_row(*B_PAT, kps="150"),
                "unknown_code", "kps"),
    quarantined("karnofsky-with-decimals", *B_PAT, new_row(*B_PAT, kps="70.4"),
                "unknown_code", "kps"),
    quarantined("metastatic-site-count-out-of-range", *B_PAT, new_row(*B_PAT, other_met_sites="99"),
                "unknown_code", "other_met_sites"),
    quarantined("ctcae-grade-out-of-range", *A_AE, new_row(*A_AE, ctcae_grade="7"),
                "unknown_code", "ctcae_grade"),
    quarantined("pfs-days-with-decimals", *C_LINES, lambda i: new_line_c(i, pfs_days="12.5"),
                "unknown_code", "pfs_days"),
    quarantined("pfs-days-beyond-the-calendar", *C_LINES,
                lambda i: new_line_c(i, pfs_days="2000000000"), "unknown_code", "pfs_days"),
    quarantined("os-months-not-a-number", *C_LINES, lambda i: new_line_c(i, os_months="NaN"),
                "unknown_code", "os_months"),
    quarantined("os-months-infinite", *C_LINES, lambda i: new_line_c(i, os_months="inf"),
                "unknown_code", "os_months"),
    # ---- codes and vocabularies
    quarantined("unknown-sex-code", *A_LINES, lambda i: new_line_a(i, sex="X"),
                "unknown_code", "sex"),
    quarantined("unknown-metastatic-site", *A_LINES,
                lambda i: new_line_a(i, metastatic_sites="liver;spleen"),
                "unknown_code", "metastatic_sites"),
    quarantined("spaces-around-list-separator", *A_LINES,
                lambda i: new_line_a(i, metastatic_sites="liver; brain"),
                "unknown_code", "metastatic_sites"),
    quarantined("unknown-response-word", *B_ASM, new_row(*B_ASM, response="partial remission"),
                "unknown_code", "response"),
    quarantined("unknown-chinese-response", *C_LINES, lambda i: new_line_c(i, response="部分缓"),
                "unknown_code", "response"),
    quarantined("unknown-yes-no-flag", *C_LINES, lambda i: new_line_c(i, dead="2"),
                "unknown_code", "dead"),
    quarantined("unknown-smoking-code", *A_LINES,
                lambda i: new_line_a(i, smoking_history="sometimes"),
                "unknown_code", "smoking_history"),
    quarantined("unknown-thoracic-radiotherapy-code", *C_LINES,
                lambda i: new_line_c(i, thoracic_rt="maybe"), "unknown_code", "thoracic_rt"),
    quarantined("unknown-pci-code", *B_PAT, new_row(*B_PAT, pci="perhaps"),
                "unknown_code", "pci"),
    RowCase("missing-smoking-status", *A_LINES,
            lambda i: new_patient_a(i, patient=11, smoking_history=""), "excluded",
            "missing_baseline_covariate"),
    quarantined("unknown-ctcae-grade-code", *B_AE, new_row(*B_AE, grade="G9"),
                "unknown_code", "grade"),
    # a record over two lines: the rows appended after it keep their numbers
    quarantined("quoted-newline-in-code-field", *C_AE,
                new_row(*C_AE, ae_name="皮疹\n皮疹"), "unknown_code", "ae_name"),
    quarantined("roman-grade-out-of-range", *C_AE, new_row(*C_AE, grade="VI"),
                "unknown_code", "grade"),
    quarantined("unknown-drug-brand", *B_ADM, new_row(*B_ADM, drug_name="Opdivoo"),
                "unknown_drug", "drug_name"),
    # ---- hostile text
    quarantined("formula-injection-in-drug-name", *B_ADM,
                new_row(*B_ADM, drug_name=FORMULA_HYPERLINK), "unknown_drug", "drug_name",
                hostile_text=FORMULA_HYPERLINK),
    quarantined("formula-injection-in-ae-term", *A_AE, new_row(*A_AE, ae_term=FORMULA_CMD),
                "unknown_code", "ae_term", hostile_text=FORMULA_CMD),
    quarantined("sql-text-in-regimen", *A_LINES, lambda i: new_line_a(i, regimen=SQL_TEXT),
                "unknown_drug", "regimen", hostile_text=SQL_TEXT),
    quarantined("huge-text-in-code-field", *A_AE, new_row(*A_AE, ae_term=HUGE),
                "unknown_code", "ae_term", hostile_text=HUGE[:64]),
    # ---- keys and duplicates
    quarantined("empty-patient-key", *B_AE, new_row(*B_AE, patient_key=""),
                "missing_required_value", "patient_key"),
    quarantined("blank-patient-key", *B_ADM, new_row(*B_ADM, patient_key="   "),
                "missing_required_value", "patient_key"),
    quarantined("exact-duplicate-row", *B_ASM, exact_duplicate_assessment,
                "duplicate_row", "assessment_id"),
    quarantined("conflicting-duplicate-patient", *B_PAT, conflicting_duplicate_patient,
                "conflicting_row_id", "patient_key"),
    quarantined("repeated-row-id-with-other-content", *B_ADM, repeated_row_id_with_other_content,
                "conflicting_row_id", "admin_id"),
    quarantined("administration-without-a-patient-record", *B_ADM, new_row(*B_ADM),
                "no_patient_record", "patient_key"),
    quarantined("adverse-event-without-a-patient-record", *A_AE, new_row(*A_AE),
                "no_patient_record", "mrn"),
    RowCase("same-national-id-at-two-centers", *C_LINES, same_national_id_at_two_centers,
            "excluded", "same_person_as_another_patient"),
    RowCase("same-person-with-conflicting-sex", *A_LINES,
            same_person_with_conflicts(sex=True, birth_year=False, patient=20),
            "excluded", "conflicting_person_records"),
    RowCase("same-person-with-conflicting-birth-year", *A_LINES,
            same_person_with_conflicts(sex=False, birth_year=True, patient=21),
            "excluded", "conflicting_person_records"),
    # ---- treatment history complete or excluded
    RowCase("drug-name-in-another-script", *B_ADM, drug_name_in_another_script,
            "excluded", "incomplete_treatment_history"),
    RowCase("patient-key-in-another-case", *B_ADM, patient_key_in_another_case,
            "excluded", "patient_key_spelled_two_ways"),
    # ---- national IDs: an invalid one links nothing and quarantines nothing
    RowCase("national-id-in-scientific-notation", *A_LINES,
            lambda i: new_first_line_only_a(i, id_card_no="6.40105E+17"), "excluded",
            "no_second_line", national_id_status="invalid"),
    RowCase("national-id-with-digits-lost-to-a-spreadsheet", *C_LINES,
            national_id_with_digits_lost, "excluded", "no_second_line",
            national_id_status="invalid"),
    # ---- accepted: must be published exactly as the clean value
    published("whitespace-and-case-in-codes-center-a", *A_LINES, whitespace_and_case_center_a),
    published("whitespace-and-case-in-drug-brand", *B_ADM, whitespace_and_case_center_b_drug),
    published("whitespace-and-case-in-response-word", *B_ASM,
              whitespace_and_case_center_b_assessment),
    published("whitespace-and-case-in-codes-center-c", *C_LINES, whitespace_and_case_center_c),
    published("huge-free-text-name", *A_LINES, huge_free_text_name, hostile_text=HUGE[:64]),
    published("quoted-comma-quote-newline-in-name", *B_PAT, comma_quote_newline_in_name),
    published("national-id-with-spaces-and-hyphens", *A_LINES,
              national_id_with_spaces_and_hyphens, national_id_status="valid"),
]


# ============================================================================
# File-level defects
# ============================================================================

def rewrite_rows(path: Path, change: Callable[[list[list[str]]], list[list[str]]]) -> None:
    path.write_bytes(to_csv(change(parse_csv(path.read_bytes()))))


def rename_column(old: str, new: str):
    def breaks(path: Path) -> dict:
        rewrite_rows(path, lambda rows: [[new if c == old else c for c in rows[0]], *rows[1:]])
        return {}
    return breaks


def drop_column(name: str):
    def breaks(path: Path) -> dict:
        def change(rows):
            position = rows[0].index(name)
            return [row[:position] + row[position + 1:] for row in rows]
        rewrite_rows(path, change)
        return {}
    return breaks


def empty_file(path: Path) -> dict:
    path.write_bytes(b"")
    return {}


def header_only(path: Path) -> dict:
    path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")
    return {}


def truncated_mid_row(path: Path) -> dict:
    """Cut the file in the middle of its last row, as an interrupted copy does."""
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    last_row = data[last_start:].rstrip(b"\n")
    cut = last_row.index(b",", len(last_row) // 2)
    path.write_bytes(data[:last_start + cut])
    return {"line": data[:last_start].count(b"\n") + 1}


def date_column_in_another_layout(column: str, layout: str, new_layout: str):
    def breaks(path: Path) -> dict:
        def change(rows):
            position = rows[0].index(column)
            for row in rows[1:]:
                try:
                    row[position] = moved(row[position], layout, 0, new_layout)
                except ValueError:
                    pass
            return rows
        rewrite_rows(path, change)
        return {}
    return breaks


def missing_file(path: Path) -> dict:
    path.unlink()
    return {}


def directory_instead_of_file(path: Path) -> dict:
    path.unlink()
    path.mkdir()
    (path / "part-0.csv").write_bytes(b"a,b\n1,2\n")
    return {}


def gzip_under_csv_name(path: Path) -> dict:
    path.write_bytes(gzip.compress(path.read_bytes()))
    return {}


def middle_row(path: Path) -> int:
    return data_row_count(path) // 2


def latin1_bytes_in_one_row(path: Path) -> dict:
    row = middle_row(path)
    lines = path.read_bytes().split(b"\n")
    cells = lines[row].split(b",")
    cells[2] = "José".encode("latin-1")  # patient_name
    lines[row] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    return {"line": row + 1}


def whole_file_in_gbk(path: Path) -> dict:
    text = path.read_bytes().decode("utf-8")
    first_non_ascii = next(n for n, line in enumerate(text.split("\n"), start=1)
                           if not line.isascii())
    path.write_bytes(text.encode("gbk"))
    return {"line": first_non_ascii}


def whole_file_in_utf16(path: Path) -> dict:
    path.write_bytes(path.read_bytes().decode("utf-8").encode("utf-16"))
    return {}


def ragged_row(extra: bool):
    def breaks(path: Path) -> dict:
        row = middle_row(path)
        lines = path.read_bytes().split(b"\n")
        lines[row] = lines[row] + b",extra" if extra else lines[row].rsplit(b",", 1)[0]
        path.write_bytes(b"\n".join(lines))
        return {"line": row + 1}
    return breaks


def unterminated_quote(path: Path) -> dict:
    row = middle_row(path)
    lines = path.read_bytes().split(b"\n")
    cells = lines[row].split(b",")
    cells[1] = b'"' + cells[1]
    lines[row] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    return {"line": row + 1}


def dates_in_layout(column: str, layout: str, write: Callable[[datetime], str]):
    """Every readable value of a date column written another way (unreadable
    values stay as they are)."""
    def breaks(path: Path) -> dict:
        def change(rows):
            position = rows[0].index(column)
            for row in rows[1:]:
                try:
                    row[position] = write(datetime.strptime(row[position], layout))
                except ValueError:
                    pass
            return rows
        rewrite_rows(path, change)
        return {}
    return breaks


def spreadsheet_serial(moment: datetime) -> str:
    """A date as a spreadsheet stores it: days since 1899-12-30."""
    return str((moment - datetime(1899, 12, 30)).days)


def month_first(moment: datetime) -> str:
    return moment.strftime("%m/%d/%Y")


def two_digit_year_yymmdd(moment: datetime) -> str:
    return moment.strftime("%y%m%d")


def repeated_header_name(copy_of: str, name: str, position: int):
    """Insert a column named ``name`` (the name of ``copy_of`` up to blanks
    and case) at ``position``, holding another column's values: the reader
    keeps the first copy under the name and the models read the wrong one."""
    def breaks(path: Path) -> dict:
        def change(rows):
            source = rows[0].index("record_no" if "record_no" in rows[0] else rows[0][0])
            return [[*row[:position], name if number == 0 else row[source], *row[position:]]
                    for number, row in enumerate(rows)]
        rewrite_rows(path, change)
        return {"name": copy_of}
    return breaks


def cr_only_line_endings(path: Path) -> dict:
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    return {}


def thousands_of_header_fields(path: Path) -> dict:
    rows = parse_csv(path.read_bytes())
    extra = [f"extra_{n}" for n in range(5000)]
    path.write_bytes(to_csv([rows[0] + extra] + [row + [""] * len(extra) for row in rows[1:]]))
    return {"fields": len(rows[0]) + len(extra)}


def huge_header_line(path: Path) -> dict:
    rows = parse_csv(path.read_bytes())
    rows[0][-1] += "_" + "x" * 200_000
    path.write_bytes(to_csv(rows))
    return {}


def symlink_to(target: Callable[[Path], Path]):
    def breaks(path: Path) -> dict:
        path.unlink()
        path.symlink_to(target(path))
        return {}
    return breaks


def system_file(path: Path) -> Path:
    return Path("/etc/hostname")


def multi_line_system_file(path: Path) -> Path:
    """A system file whose first line a reader would take for a header."""
    return next(candidate for candidate in (Path("/etc/os-release"), Path("/etc/passwd"))
                if candidate.is_file())


def another_export_in_raw_data_dir(path: Path) -> Path:
    """The same table of another center, inside raw_data_dir."""
    other = next(p for p in sorted(path.parent.parent.glob(f"*/{path.name}")) if p != path)
    return Path("..") / other.parent.name / other.name


def center_folder_linked_elsewhere(path: Path) -> dict:
    folder = path.parent
    elsewhere = folder.parent.parent / f"outside_{folder.name}"
    shutil.rmtree(elsewhere, ignore_errors=True)
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    return {}


def second_batch_beside(path: Path) -> dict:
    batch = path.with_name(f"{path.stem}_batch2{path.suffix}")
    rows = parse_csv(path.read_bytes())
    batch.write_bytes(to_csv(rows[:1] + rows[-20:]))
    return {"file": batch.name}


def undeclared_center_folder(path: Path) -> dict:
    folder = path.parent.parent / "center_x"
    folder.mkdir()
    shutil.copyfile(path, folder / path.name)
    return {"file": folder.name}


def missing_header_row(path: Path) -> dict:
    rows = parse_csv(path.read_bytes())
    path.write_bytes(to_csv(rows[1:]))
    return {"fields": len(rows[0])}


def typed_parquet_columns(**types: str):
    """Rewrite a Parquet export with some columns cast from text (empty or
    unreadable values become nulls), as a loader with a schema writes them."""
    def breaks(path: Path) -> dict:
        table = pq.read_table(path)
        for column, type_name in types.items():
            values = pd.Series(table.column(column).to_pylist(), dtype="string")
            if type_name == "int64":
                array = pa.array(pd.to_numeric(values, errors="coerce").astype("Int64"),
                                 type=pa.int64(), from_pandas=True)
            else:
                array = pa.array(pd.to_datetime(values, format="%Y-%m-%d", errors="coerce").dt.date,
                                 type=pa.date32(), from_pandas=True)
            table = table.set_column(table.schema.get_field_index(column), column, array)
        pq.write_table(table, path)
        return {}
    return breaks


# Harmless variations: the gate must pass and staging must read every row as before.
def extra_column(path: Path) -> dict:
    rewrite_rows(path, lambda rows: [rows[0] + ["exported_by"]]
                 + [row + ["system, v2"] for row in rows[1:]])
    return {}


def columns_reordered(path: Path) -> dict:
    rewrite_rows(path, lambda rows: [list(reversed(row)) for row in rows])
    return {}


def utf8_bom(path: Path) -> dict:
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return {}


def crlf_line_endings(path: Path) -> dict:
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    return {}


def every_field_quoted(path: Path) -> dict:
    rows = parse_csv(path.read_bytes())
    path.write_text("".join(
        ",".join('"' + cell.replace('"', '""') + '"' for cell in row) + "\n" for row in rows),
        encoding="utf-8")
    return {}


def bom_and_crlf(path: Path) -> dict:
    return crlf_line_endings(path) | utf8_bom(path)


def padded_header_names(path: Path) -> dict:
    rewrite_rows(path, lambda rows: [[f" {name}  " for name in rows[0]], *rows[1:]])
    return {}


def no_final_line_break(path: Path) -> dict:
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    return {}


@dataclass(frozen=True)
class FileCase:
    kind: str
    center: str
    table: str
    breaks: Callable[[Path], dict]
    #: fragments the error must contain ({line} filled from ``breaks``), or
    #: None when the variation must be accepted
    error: tuple[str, ...] | None
    #: what the error names first: the export (file), its center's folder
    #: (folder) or raw_data_dir itself (raw_data_dir)
    names: str = "file"
    #: csv, or parquet: the case's copy holds every export as Parquet
    file_format: str = "csv"


FILE_CASES = [
    FileCase("renamed-column", *B_PAT, rename_column("kps", "karnofsky"),
             ("missing required column(s) kps", "karnofsky")),
    FileCase("missing-column", *C_LINES, drop_column("pfs_days"),
             ("missing required column(s) pfs_days",)),
    FileCase("empty-file-0-bytes", *A_AE, empty_file, ("the export is empty (no data rows)",)),
    FileCase("header-only", *B_ASM, header_only, ("the export is empty (no data rows)",)),
    FileCase("truncated-mid-row", *C_LINES, truncated_mid_row,
             ("line {line} has fewer fields than the header",)),
    FileCase("date-column-in-another-layout", *A_LINES,
             date_column_in_another_layout("line_start_date", "%Y-%m-%d", "%d/%m/%Y"),
             ("column 'line_start_date' is unreadable as a date", "layout YYYY-MM-DD")),
    FileCase("missing-file", *C_AE, missing_file, ("the file does not exist",)),
    FileCase("directory-instead-of-file", *B_AE, directory_instead_of_file,
             ("the file does not exist",)),
    FileCase("gzip-under-csv-name", *A_LINES, gzip_under_csv_name, ("gzip-compressed",)),
    FileCase("latin1-bytes-in-utf8-file", *A_LINES, latin1_bytes_in_one_row,
             ("line {line}", "not UTF-8")),
    FileCase("whole-file-in-gbk", *C_LINES, whole_file_in_gbk, ("line {line}", "not UTF-8")),
    FileCase("whole-file-in-utf16", *B_ASM, whole_file_in_utf16, ("UTF-16",)),
    FileCase("ragged-row-too-many-fields", *B_ADM, ragged_row(extra=True),
             ("line {line} has more fields than the header",)),
    FileCase("ragged-row-too-few-fields", *A_AE, ragged_row(extra=False),
             ("line {line} has fewer fields than the header",)),
    FileCase("unterminated-quote", *B_PAT, unterminated_quote,
             ("line {line}", "quote")),
    # ---- date columns written in another layout as a whole (counts only)
    FileCase("dates-day-and-month-exchanged", *B_ADM,
             dates_in_layout("admin_date", "%d/%m/%Y", month_first),
             ("column 'admin_date' reads better as MM/DD/YYYY than as its declared layout "
              "DD/MM/YYYY",)),
    FileCase("dates-day-and-month-exchanged-patients", *B_PAT,
             dates_in_layout("last_followup", "%d/%m/%Y", month_first),
             ("column 'last_followup' reads better as MM/DD/YYYY", "DD/MM/YYYY")),
    FileCase("dates-as-spreadsheet-serial-numbers", *A_LINES,
             dates_in_layout("line_start_date", "%Y-%m-%d", spreadsheet_serial),
             ("column 'line_start_date' is unreadable as a date in its declared layout "
              "YYYY-MM-DD", "look like spreadsheet serial numbers")),
    FileCase("dates-with-two-digit-years", *C_LINES,
             dates_in_layout("start_date", "%Y%m%d", two_digit_year_yymmdd),
             ("column 'start_date' is unreadable as a date in its declared layout YYYYMMDD",
              "look like YYMMDD (two-digit year)")),
    # ---- the header
    FileCase("repeated-header-name", *A_LINES, repeated_header_name("sex", "sex", 1),
             ("the header repeats '{name}' at fields 2 and 7",)),
    FileCase("repeated-header-name-case-and-blanks", *B_PAT,
             repeated_header_name("kps", " KPS ", 2),
             ("the header repeats '{name}' at fields 3 and 7",)),
    FileCase("missing-header-row", *A_LINES, missing_header_row,
             ("line 1 does not look like the header: none of its {fields} fields",)),
    FileCase("missing-header-row-patients", *B_PAT, missing_header_row,
             ("line 1 does not look like the header: none of its {fields} fields",)),
    FileCase("cr-only-line-endings", *A_LINES, cr_only_line_endings,
             ("line 1 ends with a carriage return alone",)),
    FileCase("cr-only-line-endings-assessments", *B_ASM, cr_only_line_endings,
             ("line 1 ends with a carriage return alone",)),
    FileCase("thousands-of-header-fields", *C_AE, thousands_of_header_fields,
             ("the header has {fields} fields, more than 1000",)),
    FileCase("huge-header-line", *B_AE, huge_header_line,
             ("line 1 (the header) is longer than 65536 bytes",)),
    # ---- files that are not where the build reads, or that nothing reads
    FileCase("symlink-to-a-system-file", *B_AE, symlink_to(system_file),
             ("the file is a symbolic link",)),
    FileCase("symlink-to-a-multi-line-system-file", *C_LINES, symlink_to(multi_line_system_file),
             ("the file is a symbolic link",)),
    FileCase("symlink-to-an-export-inside-raw-data-dir", *A_AE,
             symlink_to(another_export_in_raw_data_dir), ("the file is a symbolic link",)),
    FileCase("center-folder-is-a-symlink", *C_AE, center_folder_linked_elsewhere,
             ("the center's folder is a symbolic link",)),
    FileCase("second-batch-beside-the-export", *A_LINES, second_batch_beside,
             ("the folder holds '{file}', which no source of center 'center_a' declares",),
             names="folder"),
    FileCase("undeclared-center-folder", *C_AE, undeclared_center_folder,
             ("it holds '{file}', which is no declared center's folder or export",),
             names="raw_data_dir"),
    # ---- Parquet exports (raw_file_format: parquet) must hold text only
    FileCase("typed-parquet-columns", *A_LINES,
             typed_parquet_columns(ecog="int64", birth_date="date32"),
             ("column 'birth_date' is date32[day], column 'ecog' is int64 in the Parquet file",),
             file_format="parquet"),
    FileCase("typed-parquet-column-center-c", *C_LINES, typed_parquet_columns(pfs_days="int64"),
             ("column 'pfs_days' is int64 in the Parquet file, but every column must be text",),
             file_format="parquet"),
    FileCase("extra-column", *A_AE, extra_column, None),
    FileCase("columns-reordered", *B_ADM, columns_reordered, None),
    FileCase("utf8-bom", *B_PAT, utf8_bom, None),
    FileCase("crlf-line-endings", *C_LINES, crlf_line_endings, None),
    FileCase("every-field-quoted", *A_LINES, every_field_quoted, None),
    FileCase("utf8-bom-and-crlf-line-endings", *B_ASM, bom_and_crlf, None),
    FileCase("blanks-around-header-names", *C_AE, padded_header_names, None),
    FileCase("no-line-break-after-the-last-row", *B_AE, no_final_line_break, None),
]



# ============================================================================
# Delivery-level defects
# ============================================================================
# Each row of such a delivery may be readable, yet the delivery as a whole is
# damaged. They share one raw copy, one center each, built into a copy of the
# clean build's warehouse, so the clean build is "the last successful build"
# the delivery checks compare with.

#: The delivery build: the SQL layer, the delivery gate and the publication,
#: which the gate must keep from running.
DELIVERY_BUILD = [*STUDY_BUILD[:-2], "published_results", *STUDY_BUILD[-2:]]
#: center_c delivers half of its eligible patients of each arm (a partial export).
TRUTH = truth_frame(*(MANIFEST["generator"]["args"][key]
                      for key in ("patients", "centers", "seed")))
CENTER_C_ELIGIBLE = TRUTH.loc[TRUTH["center_id"] == "center_c"]
CENTER_C_DROPPED = {key for _, arm in CENTER_C_ELIGIBLE.groupby("arm", sort=True)
                    for key in arm["patient_key"].sort_values().iloc[1::2]}


def mangle_national_ids(raw_dir: Path, center: str, table: str, column: str) -> None:
    """Every national ID as a spreadsheet shows a long number: 6.40105E+17."""
    def change(rows):
        position = rows[0].index(column)
        for row in rows[1:]:
            digits = row[position][:17] + "0"
            row[position] = f"{int(digits):.5E}"
        return rows
    rewrite_rows(raw_dir / center / f"{table}.csv", change)


def swap_day_and_month(raw_dir: Path, center: str, date_columns: dict[str, list[str]]) -> None:
    """Every DD/MM/YYYY date read as MM/DD/YYYY where that is still a date
    (day 12 or less): no value is unreadable, many are silently wrong."""
    for table, columns in date_columns.items():
        def change(rows, columns=columns):
            positions = [rows[0].index(column) for column in columns]
            for row in rows[1:]:
                for position in positions:
                    parts = row[position].split("/")
                    if len(parts) == 3 and parts[0].isdigit() and int(parts[0]) <= 12:
                        row[position] = f"{parts[1]}/{parts[0]}/{parts[2]}"
            return rows
        rewrite_rows(raw_dir / center / f"{table}.csv", change)


def drop_patients(raw_dir: Path, center: str, keys: set[str]) -> None:
    for (table_center, table), key_column in PATIENT_KEY.items():
        if table_center == center:
            def change(rows, key_column=key_column):
                position = rows[0].index(key_column)
                return [rows[0], *(row for row in rows[1:] if row[position] not in keys)]
            rewrite_rows(raw_dir / center / f"{table}.csv", change)


CENTER_B_DATES = {"patients": ["dob", "death_date", "last_followup"],
                  "drug_administrations": ["admin_date"], "assessments": ["assessment_date"],
                  "adverse_events": ["ae_date"]}
ACCEPTED = ["eligible_patients:center_c"]


def delivery_builds(clean_run: Callable[[], object], root: Path) -> dict:
    """Two builds into a copy of the clean build's warehouse: a delivery
    damaged in three centers (must stop before publication), then one with
    only center_c's partial export, accepted for that run."""
    damaged = copy_raw(root / "damaged_raw")
    mangle_national_ids(damaged, "center_a", "treatment_lines", "id_card_no")
    swap_day_and_month(damaged, "center_b", CENTER_B_DATES)
    drop_patients(damaged, "center_c", CENTER_C_DROPPED)
    accepted = copy_raw(root / "accepted_raw")
    drop_patients(accepted, "center_c", CENTER_C_DROPPED)
    workdir = root / "work"
    workdir.mkdir(parents=True)
    shutil.copy2(clean_run().warehouse, workdir / "warehouse.duckdb")
    stopped = run_dbt(DELIVERY_BUILD, workdir, raw_data_dir=damaged)
    results = json.loads((workdir / "target" / "run_results.json").read_text())
    statuses = {result["unique_id"].rsplit(".", 1)[-1]: result["status"]
                for result in results["results"]}
    # read now: the accepted build below rebuilds the same tables
    center_a_outcomes = dict(query(stopped, "select coalesce(exclusion_reason, 'eligible'), "
                                            "count(*) from intermediate."
                                            "int_study_patients_indexed "
                                            "where center_id = 'center_a' and study_id = "
                                            "'zhang2025_second_line_ici' group by all"))
    accepted_run = run_dbt(STUDY_BUILD, workdir, raw_data_dir=accepted,
                           extra_vars={"accept_delivery_changes": ACCEPTED})
    return {"stopped": stopped, "statuses": statuses, "accepted": accepted_run,
            "workdir": workdir, "center_a_outcomes": center_a_outcomes}


# ============================================================================
# Builds
# ============================================================================

#: The unreadable file-level cases run in one lane per raw_file_format: a
#: lane reuses dbt's parse, which a change of vars invalidates.
LANES = {"csv": "unreadable", "parquet": "unreadable_parquet"}


@dataclass
class RowBuild:
    raw_dir: Path
    rows: dict[str, list[Injected]]
    original_counts: dict[tuple[str, str], int]


@dataclass
class Suite:
    pool: BuildPool
    clean_raw: Path
    row_build: RowBuild
    harmless_raw: Path
    #: holds one lane directory per file format (LANES), with its raw copy in raw/
    root: Path


def copy_raw_as_parquet(raw_dir: Path) -> Path:
    """The embedded exports as Parquet files of text columns (what the
    generator writes with --format parquet)."""
    copy_raw(raw_dir)
    for path in sorted(raw_dir.glob("*/*.csv")):
        header, *rows = parse_csv(path.read_bytes())
        columns = {name: pa.array([row[n] or None for row in rows], type=pa.string())
                   for n, name in enumerate(header)}
        pq.write_table(pa.table(columns), path.with_suffix(".parquet"))
        path.unlink()
    return raw_dir


def export_path(raw_dir: Path, case: FileCase) -> Path:
    return raw_dir / case.center / f"{case.table}.{case.file_format}"


#: Values no message may print however short: direct identifiers (names,
#: national IDs, birth dates, patient keys) in every layout of the exports.
IDENTIFIER_COLUMNS = {"patient_name", "name", "id_card_no", "national_id", "id_number",
                      "birth_date", "dob", "mrn", "patient_key", "case_no"}


def private_values(path: Path, clean: Path) -> set[str]:
    """The cell values of an export that no message may print: every value
    of an identifier column and every value of six characters or more. Read
    from the broken file (through a link, as a careless reader would), or
    from the clean file when the broken one holds no readable data row."""
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            records = [table.column_names, *([str(value or "") for value in row.values()]
                                             for row in table.to_pylist())]
        else:
            records = parse_csv(path.read_bytes())
    except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowException):
        records = []
    header, *rows = records if len(records) > 1 else parse_csv(clean.read_bytes())
    if not IDENTIFIER_COLUMNS & set(header):  # no header row: every row is data
        rows = [header, *rows]
        header = parse_csv(clean.read_bytes())[0]
    if rows and len(header) != len(rows[0]):  # not an export (a system file): all of it
        cells = [value.strip() for row in rows for value in row if value.strip()]
        return set(cells) | {word for cell in cells for word in re.findall(r"[A-Za-z]\w{5,}", cell)}
    identifiers = {n for n, name in enumerate(header) if name in IDENTIFIER_COLUMNS}
    return {value.strip() for row in rows for n, value in enumerate(row)
            if len(value.strip()) >= 6 or (n in identifiers and value.strip())}


def break_a_fresh_copy(case: FileCase, raw_dir: Path, fresh: bool = True) -> dict:
    """Copy the embedded exports to ``raw_dir`` (unless already there and
    ``fresh`` is false), break the case's file and note the values of the
    broken file that no message may print."""
    if fresh or not raw_dir.exists():
        copy_raw_as_parquet(raw_dir) if case.file_format == "parquet" else copy_raw(raw_dir)
    path = export_path(raw_dir, case)
    info = case.breaks(path)
    clean = RAW_DIR / case.center / f"{case.table}.csv"
    return {**info, "private_values": private_values(path, clean)}


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    pool = BuildPool()
    clean_raw = copy_raw(root / "clean_raw")

    raw = RawExports.copy_of_embedded(root / "row_raw")
    original_counts = {(c, t): len(raw.table(c, t).rows) for c, t in PATIENT_KEY}
    injector = Injector(raw)
    rows = {case.kind: case.injected(case.inject(injector)) for case in ROW_CASES}
    raw.save()

    pool.submit("clean", STUDY_BUILD, root / "clean", clean_raw)
    for file_format, lane in LANES.items():
        unreadable = [case for case in FILE_CASES if case.error and case.file_format == file_format]
        pool.submit_job(lane, run_in_one_lane, unreadable, root / lane, STAGING_BUILD,
                        break_a_fresh_copy, {"raw_file_format": file_format})
    pool.submit_job("delivery", delivery_builds, lambda: pool.result("clean"), root / "delivery")
    pool.submit("rows", STUDY_BUILD, root / "rows", raw.directory)

    # Harmless variations share one raw copy (one table each) and one build.
    harmless = [case for case in FILE_CASES if not case.error]
    assert len({(case.center, case.table) for case in harmless}) == len(harmless)
    harmless_raw = root / "harmless" / "raw"
    for case in harmless:
        break_a_fresh_copy(case, harmless_raw, fresh=False)
    pool.submit("harmless", STAGING_BUILD, root / "harmless" / "work", harmless_raw)

    yield Suite(pool, clean_raw, RowBuild(raw.directory, rows, original_counts), harmless_raw,
                root)
    pool.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def clean(suite):
    run = suite.pool.result("clean")
    assert run.returncode == 0, run.output[-6000:]
    return run


@pytest.fixture(scope="session")
def broken(suite):
    run = suite.pool.result("rows")
    assert run.returncode == 0, run.output[-6000:]
    return run


OUTCOMES_SQL = ("select center_id, source_table, source_row_number, row_status, reason, "
                "failing_column from intermediate.int_raw_rows_accounted")


def outcomes(run) -> dict[tuple[str, str, int], tuple[str, str, str | None]]:
    return {(c, t, r): (status, reason, column)
            for c, t, r, status, reason, column in query(run, OUTCOMES_SQL)}


@pytest.fixture(scope="session")
def clean_outcomes(clean):
    return outcomes(clean)


@pytest.fixture(scope="session")
def broken_outcomes(broken):
    return outcomes(broken)


# ============================================================================
# Row-level tests
# ============================================================================

def pytest_params(cases):
    return [pytest.param(case, id=case.kind, marks=getattr(case, "marks", ())) for case in cases]


@pytest.mark.parametrize("case", pytest_params(ROW_CASES))
def test_bad_row_gets_its_outcome(suite, broken, broken_outcomes, case):
    injected = suite.row_build.rows[case.kind]
    assert injected
    for item in injected:
        key = (item.center, item.table, item.row)
        assert key in broken_outcomes, f"raw row {key} is not accounted for"
        status, reason, column = broken_outcomes[key]
        assert (status, reason) == (item.outcome, item.reason), key
        if item.outcome == "quarantined":
            assert column == item.column, key
            mart = query(broken, "select reason, failing_column, reason_description "
                                 "from marts.quarantine where center_id = ? and source_table = ? "
                                 "and source_row_number = ?", list(key))
            assert len(mart) == 1, key
            assert mart[0][:2] == (item.reason, item.column)
            description = mart[0][2]
            assert description.startswith(f"Row {item.row} of "), description
            assert f"column {item.column} " in description, description


@pytest.mark.parametrize("case", pytest_params([c for c in ROW_CASES if c.national_id_status]))
def test_national_id_status_and_link(suite, broken, case):
    """Staging judges each injected ID; only a valid one gets a person link."""
    for item in suite.row_build.rows[case.kind]:
        model = STAGING_MODELS[(item.center, item.table)]
        status, has_link = query(broken, f"select national_id_status, person_link_id is not null "
                                         f"from staging.{model} where source_row_number = ?",
                                 [item.row])[0]
        assert (status, has_link) == (case.national_id_status, case.national_id_status == "valid")


@pytest.mark.parametrize("case", pytest_params([c for c in ROW_CASES if c.hostile_text]))
def test_hostile_text_reaches_no_published_table(broken, case):
    assert not tables_containing(broken, case.hostile_text)


def test_hostile_text_leaves_the_published_tables_intact(clean, broken):
    """The SQL-looking text did not drop or change anything."""
    for table in ("analysis_cohort", "adverse_events", "quarantine", "row_accounting",
                  "dq_results"):
        assert query(broken, "select count(*) from information_schema.tables "
                             "where table_schema = 'marts' and table_name = ?", [table])[0][0]
    assert query(broken, "select count(*) from marts.analysis_cohort") == query(
        clean, "select count(*) from marts.analysis_cohort")


def frame(run, table: str) -> pd.DataFrame:
    columns = [name for (name,) in query(
        run, "select column_name from information_schema.columns where table_schema = 'marts' "
             "and table_name = ? and column_name != 'built_at' order by ordinal_position",
        [table])]
    rows = query(run, f"select {', '.join(columns)} from marts.{table} order by all")
    return pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize("table", ["analysis_cohort", "adverse_events"])
def test_no_valid_row_is_lost_from_the_published_tables(clean, broken, table):
    expected = frame(clean, table)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(frame(broken, table), expected)


def test_cohort_is_still_the_generators_496_patients(broken):
    assert query(broken, "select count(*) from marts.analysis_cohort "
                         "where study_id = 'zhang2025_second_line_ici'")[0][0] == (
        MANIFEST["cohort"]["eligible_patients"])


def test_every_original_raw_row_keeps_its_clean_outcome(suite, clean_outcomes, broken_outcomes):
    changed = {key: (clean_outcomes[key], broken_outcomes.get(key))
               for key in clean_outcomes if broken_outcomes.get(key) != clean_outcomes[key]}
    assert not changed, f"{len(changed)} rows changed outcome: {sorted(changed.items())[:10]}"


def test_only_the_injected_rows_are_new(suite, clean_outcomes, broken_outcomes):
    injected = {(item.center, item.table, item.row) for case in ROW_CASES
                for item in suite.row_build.rows[case.kind]}
    appended = {(center, table, row) for (center, table), count
                in suite.row_build.original_counts.items()
                for row in range(count + 1, data_row_count(
                    suite.row_build.raw_dir / center / f"{table}.csv") + 1)}
    assert appended <= injected
    assert set(broken_outcomes) - set(clean_outcomes) == appended


def test_row_accounting_balances_against_the_broken_files(suite, broken):
    accounted = {(center, table): (total, rows_in) for center, table, total, rows_in in query(
        broken, "select center_id, source_table, sum(row_count), min(rows_in) "
                "from marts.row_accounting group by all")}
    for center, table in PATIENT_KEY:
        rows = data_row_count(suite.row_build.raw_dir / center / f"{table}.csv")
        assert accounted[(center, table)] == (rows, rows), (center, table)


# ============================================================================
# File-level tests
# ============================================================================

def gate_error_prefix(raw_dir: Path, case: FileCase) -> str:
    where = {
        "file": f"center '{case.center}', table '{case.table}' "
                f"(file {export_path(raw_dir, case)})",
        "folder": f"center '{case.center}' (folder {raw_dir / case.center})",
        "raw_data_dir": f"raw_data_dir ({raw_dir})",
    }[case.names]
    return f"Raw export check failed for {where}: "


def printed(value: str, output: str) -> bool:
    """Whether ``value`` appears in ``output`` as a whole (not inside a longer word)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", output) is not None


#: The staging model of an export is named by its kind (docs/center-mapping.md):
#: the line-level exports of centers A and C are line_records.
KIND_OF_EXPORT = {"treatment_lines": "line_records", "lines": "line_records"}
STAGING_MODELS = {(center, table): f"stg_{center}__{KIND_OF_EXPORT.get(table, table)}"
                  for center, table in PATIENT_KEY}


@pytest.mark.parametrize("case", pytest_params([c for c in FILE_CASES if c.error]))
def test_unreadable_export_stops_the_build_naming_center_table_and_file(suite, case):
    lane = LANES[case.file_format]
    run, info = suite.pool.result(lane)[case.kind]
    assert run.returncode != 0
    output = " ".join(run.output.split())
    prefix = gate_error_prefix(suite.root / lane / "raw", case)
    assert prefix in output, output[-3000:]
    problem = output[output.index(prefix) + len(prefix):]
    for fragment in case.error:
        assert fragment.format(**info) in problem, problem[:600]
    assert "OK created" not in run.output, "a model ran although the gate failed"


@pytest.mark.parametrize("case", pytest_params([c for c in FILE_CASES if c.error]))
def test_unreadable_export_message_prints_no_value_of_the_file(suite, case):
    run, info = suite.pool.result(LANES[case.file_format])[case.kind]
    assert info["private_values"]
    leaked = sorted(value for value in info["private_values"] if printed(value, run.output))
    assert not leaked, f"{len(leaked)} value(s) of the file printed, e.g. {leaked[:3]}"


@pytest.mark.parametrize("case", pytest_params([c for c in FILE_CASES if not c.error]))
def test_harmless_variation_is_read_exactly_like_the_clean_file(suite, clean, case):
    run = suite.pool.result("harmless")
    assert run.returncode == 0, run.output[-3000:]
    model = STAGING_MODELS[(case.center, case.table)]
    sql = f"select * exclude (source_file_name) from staging.{model} order by source_row_number"
    actual = pd.DataFrame(query(run, sql))
    expected = pd.DataFrame(query(clean, sql))
    assert len(expected) == data_row_count(suite.clean_raw / case.center / f"{case.table}.csv")
    pd.testing.assert_frame_equal(actual, expected)


# ============================================================================
# Delivery-level tests
# ============================================================================

def gate_message(output: str) -> str:
    return " ".join(output[output.index("Delivery check failed"):].split())


@pytest.fixture(scope="session")
def delivery(suite):
    return suite.pool.result("delivery")


def test_clean_and_row_level_builds_pass_the_delivery_checks(clean, broken):
    for run in (clean, broken):
        assert query(run, "select count(*) from audit.delivery_checks "
                          "where not is_within_limits")[0][0] == 0
        assert query(run, "select checks_run from audit.delivery_gate")[0][0] > 0


def test_a_damaged_delivery_stops_before_publication(delivery):
    run = delivery["stopped"]
    assert run.returncode != 0
    assert "Delivery check failed" in run.output, run.output[-3000:]
    assert delivery["statuses"]["delivery_gate"] == "error"
    assert delivery["statuses"]["published_results"] == "skipped"
    assert not (delivery["workdir"] / "published").exists()


def test_mangled_national_ids_stop_the_build_naming_center_export_column_share_and_limit(
        delivery):
    message = gate_message(delivery["stopped"].output)
    rows = data_row_count(RAW_DIR / "center_a" / "treatment_lines.csv")
    assert (f"center 'center_a', export 'treatment_lines', column 'id_card_no': 100.0% of rows "
            f"have a missing or invalid national ID, which links no records ({rows} of {rows}; "
            f"limit 2.0%)") in message, message


def test_mangled_national_ids_link_no_one(delivery):
    """Was: hundreds of patients sharing 6.40105E+17 were one person, excluded."""
    # built by the stopped build itself, not left from the clean build it copied
    assert delivery["statuses"]["int_study_patients_indexed"] == "success"
    counts = delivery["center_a_outcomes"]
    assert "same_person_as_another_patient" not in counts
    assert counts["eligible"] == sum(MANIFEST["cohort"]["per_center_per_arm"]["center_a"].values())


def test_a_center_losing_half_its_patients_stops_the_build_against_the_last_build(delivery):
    before = len(CENTER_C_ELIGIBLE)
    after = before - len(CENTER_C_DROPPED)
    message = gate_message(delivery["stopped"].output)
    assert (f"center 'center_c': {after} eligible patients, "
            f"{100 * (before - after) / before:.1f}% fewer than the last successful build's "
            f"{before} (limit 20.0%) [check eligible_patients:center_c]") in message, message


def test_dates_swapped_silently_at_one_center_stop_the_build(delivery):
    """No date is unreadable (the raw-export gate passes), but center_b's
    lines and follow-up are wrong: its eligible patients fall."""
    message = gate_message(delivery["stopped"].output)
    assert "[check eligible_patients:center_b]" in message, message
    assert "Delivery check failed" in message and "center 'center_b'" in message


def test_a_change_accepted_for_one_run_passes_and_is_recorded(delivery):
    run = delivery["accepted"]
    assert run.returncode == 0, run.output[-3000:]
    accepted = query(run, "select check_id, is_within_limits, is_accepted "
                          "from audit.delivery_checks where is_accepted or not is_within_limits")
    assert accepted == [("eligible_patients:center_c", False, True)]
    log = query(run, "select status, accepted_delivery_changes, delivery_breaches, "
                     "delivery_profile from audit.run_log order by run_started_at")
    assert [row[0] for row in log] == ["success", "failed", "success"]
    status, accepted_changes, breaches, profile = log[-1]
    assert json.loads(accepted_changes) == ACCEPTED
    assert [(b["check_id"], b["accepted"]) for b in json.loads(breaches)] == [
        ("eligible_patients:center_c", True)]
    assert json.loads(profile)["eligible_patients:center_c"] == (
        len(CENTER_C_ELIGIBLE) - len(CENTER_C_DROPPED))
    # the stopped build recorded its breaches, no profile, and accepted nothing
    _, stopped_accepted, stopped_breaches, stopped_profile = log[1]
    assert stopped_accepted is None and stopped_profile is None
    assert {"eligible_patients:center_c", "eligible_patients:center_b"} <= {
        b["check_id"] for b in json.loads(stopped_breaches)}


def test_every_kind_is_documented():
    documented = (Path(__file__).resolve().parents[2] / "docs" / "bad-inputs.md").read_text(
        encoding="utf-8")
    kinds = [case.kind for case in ROW_CASES] + [case.kind for case in FILE_CASES]
    assert len(set(kinds)) == len(kinds)
    missing = [kind for kind in kinds if f"`{kind}`" not in documented]
    assert not missing, missing


def test_the_suite_covers_at_least_25_kinds():
    assert len(ROW_CASES) + len(FILE_CASES) >= 25


"""center_e: a second administration-level center, in a format the project has not seen.

Made by rewriting the embedded demo's center_b exports row by row (same rows,
same order, same deliberate defects, so data/raw/manifest.json says which
rows are bad): German-style column and file names, ``DD.MM.YYYY`` dates,
sex ``männlich``/``weiblich``, yes/no ``ja``/``nein``. Nothing else changes
(brand drug names, Karnofsky scores, RECIST words), so the only new
spellings are those five.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

#: center_b file -> (center_e file, {center_b column: center_e column}) in column order.
FILES: dict[str, tuple[str, dict[str, str]]] = {
    "patients": ("stammdaten", {
        "patient_key": "patient_id", "name": "patient_name", "national_id": "ssn",
        "dob": "date_of_birth", "gender": "geschlecht", "kps": "karnofsky",
        "smoker": "raucher", "liver_met": "liver_mets", "brain_met": "brain_mets",
        "bone_met": "bone_mets", "other_met_sites": "other_met_count",
        "thoracic_radiotherapy": "rt_thorax", "pci": "pci", "death_date": "sterbedatum",
        "last_followup": "letzter_kontakt"}),
    "drug_administrations": ("medikation", {
        "admin_id": "row_id", "patient_key": "patient_id", "admin_date": "given_date",
        "drug_name": "medication", "dose_mg": "dosis_mg"}),
    "assessments": ("befunde", {
        "assessment_id": "row_id", "patient_key": "patient_id",
        "assessment_date": "assessment_date", "response": "recist_response"}),
    "adverse_events": ("nebenwirkungen", {
        "ae_id": "row_id", "patient_key": "patient_id", "ae_date": "onset_date",
        "ae_description": "adverse_event", "grade": "ae_grade"}),
}
SPELLINGS = {"geschlecht": {"1": "männlich", "2": "weiblich"},
             **{c: {"1": "ja", "0": "nein"} for c in (
                 "raucher", "liver_mets", "brain_mets", "bone_mets", "rt_thorax", "pci")}}
#: The seed rows a completed onboarding appends (center-specific spellings).
SEED_ROWS = {
    "terminology__sex_codes": {"männlich": "male", "weiblich": "female"},
    "terminology__yes_no_codes": {"ja": "true", "nein": "false"},
}
DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def build_center_e(center_b_dir: Path, out_dir: Path) -> dict[str, Path]:
    """center_e's exports from center_b's, as {center_b table: center_e file}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for table, (name, columns) in FILES.items():
        with (center_b_dir / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        path = out_dir / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns.values())
            for row in rows:
                writer.writerow(_value(new, row[old]) for old, new in columns.items())
        written[table] = path
    return written


def _value(column: str, text: str) -> str:
    if column in SPELLINGS:
        return SPELLINGS[column].get(text, text)
    match = DATE.fullmatch(text)
    if match:  # a date that is not a date (31/02) stays as unreadable as it was
        return f"{match[1]}.{match[2]}.{match[3]}"
    return text

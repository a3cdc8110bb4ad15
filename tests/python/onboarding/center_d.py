"""Build center_d's export (German column names and codes) from the generator.

center_d is a format the warehouse has not seen before: German column names,
``DD.MM.YYYY`` dates, ECOG written ``ECOG 1``, sex ``m``/``w``, yes/no as
``ja``/``nein``, lines as ``Linie 2``, upper-case German drug spellings joined
by `` / ``, metastatic sites in German joined by ``+`` and German response
words. It is made by rewriting a center_a export of the generator row by row
(same rows, same order, same defects), so the generator's truth frame and
manifest say exactly what the warehouse must publish and quarantine.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from rwe_synth import generate, truth_frame

#: center_a column -> center_d column, in center_d's column order.
COLUMNS: dict[str, str] = {
    "record_no": "lfd_nr",
    "mrn": "fallnummer",
    "patient_name": "name",
    "id_card_no": "versichertennummer",
    "birth_date": "geburtsdatum",
    "sex": "geschlecht",
    "line_no": "linie",
    "line_start_date": "therapiebeginn",
    "regimen": "therapie",
    "ecog": "allgemeinzustand",
    "metastatic_sites": "metastasen",
    "smoking_history": "raucher",
    "thoracic_rt": "rt_thorax",
    "pci": "pci",
    "best_response": "bestes_ansprechen",
    "progression_date": "progressionsdatum",
    "last_contact_date": "letzter_kontakt",
    "death_date": "sterbedatum",
}
DATE_COLUMNS = ("birth_date", "line_start_date", "progression_date", "death_date",
                "last_contact_date")
SEX = {"M": "m", "F": "w"}
YES_NO = {"Y": "ja", "N": "nein"}
SITES = {"liver": "Leber", "brain": "Hirn", "bone": "Knochen", "adrenal": "Nebenniere",
         "lymph node": "Lymphknoten", "lung": "Lunge", "pleura": "Pleura"}
RESPONSES = {"CR": "Komplette Remission", "PR": "Partielle Remission",
             "SD": "Stabile Erkrankung", "PD": "Progrediente Erkrankung",
             "NE": "nicht beurteilbar"}
#: German spellings; a name not listed (the generator's unknown drug) is upper-cased.
DRUGS = {"etoposide": "ETOPOSID"}
TABLE = "therapielinien"


def patient_key(mrn: str) -> str:
    """center_d's case number for a center_a record number (NX100882 -> FN-100882)."""
    return "FN-" + mrn.removeprefix("NX")


def _date(text: str) -> str:
    # text, not dates: an impossible date (2021-02-30) stays impossible (30.02.2021)
    return re.sub(r"^(\d{4})-(\d{2})-(\d{2})$", r"\3.\2.\1", text)


def rewrite_row(row: dict[str, str]) -> dict[str, str]:
    """One center_a row in center_d's format (empty stays empty)."""
    out = dict(row)
    for column in DATE_COLUMNS:
        out[column] = _date(row[column])
    if row["mrn"]:
        out["mrn"] = patient_key(row["mrn"])
    out["sex"] = SEX.get(row["sex"], row["sex"])
    for column in ("smoking_history", "thoracic_rt", "pci"):
        out[column] = YES_NO.get(row[column], row[column])
    if row["ecog"]:
        out["ecog"] = f"ECOG {row['ecog']}"
    if row["line_no"]:
        out["line_no"] = f"Linie {row['line_no']}"
    if row["regimen"]:
        out["regimen"] = " / ".join(DRUGS.get(d, d.upper()) for d in row["regimen"].split(" + "))
    if row["metastatic_sites"]:
        out["metastatic_sites"] = "+".join(SITES[s] for s in row["metastatic_sites"].split(";"))
    out["best_response"] = RESPONSES.get(row["best_response"], row["best_response"])
    return {new: out[old] for old, new in COLUMNS.items()}


def build_center_d(n_patients: int, seed: int, work: Path) -> dict:
    """Write ``work/export/therapielinien.csv`` (with the generator's dirty rows and one
    deliberately broken row) and ``work/export_clean/therapielinien.csv`` (no defect).

    Returns the truth frame, the expected quarantine
    ({row: (reason, center_d column)}) and both paths.
    """
    manifest = generate(n_patients, 1, seed, work / "generated")
    source = work / "generated" / "center_a" / "treatment_lines.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        rows = [rewrite_row(row) for row in csv.DictReader(handle)]
    expected = {
        dirty["source_row_number"]: (dirty["reason"], COLUMNS[dirty["column"]])
        for dirty in manifest["dirty_rows"]
        if dirty["center_id"] == "center_a" and dirty["table"] == "treatment_lines"
    }
    # the deliberately broken row: a copy of a clean third-line row with ECOG 9
    # (a quarantined first or second line would exclude its patient as
    # incomplete_treatment_history, and the truth would no longer hold)
    original = next(number for number, row in enumerate(rows, start=1)
                    if number not in expected and row["linie"] == "Linie 3")
    broken = dict(rows[original - 1], allgemeinzustand="ECOG 9",
                  lfd_nr=str(max(int(row["lfd_nr"]) for row in rows) + 1))
    rows.append(broken)
    expected[len(rows)] = ("unknown_code", "allgemeinzustand")

    dirty_path = work / "export" / f"{TABLE}.csv"
    clean_path = work / "export_clean" / f"{TABLE}.csv"
    _write(dirty_path, rows)
    _write(clean_path, [row for number, row in enumerate(rows, start=1)
                        if number not in expected])
    truth = truth_frame(n_patients, 1, seed)
    truth["center_id"] = "center_d"
    truth["patient_key"] = [patient_key(key) for key in truth["patient_key"]]
    return {"truth": truth, "expected_quarantine": expected, "export": dirty_path,
            "clean_export": clean_path, "manifest": manifest}


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS.values()),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

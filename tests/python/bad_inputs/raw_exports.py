"""The embedded raw exports as editable tables.

``RawExports(directory)`` holds a copy of ``data/raw``. ``table(center, name)``
parses one CSV export with Python's csv module (the header and the data rows
as lists of strings); ``save()`` writes every table that was touched back in
the exports' own dialect (comma, minimal quoting, ``\\n``), which reproduces an
untouched file byte for byte. Row numbers are 1-based data rows, as the
warehouse's ``source_row_number`` counts them.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dbt_harness import PROJECT_DIR

RAW_DIR = PROJECT_DIR / "data" / "raw"
CENTERS = ("center_a", "center_b", "center_c")

#: Column holding the center's patient key, per (center, table).
PATIENT_KEY = {
    ("center_a", "treatment_lines"): "mrn",
    ("center_a", "adverse_events"): "mrn",
    ("center_b", "patients"): "patient_key",
    ("center_b", "drug_administrations"): "patient_key",
    ("center_b", "assessments"): "patient_key",
    ("center_b", "adverse_events"): "patient_key",
    ("center_c", "lines"): "case_no",
    ("center_c", "adverse_events"): "case_no",
}

#: Column holding the export's own row id, where the export has one.
ROW_ID = {
    ("center_a", "treatment_lines"): "record_no",
    ("center_a", "adverse_events"): "record_no",
    ("center_b", "drug_administrations"): "admin_id",
    ("center_b", "assessments"): "assessment_id",
    ("center_b", "adverse_events"): "ae_id",
    ("center_c", "adverse_events"): "ae_no",
}

#: A fresh patient key for each center that no export uses (checked on use).
FRESH_KEY_FORMAT = {"center_a": "NX99{:04d}", "center_b": "TJ-9{:04d}", "center_c": "NM9{:04d}"}


def copy_raw(destination: Path) -> Path:
    """Copy the embedded exports (CSV files only) to ``destination``."""
    for center in CENTERS:
        (destination / center).mkdir(parents=True, exist_ok=True)
        for source in (RAW_DIR / center).glob("*.csv"):
            shutil.copyfile(source, destination / center / source.name)
    return destination


def parse_csv(data: bytes) -> list[list[str]]:
    """Rows of a CSV file as the exports write it (UTF-8, optional BOM)."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def data_row_count(path: Path) -> int:
    """Data rows (records, not lines) of a CSV file, header excluded."""
    return len(parse_csv(path.read_bytes())) - 1


def to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


@dataclass
class Table:
    """One export: header and data rows, all text."""

    center: str
    name: str
    path: Path
    header: list[str]
    rows: list[list[str]]
    touched: bool = False

    def column(self, name: str) -> int:
        return self.header.index(name)

    def get(self, row_number: int, column: str) -> str:
        return self.rows[row_number - 1][self.column(column)]

    def set(self, row_number: int, column: str, value: str) -> None:
        self.rows[row_number - 1][self.column(column)] = value
        self.touched = True

    def find(self, **values: str) -> list[int]:
        """Row numbers whose columns equal every given value."""
        positions = {self.column(name): value for name, value in values.items()}
        return [number for number, row in enumerate(self.rows, start=1)
                if all(row[position] == value for position, value in positions.items())]

    def append_copy(self, row_number: int, **changes: str) -> int:
        """Append a copy of a row with some columns changed; give it a fresh
        row id when the export has one. Returns the new row's number."""
        row = list(self.rows[row_number - 1])
        row_id = ROW_ID.get((self.center, self.name))
        if row_id is not None and row_id not in changes:
            ids = [int(value) for value in (r[self.column(row_id)] for r in self.rows)
                   if value.isdigit()]
            row[self.column(row_id)] = str(max(ids) + 1)
        for name, value in changes.items():
            row[self.column(name)] = value
        self.rows.append(row)
        self.touched = True
        return len(self.rows)


@dataclass
class RawExports:
    """A copy of data/raw whose tables can be edited and saved."""

    directory: Path
    _tables: dict = field(default_factory=dict)
    _fresh_keys: int = 0

    @classmethod
    def copy_of_embedded(cls, directory: Path) -> RawExports:
        return cls(copy_raw(directory))

    def table(self, center: str, name: str) -> Table:
        if (center, name) not in self._tables:
            path = self.directory / center / f"{name}.csv"
            rows = parse_csv(path.read_bytes())
            self._tables[(center, name)] = Table(center, name, path, rows[0], rows[1:])
        return self._tables[(center, name)]

    def fresh_patient_key(self, center: str) -> str:
        """A patient key no export of the center uses."""
        used = set()
        for (table_center, name), column in PATIENT_KEY.items():
            if table_center == center:
                table = self.table(center, name)
                used.update(row[table.column(column)] for row in table.rows)
        while True:
            self._fresh_keys += 1
            key = FRESH_KEY_FORMAT[center].format(self._fresh_keys)
            if key not in used:
                return key

    def save(self) -> None:
        for table in self._tables.values():
            if table.touched:
                table.path.write_bytes(to_csv([table.header, *table.rows]))
                table.touched = False

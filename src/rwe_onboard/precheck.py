"""Validate a raw export against its center's contract before it enters the warehouse.

Structural checks come from the center's sources YAML (the same metadata the
on-run-start gate reads): the file is readable UTF-8 CSV with data rows,
every required column is present, and every value of a declared date column
is a date in the declared layout. When the center has a mapping
(``_<center>__mapping.yml``, written by the scaffold) the row checks of the
staging model's quality ladder run as well: non-empty keys, whole numbers in
range (ECOG 0..4, line >= 1), codes and list tokens known to the terminology
seeds after lower/trim, events not before the line start, and no exact
duplicate rows. Every problem names file, row (1-based data row, header
excluded: the warehouse's ``source_row_number``) and column. The file is read
strictly (:mod:`rwe_onboard.reader`): a ragged row, an unclosed quote, a
non-UTF-8 byte, a byte-order mark and blank lines are problems too, each at
its data row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from rwe_onboard.contract import (
    FIELD_BY_NAME,
    OnboardingError,
    header_problems,
    mapping_path,
    parse_date,
    sources_path,
    validate_center_id,
    validate_table_name,
)
from rwe_onboard.mapping import Mapping, is_empty, list_tokens, load_mapping, read_integer
from rwe_onboard.reader import Problem, read_export
from rwe_onboard.vocabulary import Vocabulary, normalise_code


@dataclass
class Contract:
    """What the project declares about one export of a center."""

    center_id: str
    table: str
    required_columns: list[str]
    date_columns: dict[str, str]
    mapping: Mapping | None


def load_contract(project_dir: Path, center_id: str, table: str) -> Contract:
    """The declared contract of ``center_id``'s export ``table``."""
    validate_center_id(center_id)
    validate_table_name(table)
    path = sources_path(project_dir, center_id)
    if not path.is_file():
        known = sorted(p.name for p in (project_dir / "models" / "staging").iterdir()
                       if p.is_dir() and (p / f"_{p.name}__sources.yml").is_file())
        raise OnboardingError(f"unknown center {center_id!r}: {path} does not exist "
                              f"(known centers: {', '.join(known)})")
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    tables = {}
    for source in document.get("sources") or []:
        for entry in source.get("tables") or []:
            meta = (entry.get("config") or {}).get("meta") or entry.get("meta") or {}
            tables[entry["name"]] = meta
    if table not in tables:
        raise OnboardingError(f"{center_id} declares no table {table!r} in {path} (it "
                              f"declares {', '.join(sorted(tables))}); pass --table")
    meta = tables[table]
    mapping = None
    if mapping_path(project_dir, center_id).is_file():
        candidate = load_mapping(mapping_path(project_dir, center_id))
        if candidate.table == table and not candidate.todos:
            mapping = candidate
    return Contract(center_id, table, list(meta.get("required_columns") or []),
                    dict(meta.get("date_columns") or {}), mapping)


def precheck(project_dir: Path, center_id: str, file: Path, table: str | None = None
             ) -> list[Problem]:
    """Every problem of ``file`` as an export of ``center_id``, sorted by row and column."""
    table = table or file.stem
    contract = load_contract(project_dir, center_id, table)
    name = str(file)
    export = read_export(file, name)
    problems: list[Problem] = export.problems + export.notices
    header = export.header
    if not header:
        return sorted(problems)
    unusable = header_problems(header)
    if unusable:
        # columns cannot be named reliably: report the header, check nothing else by name
        problems += [Problem(name, 0, "*", message) for message in unusable]
        return sorted(problems)
    if len(header) == 1 and ";" in header[0]:
        problems.append(Problem(name, 0, "*", "the header is one column containing ';': the "
                                "warehouse reads comma-separated files"))
    for column in contract.required_columns:
        if column not in header:
            problems.append(Problem(name, 0, column, "required column is missing"))
    if export.row_count == 0:
        problems.append(Problem(name, 0, "*", "the export has no data rows"))
        return sorted(problems)
    rows = export.records()  # rows with a structural problem are reported above, not here
    for column, layout in contract.date_columns.items():
        if column not in header:
            continue
        filled = parsed = 0
        for number, row in rows:
            value = row[column]
            if is_empty(value):
                continue
            filled += 1
            if parse_date(value, layout) is None:
                problems.append(Problem(name, number, column,
                                        f"{value!r} is not a date in layout {layout}"))
            else:
                parsed += 1
        if filled and not parsed:
            problems.append(Problem(name, 0, column, f"no value is a date in layout {layout}: "
                                    "the build would stop at the raw-export gate"))
    if contract.mapping is not None:
        vocabulary = Vocabulary(project_dir)
        for number, row in rows:
            problems += _row_problems(name, number, row, contract, vocabulary)
    problems += _duplicates(name, rows, header, contract.mapping)
    return sorted(set(problems))


def _row_problems(name: str, number: int, row: dict, contract: Contract,
                  vocabulary: Vocabulary) -> list[Problem]:
    """The quality-ladder checks of one row (all of them, not only the first)."""
    mapping = contract.mapping
    found: list[Problem] = []

    def problem(field: str, message: str) -> None:
        found.append(Problem(name, number, mapping.column(field), message))

    def value(field: str) -> str | None:
        column = mapping.column(field)
        return row.get(column) if column else None

    for field in ("patient_key", "line_start_date", "line_number", "regimen"):
        if mapping.column(field) in row and is_empty(value(field)):
            problem(field, f"missing required value ({field})")
    for field, low, high in (("line_number", 1, None), ("ecog_ps", 0, 4)):
        text = value(field)
        if mapping.column(field) not in row or is_empty(text):
            continue
        number_value = read_integer(text, mapping.fields[field].strip)
        if number_value is None:
            problem(field, f"{text!r} is not a whole number"
                    + (f" once {list(mapping.fields[field].strip)} is removed"
                       if mapping.fields[field].strip else ""))
        elif number_value < low or (high is not None and number_value > high):
            problem(field, f"{text!r} is outside {low}..{high}" if high is not None
                    else f"{text!r} is below {low}")
    if mapping.column("birth_year") in row and not is_empty(value("birth_year")):
        if read_integer(value("birth_year"), ()) is None:
            problem("birth_year", f"{value('birth_year')!r} is not a year")
    for field in ("sex", "is_ever_smoker", "had_thoracic_radiotherapy",
                  "had_prophylactic_cranial_irradiation", "best_response"):
        if mapping.column(field) not in row:
            continue
        text = value(field)
        seed = FIELD_BY_NAME[field].seed
        if is_empty(text):
            if field == "sex":
                problem(field, f"empty: sex is required (a code of {seed})")
            continue
        if not vocabulary.knows(seed, text):
            problem(field, f"unknown code {normalise_code(text)!r} (not in {seed})")
    for field in ("regimen", "metastatic_sites"):
        if mapping.column(field) not in row:
            continue
        seed = FIELD_BY_NAME[field].seed
        tokens = list_tokens(value(field), mapping.fields[field].delimiter)
        what = "drug" if field == "regimen" else "code"
        for token in dict.fromkeys(tokens):
            if token == "":
                problem(field, f"empty {what} in the list (check the delimiter "
                        f"{mapping.fields[field].delimiter!r})")
            elif not vocabulary.knows(seed, token):
                problem(field, f"unknown {what} {token!r} (not in {seed})")
            # a token listed twice is one known token for the warehouse: no problem
    start_layout = contract.date_columns.get(mapping.column("line_start_date") or "")
    start = parse_date(value("line_start_date"), start_layout) if start_layout else None
    if start is not None:
        for field in ("progression_date", "last_progression_free_date", "death_date",
                      "last_contact_date"):
            column = mapping.column(field)
            layout = contract.date_columns.get(column or "")
            event = parse_date(value(field), layout) if layout else None
            if event is not None and event < start:
                problem(field, f"{value(field)!r} is before the line start "
                        f"{value('line_start_date')!r}")
    return found


def _duplicates(name: str, rows: list[tuple[int, dict]], header: list[str],
                mapping: Mapping | None) -> list[Problem]:
    """Rows equal to an earlier row in every column but the export's row id."""
    row_id = mapping.column("row_id") if mapping is not None else None
    key_columns = [c for c in header if c != row_id]
    column = row_id or (mapping.column("patient_key") if mapping is not None else None) or "*"
    first_seen: dict[tuple, int] = {}
    found = []
    for number, row in rows:
        key = tuple(row[c] for c in key_columns)
        if key in first_seen:
            found.append(Problem(name, number, column,
                                 f"exact duplicate of row {first_seen[key]}"))
        else:
            first_seen[key] = number
    return found

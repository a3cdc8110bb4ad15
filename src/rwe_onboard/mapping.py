"""A center's mapping onto the contract: read, validate, and read values with it.

The mapping is a YAML file, ``models/staging/<center>/_<center>__mapping.yml``:

.. code-block:: yaml

    center_id: center_d
    table: therapielinien
    description: One sentence about the export.
    fields:
      patient_key: {column: fallnummer}
      birth_date: {column: geburtsdatum, layout: DD.MM.YYYY}
      ecog_ps: {column: ecog_status, strip: [ecog]}
      sex:
        column: geschlecht
        codes: {"m": male, "w": female}
      regimen:
        column: schema
        delimiter: /
        codes: {"etoposid": etoposide}

Anything still ``TODO`` is unresolved: the scaffold will not write a model
from it. The value readers below (:func:`read_integer`, :func:`list_tokens`,
...) do exactly what the generated SQL does, so the pre-check and the
warehouse agree on every row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rwe_onboard.contract import (
    FIELD_BY_NAME,
    FIELDS,
    LAYOUTS,
    NATIONAL_ID_SCHEMES,
    OnboardingError,
    validate_center_id,
    validate_column_name,
    validate_literal,
    validate_table_name,
)
from rwe_onboard.vocabulary import SEEDS, Vocabulary, normalise_code

TODO = "TODO"
TOP_LEVEL_KEYS = {"center_id", "table", "description", "fields", "identifier_columns"}
OPTION_KEYS = {
    "key": {"column"},
    "national_id": {"column", "scheme"},
    "row_id": {"column"},
    "date": {"column", "layout"},
    "year": {"column"},
    "integer": {"column", "strip"},
    "code": {"column", "codes"},
    "yes_no": {"column", "codes"},
    "list": {"column", "delimiter", "codes"},
}


def is_todo(value: object) -> bool:
    return isinstance(value, str) and value.strip().upper().startswith(TODO)


@dataclass
class FieldMapping:
    """How one contract field is read from the export (column None: not exported)."""

    name: str
    column: str | None
    layout: str | None = None
    strip: tuple[str, ...] = ()
    delimiter: str | None = None
    #: normalised source code -> harmonised value (None: not a valid code)
    codes: dict[str, str | None] = field(default_factory=dict)
    #: national ID scheme (national_id fields only)
    scheme: str | None = None


@dataclass
class Mapping:
    """A center's mapping; ``todos`` lists what is still unresolved."""

    center_id: str
    table: str
    description: str
    fields: dict[str, FieldMapping]
    todos: list[str]
    identifier_columns: tuple[str, ...] = ()

    def column(self, name: str) -> str | None:
        mapped = self.fields.get(name)
        return mapped.column if mapped else None

    @property
    def source_columns(self) -> list[str]:
        """Every source column the mapping reads."""
        return [m.column for m in self.fields.values() if m.column is not None]


def load_mapping(path: Path, header: list[str] | None = None) -> Mapping:
    """Read and validate a mapping file; unresolved TODOs are collected, not raised.

    Parameters
    ----------
    path : pathlib.Path
        The mapping YAML.
    header : list of str, optional
        The export's columns: every mapped column must be one of them.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OnboardingError(f"cannot read mapping {path}: {error}") from error
    return parse_mapping(text, path, header)


def parse_mapping(text: str, path: Path | str, header: list[str] | None = None) -> Mapping:
    """:func:`load_mapping` of a mapping's text; ``path`` names it in messages."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise OnboardingError(f"cannot read mapping {path}: {error}") from error
    if not isinstance(document, dict):
        raise OnboardingError(f"mapping {path} is not a YAML mapping")
    unknown = set(document) - TOP_LEVEL_KEYS
    if unknown:
        raise OnboardingError(f"mapping {path}: unknown key(s) {sorted(unknown)}; "
                              f"allowed: {sorted(TOP_LEVEL_KEYS)}")
    center_id = validate_center_id(document.get("center_id"))
    table = validate_table_name(document.get("table"))
    todos: list[str] = []
    description = document.get("description") or ""
    if not isinstance(description, str) or is_todo(description) or not description.strip():
        todos.append("description: one sentence about the export")
        description = ""
    if re.search(r"[{}]", description):
        raise OnboardingError(f"mapping {path}: the description may not contain braces (dbt "
                              "renders descriptions as Jinja)")
    if not description.replace("\n", " ").isprintable():
        raise OnboardingError(f"mapping {path}: the description may not contain control "
                              "characters")
    raw_fields = document.get("fields") or {}
    if not isinstance(raw_fields, dict):
        raise OnboardingError(f"mapping {path}: 'fields' must be a mapping of contract fields")
    unknown = set(raw_fields) - set(FIELD_BY_NAME)
    if unknown:
        raise OnboardingError(f"mapping {path}: unknown field(s) {sorted(unknown)}; the "
                              f"contract's fields are {[f.name for f in FIELDS]}")
    fields: dict[str, FieldMapping] = {}
    for spec in FIELDS:
        options = raw_fields.get(spec.name)
        if options is None:
            options = {"column": TODO if spec.required else None}
        if not isinstance(options, dict):
            raise OnboardingError(f"mapping {path}: field {spec.name} must be a mapping "
                                  "(column: ..., and its options)")
        fields[spec.name] = _field(spec.name, options, header, todos)
    _check_birth(fields, todos)
    identifiers = document.get("identifier_columns") or []
    if not isinstance(identifiers, list) or not all(isinstance(c, str) for c in identifiers):
        raise OnboardingError(f"mapping {path}: identifier_columns must be a list of columns")
    for column in identifiers:
        validate_column_name(column)
        if header is not None and column not in header:
            raise OnboardingError(f"mapping {path}: identifier column {column!r} is not in the "
                                  "export")
    return Mapping(center_id, table, description.strip(), fields, todos, tuple(identifiers))


def _field(name: str, options: dict, header: list[str] | None, todos: list[str]
           ) -> FieldMapping:
    spec = FIELD_BY_NAME[name]
    unknown = set(options) - OPTION_KEYS[spec.kind]
    if unknown:
        raise OnboardingError(f"field {name}: unknown option(s) {sorted(unknown)}; a "
                              f"{spec.kind} field takes {sorted(OPTION_KEYS[spec.kind])}")
    column = options.get("column")
    mapped = FieldMapping(name, None)
    if is_todo(column):
        todos.append(f"fields.{name}.column: the source column that holds {spec.meaning}")
        return mapped
    if column is None:
        if spec.required and name != "birth_date":
            raise OnboardingError(
                f"field {name} is required by the contract ({spec.meaning}); it cannot be "
                "left unmapped. If the center does not record it, the study cannot use the "
                "center as is: see docs/onboarding-a-center.md")
        return mapped
    mapped.column = validate_column_name(column)
    if header is not None and column not in header:
        raise OnboardingError(f"field {name}: column {column!r} is not in the export "
                              f"(it has {', '.join(header)})")
    if spec.kind == "date":
        layout = options.get("layout", TODO)
        if is_todo(layout):
            todos.append(f"fields.{name}.layout: one of {', '.join(LAYOUTS)}")
        elif not isinstance(layout, str) or layout not in LAYOUTS:
            raise OnboardingError(f"field {name}: unknown date layout {layout!r}; known: "
                                  f"{', '.join(LAYOUTS)} (a new layout goes into "
                                  "macros/adapters/parse_date.sql and rwe_onboard.contract)")
        else:
            mapped.layout = layout
    if spec.kind == "national_id":
        scheme = options.get("scheme", "generic")
        if scheme not in NATIONAL_ID_SCHEMES:
            raise OnboardingError(f"field {name}: unknown national ID scheme {scheme!r}; known: "
                                  f"{', '.join(NATIONAL_ID_SCHEMES)} (a new scheme goes into "
                                  "macros/identifiers.sql and rwe_onboard.contract)")
        mapped.scheme = scheme
    if spec.kind == "integer":
        strip = options.get("strip") or []
        if isinstance(strip, str):
            strip = [strip]
        if not isinstance(strip, list):
            raise OnboardingError(f"field {name}: strip must be a list of texts")
        mapped.strip = tuple(validate_literal(f"{name} strip text", str(s)).lower()
                             for s in strip)
    if spec.kind == "list":
        delimiter = options.get("delimiter", TODO)
        if is_todo(delimiter):
            todos.append(f"fields.{name}.delimiter: the text between two codes")
        elif not isinstance(delimiter, str):
            raise OnboardingError(f"field {name}: the delimiter must be a text (quote it)")
        else:
            mapped.delimiter = validate_literal(f"{name} delimiter", delimiter)
    if spec.seed is not None:
        mapped.codes = _codes(name, spec.seed, options.get("codes") or {}, todos)
    return mapped


def _codes(name: str, seed: str, codes: object, todos: list[str]) -> dict[str, str | None]:
    if not isinstance(codes, dict):
        raise OnboardingError(f"field {name}: codes must map each source code to a value")
    allowed = SEEDS[seed].allowed_values
    result: dict[str, str | None] = {}
    for code, value in codes.items():
        if isinstance(code, bool) or code is None:
            raise OnboardingError(
                f"field {name}: code {code!r} was read by YAML as a boolean/null; quote it "
                "(\"yes\": true, \"n\": false)")
        key = normalise_code(code)
        if is_todo(value):
            todos.append(f"fields.{name}.codes[{key!r}]: its value in {seed} "
                         f"({', '.join(allowed) if allowed else 'a generic drug name'}), "
                         "or ~ if it is not a valid code")
            continue
        if value is None:
            result[key] = None
            continue
        if not isinstance(value, str | bool):
            raise OnboardingError(f"field {name}: code {key!r} maps to {value!r}; a value is a "
                                  "text (or true/false for yes/no codes, ~ for no valid code)")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not key.isprintable() or not value.isprintable():
            raise OnboardingError(
                f"field {name}: code {key!r} -> {value!r} contains a control character and "
                "cannot become a seed row; map it to ~ (its rows are quarantined)")
        if allowed is not None and value not in allowed:
            raise OnboardingError(f"field {name}: code {key!r} maps to {value!r}, which "
                                  f"{seed} does not allow (allowed: {', '.join(allowed)})")
        result[key] = value
    return result


def _check_birth(fields: dict[str, FieldMapping], todos: list[str]) -> None:
    birth_date, birth_year = fields["birth_date"].column, fields["birth_year"].column
    if birth_date and birth_year:
        raise OnboardingError("map birth_date or birth_year, not both")
    unresolved = any(todo.startswith("fields.birth_date.column") for todo in todos)
    if not birth_date and not birth_year and not unresolved:
        raise OnboardingError("the contract needs birth_date or birth_year: map one of them")


# ---------------------------------------------------------------------------
# vocabulary coverage
# ---------------------------------------------------------------------------


@dataclass
class VocabularyGaps:
    """What the seeds lack for a mapping: rows to append, and conflicts."""

    rows: dict[str, list[list[str]]]
    conflicts: list[str]

    def __bool__(self) -> bool:
        return bool(self.conflicts or any(self.rows.values()))


def vocabulary_gaps(mapping: Mapping, vocabulary: Vocabulary) -> VocabularyGaps:
    """Codes the mapping declares that the seeds do not (yet) translate the same way."""
    rows: dict[str, list[list[str]]] = {}
    conflicts: list[str] = []
    declared: dict[tuple[str, str], tuple[str, str | None]] = {}
    for name, mapped in mapping.fields.items():
        seed = FIELD_BY_NAME[name].seed
        if seed is None or mapped.column is None:
            continue
        for code, value in mapped.codes.items():
            if (seed, code) in declared:
                # the yes/no fields share one seed: one code, one meaning
                other, other_value = declared[(seed, code)]
                if other_value != value:
                    conflicts.append(f"{name}: {code!r} means {value!r} here but {other_value!r} "
                                     f"in {other}; both read {seed}")
                continue
            declared[(seed, code)] = (name, value)
            known = vocabulary.lookup(seed, code)
            if value is None:
                if known is not None:
                    conflicts.append(
                        f"{name}: the mapping marks {code!r} as invalid, but {seed} maps it "
                        f"to {known!r}; seeds are shared by every center")
                continue
            if known is None:
                rows.setdefault(seed, []).append(vocabulary.new_row(seed, code, value))
            elif known != value:
                conflicts.append(
                    f"{name}: {code!r} means {value!r} at {mapping.center_id} but {seed} "
                    f"already maps it to {known!r} for another center; seeds are shared, so "
                    "recode this column in the staging model by hand")
    return VocabularyGaps(rows, conflicts)


# ---------------------------------------------------------------------------
# value readers: the Python twin of the generated SQL
# ---------------------------------------------------------------------------


def sql_trim(text: str | None) -> str | None:
    """``trim()`` of the warehouse: blanks only."""
    return None if text is None else text.strip(" ")


def is_empty(text: str | None) -> bool:
    return text is None or sql_trim(text) == ""


def integer_text(text: str, strip: tuple[str, ...]) -> str:
    """The text left to cast once the declared strip texts are removed."""
    value = sql_trim(text).lower()
    for part in strip:
        value = value.replace(part, "")
    return sql_trim(value)


def read_integer(text: str | None, strip: tuple[str, ...]) -> int | None:
    """The whole number ``text`` holds after stripping, or None (also for 1.5)."""
    if is_empty(text):
        return None
    value = integer_text(text, strip)
    if not value.isascii():  # Python reads full-width digits, the warehouse does not
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def list_tokens(text: str | None, delimiter: str) -> list[str]:
    """The codes of a list value, as the warehouse splits them ('' = no codes)."""
    if text is None:
        return []
    value = sql_trim(text).lower()
    if value == "":
        return []
    core = delimiter.strip(" ") or delimiter
    if delimiter.strip(" "):
        value = value.replace(" " + core, core).replace(core + " ", core)
    return value.replace(core, "|").split("|")

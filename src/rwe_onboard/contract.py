"""The line-level contract a center maps into, and the rules for names.

A line-level center delivers one row per patient per treatment line. Its
staging model turns that row into the contract columns listed in
:data:`CONTRACT_COLUMNS` (the exact columns and order that
``int_line_records_unioned`` selects). A center's *mapping* says, for each
:class:`Field` of the contract, which source column holds it and how to read
it (date layout, list delimiter, text to strip, codes). docs/onboarding-a-center.md
documents every field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml


class OnboardingError(Exception):
    """A problem the user must fix; the message says what and how."""


class InvalidNameError(OnboardingError):
    """A center id, table name or column name that may not be used."""


# ---------------------------------------------------------------------------
# date layouts (mirror macros/adapters/parse_date.sql)
# ---------------------------------------------------------------------------

#: Layout -> (shape of the text, order of the day/month/year groups). Day and
#: month take one or two digits, as DuckDB's strptime reads them.
#: The year must have four digits here; DuckDB's strptime also reads '21' as
#: the year 21, so the pre-check is stricter than the warehouse on purpose.
LAYOUTS: dict[str, tuple[re.Pattern[str], str]] = {
    "YYYY-MM-DD": (re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"), "ymd"),
    "DD/MM/YYYY": (re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})"), "dmy"),
    "YYYYMMDD": (re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"), "ymd"),
    "YYYY/M/D": (re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"), "ymd"),
    "DD.MM.YYYY": (re.compile(r"([0-9]{1,2})[.]([0-9]{1,2})[.]([0-9]{4})"), "dmy"),
}


def parse_date(text: str | None, layout: str) -> dt.date | None:
    """The date ``text`` holds in ``layout``, or None (empty, wrong shape or impossible).

    Surrounding blanks are ignored, as the warehouse trims before parsing.
    """
    if text is None:
        return None
    shape, order = LAYOUTS[layout]
    match = shape.fullmatch(text.strip())
    if match is None:
        return None
    first, second, third = (int(group) for group in match.groups())
    year, month, day = (first, second, third) if order == "ymd" else (third, second, first)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# the contract
# ---------------------------------------------------------------------------

#: The staging model's output columns, in order: (name, type, meaning).
CONTRACT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("patient_id", "varchar", "keyed pseudonym of the center's patient key"),
    ("folded_patient_id", "varchar",
     "keyed pseudonym of the patient key with case and spaces folded (finds two spellings)"),
    ("person_link_id", "varchar",
     "keyed pseudonym of the national ID, the same at every center (null if not exported "
     "or invalid in its scheme)"),
    ("national_id_status", "varchar", "valid / invalid / missing (null if not exported)"),
    ("national_id_source_column", "varchar", "raw column of the national ID, for messages"),
    ("center_id", "varchar", "the center id"),
    ("source_table", "varchar", "the export (table) the row comes from"),
    ("source_file_name", "varchar", "file the row was read from"),
    ("source_row_number", "integer", "1-based data row of the file (header excluded)"),
    ("birth_year", "integer", "year of birth (the birth date itself stops at staging)"),
    ("sex", "varchar", "male / female"),
    ("is_ever_smoker", "boolean", "current or former smoker"),
    ("had_thoracic_radiotherapy", "boolean", "prior thoracic radiotherapy"),
    ("had_prophylactic_cranial_irradiation", "boolean", "prophylactic cranial irradiation"),
    ("line_number", "integer", "line of therapy, 1 = first line"),
    ("ecog_ps", "integer", "ECOG performance status 0..4 at line start"),
    ("regimen_drug_list", "varchar", "'|'-separated lower-case drug tokens"),
    ("metastatic_site_list", "varchar", "'|'-separated lower-case site tokens"),
    ("best_response", "varchar", "RECIST 1.1 best overall response CR/PR/SD/PD/NE"),
    ("line_start_date", "date", "start of the line"),
    ("progression_date", "date", "progression on this line, null if none"),
    ("last_progression_free_date", "date", "last date known free of progression, if exported"),
    ("death_date", "date", "date of death, null if alive"),
    ("last_contact_date", "date", "last contact (censoring date)"),
    ("quarantine_reason", "varchar", "first data-quality rule the row breaks, null if clean"),
    ("failing_column", "varchar", "raw column of that rule"),
    ("regimen_source_column", "varchar", "raw column of the regimen (for quarantine messages)"),
    ("metastatic_sites_source_column", "varchar", "raw column of the metastatic sites"),
)

#: National ID schemes a mapping can declare (national_id.scheme), as the
#: macro national_id_is_valid checks them (macros/identifiers.sql).
NATIONAL_ID_SCHEMES: dict[str, str] = {
    "prc_resident_id": "18-character PRC resident ID with its ISO 7064 MOD 11-2 check character",
    "generic": "no check digit: 5 to 32 characters, no '.', '+' or ',' (spreadsheet mangling)",
}

#: Kinds of field and how a value is read.
KINDS = {
    "key": "text, trimmed; empty = missing",
    "national_id": "text, trimmed, upper case, spaces and hyphens removed, checked in its "
                   "scheme; empty or invalid = no link",
    "row_id": "text; only used to name duplicate rows",
    "date": "text in the declared date layout",
    "year": "four-digit year",
    "integer": "whole number after removing the declared text (strip)",
    "code": "one code, matched lower/trim against a terminology seed",
    "yes_no": "one yes/no code, matched lower/trim against terminology__yes_no_codes",
    "list": "codes joined by a delimiter, each matched lower/trim against a seed",
}


@dataclass(frozen=True)
class Field:
    """One thing a center must (or may) provide, and how it reaches the contract."""

    name: str
    kind: str
    required: bool
    #: contract column(s) it feeds
    feeds: str
    meaning: str
    #: an empty value quarantines the row (missing_required_value)
    value_required: bool = False
    seed: str | None = None
    #: inclusive range of an integer field
    value_range: tuple[int, int | None] | None = None
    #: header spellings that suggest this field (compared after normalising)
    synonyms: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("patient_key", "key", True, "patient_id",
          "the center's patient key (record number); pseudonymised in staging",
          value_required=True,
          synonyms=("mrn", "patient_key", "patient_id", "pat_id", "patid", "pid", "case_no",
                    "caseno", "case_number", "record_number", "medical_record_number",
                    "hospital_number", "subject_id", "fallnummer", "fall_nr", "fallnr",
                    "patientennummer", "pat_nr")),
    Field("national_id", "national_id", False, "person_link_id",
          "the person's national ID (insurance, ID card number); links one person across "
          "centers as a keyed pseudonym, never leaves staging",
          synonyms=("national_id", "national_id_number", "id_card_no", "id_card", "id_number",
                    "ssn", "social_security_number", "insurance_number", "versichertennummer",
                    "kvnr", "nhs_number", "personal_number")),
    Field("row_id", "row_id", False, "(duplicate detection only)",
          "the export's own row id, left out when looking for exact duplicate rows",
          synonyms=("record_no", "row_id", "record_id", "row_no", "row_number", "lfd_nr",
                    "laufende_nummer", "seq", "seq_no")),
    Field("birth_date", "date", True, "birth_year",
          "date of birth (or map birth_year instead); only the year leaves staging",
          synonyms=("dob", "birth_date", "birthdate", "date_of_birth", "geburtsdatum",
                    "geb_datum", "gebdat")),
    Field("birth_year", "year", False, "birth_year",
          "year of birth, for centers that export no birth date",
          synonyms=("birth_year", "yob", "year_of_birth", "geburtsjahr")),
    Field("sex", "code", True, "sex", "sex; an empty or unknown code quarantines the row",
          seed="terminology__sex_codes",
          synonyms=("sex", "gender", "geschlecht", "sexe")),
    Field("is_ever_smoker", "yes_no", True, "is_ever_smoker", "ever smoker (former counts)",
          seed="terminology__yes_no_codes",
          synonyms=("smoker", "smoking", "smoking_history", "ever_smoker", "smoking_status",
                    "raucher", "rauchen", "nikotin")),
    Field("had_thoracic_radiotherapy", "yes_no", True, "had_thoracic_radiotherapy",
          "prior thoracic radiotherapy", seed="terminology__yes_no_codes",
          synonyms=("thoracic_rt", "thoracic_radiotherapy", "chest_rt", "trt", "thorax_rt",
                    "rt_thorax", "thorakale_rt")),
    Field("had_prophylactic_cranial_irradiation", "yes_no", True,
          "had_prophylactic_cranial_irradiation", "prophylactic cranial irradiation",
          seed="terminology__yes_no_codes",
          synonyms=("pci", "prophylactic_cranial_irradiation", "pci_done")),
    Field("line_number", "integer", True, "line_number", "line of therapy (1, 2, 3 ...)",
          value_required=True, value_range=(1, None),
          synonyms=("line", "line_no", "line_number", "lot", "line_of_therapy",
                    "therapy_line", "therapielinie", "linie")),
    Field("ecog_ps", "integer", True, "ecog_ps",
          "ECOG performance status at line start; empty excludes the patient later",
          value_range=(0, 4),
          synonyms=("ecog", "ps", "ecog_ps", "performance_status", "ps_score", "ecog_status",
                    "who_ps")),
    Field("regimen", "list", True, "regimen_drug_list",
          "drugs of the line; an empty list or an unknown drug quarantines the row",
          value_required=True, seed="terminology__drug_names",
          synonyms=("regimen", "drugs", "drug", "therapy", "treatment", "regime", "schema",
                    "protocol", "substanzen", "medikamente", "regimen_pinyin")),
    Field("metastatic_sites", "list", True, "metastatic_site_list",
          "metastatic sites at line start; empty = none; an unknown site quarantines the row",
          seed="terminology__metastatic_sites",
          synonyms=("mets", "metastases", "metastatic_sites", "met_sites", "metastasis",
                    "metastasen", "met_loc")),
    Field("best_response", "code", True, "best_response",
          "RECIST 1.1 best overall response on the line; empty = not evaluable",
          seed="terminology__recist_responses",
          synonyms=("response", "best_response", "bor", "recist", "best_overall_response",
                    "ansprechen", "bestes_ansprechen")),
    Field("line_start_date", "date", True, "line_start_date", "start of the line",
          value_required=True,
          synonyms=("start", "start_date", "line_start", "line_start_date", "start_dt",
                    "begin_date", "beginn", "therapiebeginn", "linienbeginn")),
    Field("progression_date", "date", True, "progression_date",
          "progression on this line; empty if none",
          synonyms=("progression", "progression_date", "pd_date", "progress_date",
                    "date_of_progression", "progressionsdatum", "progress_datum")),
    Field("last_progression_free_date", "date", False, "last_progression_free_date",
          "last date known free of progression (optional)",
          synonyms=("last_progression_free_date", "last_pf_date")),
    Field("death_date", "date", True, "death_date", "date of death; empty if alive",
          synonyms=("death", "death_date", "dod", "date_of_death", "sterbedatum", "todesdatum",
                    "tod")),
    Field("last_contact_date", "date", True, "last_contact_date",
          "last contact with the patient (censoring date)",
          synonyms=("last_contact", "last_contact_date", "last_followup", "last_follow_up",
                    "last_fu", "last_seen", "last_visit", "letzter_kontakt")),
)
FIELD_BY_NAME: dict[str, Field] = {field.name: field for field in FIELDS}
DATE_FIELDS: tuple[str, ...] = tuple(field.name for field in FIELDS if field.kind == "date")

#: Header spellings of direct identifiers other than the patient key and birth
#: date: never shown as examples, always dropped by staging.
IDENTIFIER_SYNONYMS: tuple[str, ...] = (
    "name", "patient_name", "first_name", "last_name", "surname", "given_name", "full_name",
    "vorname", "nachname", "national_id", "id_card_no", "id_number", "ssn",
    "social_security_number", "insurance_number", "versichertennummer", "kvnr", "address",
    "adresse", "phone", "telefon", "email",
)


def normalise_header(name: str) -> str:
    """Lower case, every run of non-alphanumerics as one underscore."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


#: Longest column name the model can name (DuckDB and PostgreSQL identifiers).
MAX_COLUMN_NAME = 63


def describe_name(value: str, limit: int = 40) -> str:
    """A header for a message: quoted with every control character escaped, cut if long."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def header_problems(header: list[str]) -> list[str]:
    """Why a header cannot be read safely: one sentence per column, naming its position.

    A name must be non-empty, printable (no newline, tab, control, format or
    non-UTF-8 character), at most :data:`MAX_COLUMN_NAME` characters, and
    differ from every other name once case and punctuation are ignored (the
    warehouse names columns case-insensitively; the profile guesses by the
    normalised name).
    """
    problems: list[str] = []
    seen: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(header, start=1):
        where = f"column {position} ({describe_name(name)})"
        if not name.strip(" "):
            problems.append(f"column {position} has no name")
            continue
        if any(0xDC80 <= ord(char) <= 0xDCFF for char in name):
            problems.append(f"{where}: the name is not UTF-8 text")
            continue
        unprintable = sorted({f"U+{ord(char):04X}" for char in name if not char.isprintable()})
        if unprintable:
            problems.append(f"{where}: the name contains a newline, control or non-printable "
                            f"character ({', '.join(unprintable)})")
            continue
        if len(name) > MAX_COLUMN_NAME:
            problems.append(f"{where}: the name is longer than {MAX_COLUMN_NAME} characters")
            continue
        key = normalise_header(name) or name.strip().lower()
        if key in seen:
            other, other_name = seen[key]
            problems.append(f"{where}: the same name as column {other} "
                            f"({describe_name(other_name)}) once case and punctuation are "
                            "ignored")
        else:
            seen[key] = (position, name)
    return problems


def validate_header(header: list[str], what: str) -> list[str]:
    """``header`` if every name is safe to profile and to name in the model.

    Raises :class:`InvalidNameError` listing every column that is not (by
    position), before anything is written.
    """
    problems = header_problems(header)
    if not problems:
        for position, name in enumerate(header, start=1):
            try:
                validate_column_name(name)
            except InvalidNameError as error:
                problems.append(f"column {position}: {error}")
    if problems:
        raise InvalidNameError(
            f"{what}: the header has column names the warehouse cannot use; ask the center to "
            "rename them in the export (the staging model names every column unquoted):\n  "
            + "\n  ".join(problems))
    return header


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------

CENTER_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,30}")
#: Source column names are written into SQL unquoted: plain identifiers only.
COLUMN_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

#: SQL (ANSI, DuckDB, Spark, Snowflake, BigQuery) reserved words: no center
#: id, table or source column may be one.
SQL_RESERVED_WORDS: frozenset[str] = frozenset("""
    all alter analyse analyze and any array as asc asymmetric at authorization between
    both by case cast check collate column constraint create cross current current_date
    current_time current_timestamp current_user database default deferrable delete desc
    describe distinct do drop else end except exists extract false fetch for foreign from
    full grant group having ilike in initially inner insert intersect into is join
    lateral leading left like limit localtime localtimestamp merge natural not null
    offset on only or order outer over partition pivot placing primary qualify range
    recursive references returning right rows select set some symmetric table tablesample
    then to trailing true truncate union unique unpivot update user using values view
    when where window with within
""".split())
#: Names that mean something to dbt, Jinja or this project's schemas: no
#: center id or table may be one.
DBT_RESERVED_WORDS: frozenset[str] = frozenset("""
    adapter builtins config dbt env_var exceptions execute flags graph invocation_id
    log model modules none project_name ref return run_query run_started_at schema
    schemas source sources target this var vars seed seeds snapshot test tests macro
    macros exposure metric staging intermediate marts raw terminology main audit
""".split())
RESERVED_WORDS: frozenset[str] = SQL_RESERVED_WORDS | DBT_RESERVED_WORDS


def _check_name(kind: str, value: str, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidNameError(
            f"invalid {kind} {value!r}: it must match {rule} (lower-case letter first, then "
            "lower-case letters, digits or underscores); nothing else reaches SQL, file "
            "paths or YAML")
    if value in RESERVED_WORDS:
        raise InvalidNameError(
            f"invalid {kind} {value!r}: it is an SQL or dbt reserved word; pick another")
    return value


def validate_center_id(value: str) -> str:
    """``value`` if it is a safe center id, else :class:`InvalidNameError`."""
    return _check_name("center id", value, CENTER_ID_PATTERN, "^[a-z][a-z0-9_]{1,30}$")


def validate_table_name(value: str) -> str:
    """``value`` if it is a safe table (export file) name, else :class:`InvalidNameError`."""
    return _check_name("table name", value, CENTER_ID_PATTERN, "^[a-z][a-z0-9_]{1,30}$")


def validate_column_name(value: str) -> str:
    """``value`` if a source column name can be written into SQL unquoted."""
    if not isinstance(value, str) or not COLUMN_PATTERN.fullmatch(value):
        shown = describe_name(value) if isinstance(value, str) else repr(value)
        raise InvalidNameError(
            f"source column {shown} is not a plain identifier (letters, digits, underscores, "
            f"not starting with a digit, at most {MAX_COLUMN_NAME} characters); ask the center "
            "to rename it in the export")
    if value.lower() in SQL_RESERVED_WORDS or value.lower() in {"source_row_number",
                                                                "source_file_name"}:
        raise InvalidNameError(
            f"source column {value!r} is an SQL reserved word or a column the warehouse "
            "reader adds; ask the center to rename it in the export")
    return value


#: Characters a delimiter or a strip text may not contain: they would end an
#: SQL string literal or a Jinja expression in the generated model.
UNSAFE_LITERAL = re.compile(r"['\"\\{}%#\x00-\x1f]")


def validate_literal(kind: str, value: str) -> str:
    """``value`` if it can be written inside an SQL string literal of the model."""
    if (not isinstance(value, str) or value == "" or UNSAFE_LITERAL.search(value)
            or not value.isprintable() or len(value) > 20):
        shown = describe_name(value) if isinstance(value, str) else repr(value)
        raise OnboardingError(
            f"invalid {kind} {shown}: a non-empty printable text of at most 20 characters "
            "without quotes, backslashes, braces, % or #")
    return value


# ---------------------------------------------------------------------------
# the project's existing centers
# ---------------------------------------------------------------------------


def staging_dir(project_dir: Path, center_id: str) -> Path:
    return project_dir / "models" / "staging" / center_id


def sources_path(project_dir: Path, center_id: str) -> Path:
    return staging_dir(project_dir, center_id) / f"_{center_id}__sources.yml"


def mapping_path(project_dir: Path, center_id: str) -> Path:
    return staging_dir(project_dir, center_id) / f"_{center_id}__mapping.yml"


def declared_sources(project_dir: Path) -> dict[str, Path]:
    """Source name -> the sources YAML that declares it, for every staging folder."""
    found: dict[str, Path] = {}
    for path in sorted((project_dir / "models").rglob("*.yml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if not isinstance(document, dict):
            continue
        for source in document.get("sources") or []:
            if isinstance(source, dict) and isinstance(source.get("name"), str):
                found[source["name"]] = path
    return found


def ensure_project(project_dir: Path) -> Path:
    """``project_dir`` resolved, if it holds this dbt project."""
    project_dir = project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file() or not (
            project_dir / "models" / "staging").is_dir():
        raise OnboardingError(
            f"{project_dir} is not the warehouse project (no dbt_project.yml and "
            "models/staging); pass --project-dir")
    return project_dir

"""Draft a center's mapping from sample exports, with a TODO for what it cannot infer.

For each sample the draft guesses the kind of staging model it feeds (the
kind whose contract fields its headers match best), then for each column the
contract field (by header words, kept only when the values fit the field's
type), the date layout, list delimiter, whole-number prefix, relative-time
unit, Karnofsky scale and national-ID scheme the values show. What it cannot
infer is ``TODO``; a TODO left in a column or kind does not compile, and
precheck refuses any, so nothing half guessed is ever built. The spellings the
terminology seeds do not know yet become seed rows to append (printed, with
``TODO`` for their meaning).

The field list, types and seeds come from the export contract
(:func:`rwe_onboard.contract.load_reference`); :data:`HEADER_WORDS` only
holds the header spellings that suggest a field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rwe_onboard.contract import (
    OnboardingError,
    Reference,
    check_center_id,
    load_reference,
    mapping_path,
)
from rwe_onboard.profile import FIT, ColumnProfile, FileProfile, normalise_header, profile_export
from rwe_onboard.reader import read_export, summarise
from rwe_onboard.vocabulary import Vocabulary

TODO = "TODO"

#: Header spellings (normalised) that suggest a contract field. Hints only: a
#: field the contract does not define is never proposed (a test keeps every
#: name here a contract field).
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "patient_key": ("mrn", "patient_key", "patient_id", "pat_id", "case_no", "case_number",
                    "record_number", "fallnummer", "person_id", "subject_id"),
    "national_id": ("national_id", "id_card_no", "id_number", "ssn", "insurance_number",
                    "versichertennummer", "nhs_number"),
    "birth_date": ("birth_date", "dob", "date_of_birth", "geburtsdatum", "birth_datetime"),
    "sex": ("sex", "gender", "geschlecht", "gender_source_value"),
    "ecog_ps": ("ecog", "ecog_ps", "ps", "ps_score", "performance_status", "kps", "karnofsky",
                "allgemeinzustand"),
    "is_ever_smoker": ("smoker", "smoking", "smoking_history", "ever_smoker", "smoking_status",
                       "raucher"),
    "had_thoracic_radiotherapy": ("thoracic_rt", "thoracic_radiotherapy", "chest_rt",
                                  "rt_thorax"),
    "had_prophylactic_cranial_irradiation": ("pci", "prophylactic_cranial_irradiation"),
    "has_liver_metastases": ("liver_met", "liver_mets", "liver_metastases"),
    "has_brain_metastases": ("brain_met", "brain_mets", "brain_metastases"),
    "has_bone_metastases": ("bone_met", "bone_mets", "bone_metastases"),
    "other_metastatic_site_count": ("other_met_sites", "other_metastatic_sites",
                                    "other_met_count"),
    "metastatic_sites": ("metastatic_sites", "met_sites", "mets", "metastases", "metastasen"),
    "line_number": ("line_no", "line_number", "line", "lot", "line_of_therapy", "linie"),
    "regimen": ("regimen", "regimen_pinyin", "drugs", "therapy", "therapie"),
    "line_start_date": ("line_start_date", "start_date", "line_start", "therapiebeginn"),
    "progression_date": ("progression_date", "pd_date", "progressionsdatum"),
    "progression_time": ("pfs_days", "pfs_months", "pfs_time", "time_to_progression"),
    "progression_observed": ("progressed", "pfs_event", "progression_event"),
    "death_time": ("os_days", "os_months", "os_time", "survival_months"),
    "death_observed": ("dead", "died", "deceased", "os_event", "death_event"),
    "death_date": ("death_date", "dod", "date_of_death", "sterbedatum"),
    "last_contact_date": ("last_contact_date", "last_contact", "last_followup",
                          "last_follow_up", "letzter_kontakt"),
    "best_response": ("best_response", "response", "bor", "bestes_ansprechen"),
    "administration_date": ("admin_date", "administration_date", "given_date"),
    "drug_name": ("drug_name", "drug", "medication"),
    "dose": ("dose", "dose_mg"),
    "assessment_date": ("assessment_date", "assessed_on"),
    "response": ("response", "recist_response", "overall_response"),
    "ae_onset_date": ("onset_date", "ae_date", "ae_onset_date", "onset"),
    "ae_term": ("ae_term", "ae_description", "ae_name", "adverse_event"),
    "ctcae_grade": ("ctcae_grade", "grade", "ae_grade"),
}
#: Header spellings of an export's own row id (left out of duplicate detection).
ROW_ID_WORDS = frozenset({"record_no", "row_id", "record_id", "admin_id", "assessment_id",
                          "ae_id", "ae_no", "lfd_nr", "row_no"})
#: Fields whose column is a direct identifier (listed in identifier_columns).
IDENTIFYING_FIELDS = ("patient_key", "national_id", "birth_date")
#: A PRC resident ID: 17 digits and a check character.
PRC_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
#: YAML 1.1 words a plain scalar would turn into booleans or null.
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"}


@dataclass
class TableDraft:
    """The drafted mapping of one export table."""

    #: the file name without extension (the dbt source identifier)
    name: str
    #: the staging model kind it feeds (the source table's name)
    kind: str
    kind_note: str
    #: raw column -> field name, a mapping with options, None (not read) or TODO
    columns: dict[str, object]
    row_id: str | None
    unmapped_fields: list[str]
    #: seed -> CSV lines to append
    seed_rows: dict[str, list[str]] = field(default_factory=dict)


def format_profiles(project_dir: Path, samples: list[Path],
                    reference: Reference | None = None) -> str:
    """The profile of each sample as a table (identifiers never show values)."""
    reference = reference or load_reference(project_dir)
    out = []
    for sample in samples:
        profile = profile_export(_read_sample(sample), list(reference.layouts))
        out.append(f"{sample}: {profile.row_count} rows, {len(profile.columns)} columns")
        out.append(f"  {'column':<24} {'filled':>6} {'distinct':>8} {'looks like':<24} "
                   "spellings / delimiter")
        for column in profile.columns.values():
            looks = column.kind + (f" {column.date_layout}" if column.date_layout else "")
            if column.kind == "integer" and column.number_affix:
                looks += f" around {column.number_affix!r}"
            shown = ("(identifier: withheld)" if column.is_identifier
                     else ", ".join(column.spellings[:8])
                     + (" ..." if len(column.spellings) > 8 else ""))
            if column.delimiter:
                shown = f"delimiter {column.delimiter!r}: {shown}"
            out.append(f"  {column.name:<24} {column.filled_share:>6.0%} "
                       f"{column.distinct_count:>8} {looks:<24} {shown}")
    return "\n".join(out)


def _read_sample(path: Path):
    export = read_export(path)
    if export.problems or not export.header or not export.rows:
        raise OnboardingError(f"{path} is not a readable export; fix the sample first:\n"
                              + (summarise(export.problems) or "  no header or no data rows"))
    return export


def draft_center(project_dir: Path, center: str, shape: str, samples: list[Path], *,
                 force: bool = False, echo: Callable[[str], None] = print,
                 reference: Reference | None = None) -> Path:
    """Write the draft mapping of ``center`` (and the one-line staging model of each kind,
    ``{{ stage_export(center, kind) }}``), print its TODOs and the seed rows to append."""
    check_center_id(center)
    reference = reference or load_reference(project_dir)
    if shape not in reference.shapes:
        raise OnboardingError(f"unknown shape {shape!r}; known: {', '.join(reference.shapes)}")
    if shape == "omop_cdm":
        raise OnboardingError(
            "an omop_cdm center's tables and fields are the CDM's, so there is nothing to "
            "draft: copy center_d's mapping (models/staging/center_d/_center_d__mapping.yml) "
            "and change center_id, the date layouts and row_kinds; `profile` lists the "
            "samples' spellings, `precheck` checks the files (docs/onboarding-a-center.md)")
    target = mapping_path(project_dir, center)
    if target.exists() and not force:
        raise OnboardingError(f"{target} exists; pass --force to replace it with a new draft")
    profiles = [profile_export(_read_sample(s), list(reference.layouts)) for s in samples]
    tables = draft_tables(profiles, reference, shape, Vocabulary(project_dir, center))
    text = render_mapping(center, shape, tables, profiles)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    for kind in sorted({t.kind for t in tables} - {TODO}):
        # the staging model of a kind is one line, rendered by dbt from the mapping
        model = target.parent / f"stg_{center}__{kind}.sql"
        model.write_text(f"{{{{ stage_export('{center}', '{kind}') }}}}\n", encoding="utf-8")
        echo(f"wrote {model}")
    todos = [line.strip() for line in text.splitlines() if TODO in line]
    echo(f"wrote {target} ({len(todos)} line(s) with TODO):")
    echo("\n".join(f"  {line}" for line in todos))
    seed_rows: dict[str, list[str]] = {}
    for table in tables:
        for seed, rows in table.seed_rows.items():
            known = seed_rows.setdefault(seed, [])
            known += [row for row in rows if row not in known]
    for seed, rows in seed_rows.items():
        echo(f"append to seeds/terminology/{seed}.csv, each TODO replaced by its meaning "
             "(a spelling left out quarantines its rows):")
        echo("\n".join(f"  {row}" for row in rows))
    echo(f"then register the center in dbt_project.yml (vars: centers: {center}: {shape}) "
         f"and run python -m rwe_onboard precheck --center {center} <exports>")
    return target


def draft_tables(profiles: list[FileProfile], reference: Reference, shape: str,
                 vocabulary: Vocabulary) -> list[TableDraft]:
    """One drafted table per sample, each with a kind of ``shape``."""
    kinds = reference.shapes[shape]
    scores = {(p.name, kind): _kind_score(p, kind, reference) for p in profiles for kind in kinds}
    assigned: dict[str, str] = {}
    for (name, kind), score in sorted(scores.items(), key=lambda item: -item[1]):
        if name not in assigned and kind not in assigned.values() and score > 0:
            assigned[name] = kind
    tables = []
    for profile in profiles:
        kind = assigned.get(profile.name)
        if kind is None:
            tables.append(TableDraft(profile.name, TODO, f"one of {', '.join(kinds)}",
                                     {c: TODO for c in profile.columns}, None, []))
            continue
        fields = reference.fields(kind)
        matched = sum(_field_for(c, fields) is not None for c in profile.columns.values())
        tables.append(_draft_table(profile, kind, reference, vocabulary,
                                   f"guessed: {matched} of {len(profile.columns)} headers "
                                   "name its fields"))
    return tables


def _kind_score(profile: FileProfile, kind: str, reference: Reference) -> int:
    fields = reference.fields(kind)
    matched = sum(1 for c in profile.columns.values() if _field_for(c, fields) is not None)
    return matched + (2 if profile.name == kind else 0)


def _field_for(column: ColumnProfile, fields: dict[str, dict]) -> str | None:
    header = normalise_header(column.name)
    for name, words in HEADER_WORDS.items():
        if name in fields and header in words and _fits(column, fields[name]):
            return name
    return None


def _fits(column: ColumnProfile, spec: dict) -> bool:
    """Whether the values of ``column`` can be read as a field of ``spec``'s type."""
    if not column.values:
        return True
    kind = spec["type"]
    if kind == "date":
        return column.date_layout is not None
    if kind == "whole_number":
        return column.integer_share >= FIT
    if kind == "relative_time":
        return column.numeric_share >= FIT
    if kind in ("code", "yes_no"):
        return bool(column.spellings)
    return True


def _draft_table(profile: FileProfile, kind: str, reference: Reference,
                 vocabulary: Vocabulary, note: str) -> TableDraft:
    fields = reference.fields(kind)
    columns: dict[str, object] = {}
    taken: set[str] = set()
    row_id = None
    seed_rows: dict[str, list[str]] = {}
    for column in profile.columns.values():
        name = _field_for(column, fields)
        if name is None or name in taken:
            header = normalise_header(column.name)
            if header in ROW_ID_WORDS and row_id is None:
                row_id = column.name
            columns[column.name] = None if column.is_identifier or header in ROW_ID_WORDS \
                else TODO
            continue
        taken.add(name)
        columns[column.name] = _entry(column, fields[name])
        _collect_seed_rows(column, fields[name], vocabulary, seed_rows)
    key = next((c for c, e in columns.items() if e == "patient_key"), None)
    if row_id is None and kind == "patients" and key is not None \
            and profile.columns[key].distinct_count == profile.row_count:
        row_id = key  # one row per patient: the patient key is the row id
    required = [n for n, s in fields.items() if s["mapping"] == "required" and n not in taken]
    for group in reference.contracts[kind].get("one_of") or []:
        if not taken & set(group):
            required.append(" or ".join(group))
    return TableDraft(profile.name, kind, note, columns, row_id, required, seed_rows)


def _entry(column: ColumnProfile, spec: dict) -> object:
    """A column's entry: the field name, or the field with its options."""
    options: dict[str, object] = {}
    values = column.values
    if spec["type"] == "date":
        options["layout"] = column.date_layout or TODO
    elif spec["type"] == "list":
        options["delimiter"] = column.delimiter or TODO
    elif spec["type"] == "whole_number" and column.number_affix:
        options["strip"] = column.number_affix.upper()
    elif spec["type"] == "national_id":
        share = sum(bool(PRC_RESIDENT_ID.fullmatch(v.strip())) for v in values) / max(
            len(values), 1)
        options["scheme"] = "prc_resident_id" if share >= FIT else TODO
    elif spec["type"] == "relative_time":
        header = normalise_header(column.name)
        options["unit"] = ("days" if "days" in header else "months" if "months" in header
                           else "days" if column.integer_share >= FIT else TODO)
    if spec.get("karnofsky_seed") and values and all(
            v.strip().isdigit() and int(v) % 10 == 0 and int(v) <= 100 for v in values) \
            and any(int(v) > 4 for v in values):
        options["scale"] = "karnofsky"
    return {"field": spec["name"], **options} if options else spec["name"]


def _collect_seed_rows(column: ColumnProfile, spec: dict, vocabulary: Vocabulary,
                       seed_rows: dict[str, list[str]]) -> None:
    seed = spec.get("seed") or spec.get("items_seed")
    if not seed or not column.spellings:
        return
    for spelling in column.spellings:
        if not vocabulary.knows(seed["seed"], spelling, seed["term"]):
            row = vocabulary.new_row(seed["seed"], spelling, seed["term"])
            rows = seed_rows.setdefault(seed["seed"], [])
            if row not in rows:
                rows.append(row)


# ---------------------------------------------------------------------------
# the YAML text (written line by line for its comments, read back to check it)
# ---------------------------------------------------------------------------


def _scalar(value: object) -> str:
    """One YAML scalar: plain when it is a safe name, else double-quoted (JSON escapes)."""
    if value is None:
        return "~"
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./ -]*", text) and text.lower() not in _YAML_WORDS \
            and not text.endswith((" ", "-")) and ": " not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _entry_text(entry: object) -> str:
    if isinstance(entry, dict):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in entry.items()) + "}"
    return _scalar(entry)


def render_mapping(center: str, shape: str, tables: list[TableDraft],
                   profiles: list[FileProfile]) -> str:
    """The mapping file's text (docs/center-mapping.md)."""
    identifiers: list[str] = []
    for table, profile in zip(tables, profiles, strict=True):
        for column, entry in table.columns.items():
            name = entry.get("field") if isinstance(entry, dict) else entry
            if (name in IDENTIFYING_FIELDS or profile.columns[column].is_identifier) \
                    and column not in identifiers:
                identifiers.append(column)
    lines = [
        "version: 2",
        "",
        f"# Draft mapping of {center}, written by `python -m rwe_onboard draft` from "
        f"{len(tables)} sample(s).",
        "# Resolve every to-do below (docs/onboarding-a-center.md): one left in a column or",
        "# kind fails dbt at compile time, and precheck refuses a mapping with any left.",
        "sources:",
        f"  - name: {center}",
        "    description: TODO one sentence - who sends the exports, one row per what",
        f"    schema: raw_{center}",
        "    config:",
        f"      enabled: \"{{{{ '{center}' in var('centers', {{}}) }}}}\"",
        "      meta:",
        f"        center_id: {center}",
        f"        shape: {shape}",
        "        identifier_columns: [" + ", ".join(_scalar(c) for c in identifiers) + "]",
    ]
    if shape != "line_records":
        lines += ["        # line_derivation: {line_gap_days: ..., "
                  "line_restart_after_progression_days: ...}  (default: the vars)"]
    lines.append("    tables:")
    for table in tables:
        lines.append(f"      - name: {table.kind}  # the kind it feeds; {table.kind_note}")
        if table.name != table.kind:
            lines.append(f"        identifier: {_scalar(table.name)}  # the file name")
        lines += ["        description: TODO one row per what",
                  "        config:",
                  "          meta:"]
        if table.row_id:
            lines.append(f"            row_id: {_scalar(table.row_id)}")
        lines.append("            columns:")
        for column, entry in table.columns.items():
            note = "  # TODO a field of this kind, or ~ if not read" if entry == TODO else ""
            lines.append(f"              {_scalar(column)}: {_entry_text(entry)}{note}")
        if table.unmapped_fields:
            lines.append("        # TODO no column guessed for required field(s): "
                         + ", ".join(table.unmapped_fields))
    text = "\n".join(lines) + "\n"
    _check_reads_back(text, center, tables)
    return text


def _check_reads_back(text: str, center: str, tables: list[TableDraft]) -> None:
    """The text must read as the data it was written from (no header can add a key)."""
    document = yaml.safe_load(text)
    source = document["sources"][0]
    read = {t.get("identifier", t["name"]): t["config"]["meta"]["columns"]
            for t in source["tables"]}
    if source["name"] != center or read != {t.name: t.columns for t in tables}:
        raise OnboardingError("internal error: the draft mapping does not read back as "
                              "written; please report it with the samples' headers")

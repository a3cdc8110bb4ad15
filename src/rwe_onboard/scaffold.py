"""Write a center's staging folder from its mapping, and register the model.

Files written into ``models/staging/<center>/``:

- ``_<center>__sources.yml``: the source, with ``meta.required_columns`` and
  ``meta.date_columns`` for the on-run-start gate (macros/check_raw_exports.sql);
- ``stg_<center>__<table>.sql``: the staging model, in the CTE shape and with
  the data-quality ladder of center A's model, ending in the contract columns;
- ``_<center>__models.yml``: descriptions and tests;
- ``_<center>__mapping.yml``: the mapping it was written from (the record).

From a complete mapping the model is enabled and added to
``vars.line_record_models`` in dbt_project.yml. From a mapping that still has
TODOs (the draft) the same folder is written as a *draft*: the model starts
with ``{{ config(enabled=false) }}`` and a comment listing the TODOs, every
unresolved piece is a ``todo__...`` placeholder, the source is disabled too
(so the raw-export gate does not look for a file that is not delivered yet)
and nothing is registered: ``dbt parse`` and everyone's ``dbt build`` are
unaffected.

The first line of every file written carries :data:`MARKER` and the SHA-256
digest of the rest of the file. A file is replaced only if it carries the
marker and still matches its digest (the scaffold's own, untouched output),
or, for a file edited by hand since, with ``overwrite_edits``; a file without
the marker is never replaced. All files are written to temporary files first
and renamed into place at the end, so a refusal writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from rwe_onboard.contract import (
    DATE_FIELDS,
    FIELD_BY_NAME,
    OnboardingError,
    mapping_path,
    sources_path,
    staging_dir,
    validate_column_name,
)
from rwe_onboard.mapping import Mapping

#: First line of every file the scaffold writes, followed by "(sha256:<digest>)".
MARKER = "written by python -m rwe_onboard onboard-center"
DIGEST = re.compile(re.escape(MARKER) + r" \(sha256:([0-9a-f]{16})\)")
LINE_RECORD_VAR = re.compile(r"^(\s*line_record_models:\s*\[)([^\]\n]*)(\]\s*(#.*)?)$",
                             re.MULTILINE)
#: yes/no fields: (field, raw-text alias, join alias)
YES_NO = (
    ("is_ever_smoker", "smoking"),
    ("had_thoracic_radiotherapy", "thoracic_rt"),
    ("had_prophylactic_cranial_irradiation", "pci"),
)


def model_name(center_id: str, table: str) -> str:
    return f"stg_{center_id}__{table}"


class _Flow(list):
    """A list written in flow style: [a, b, c]."""


class _Folded(str):
    """A long text written as a folded block (>)."""


class _Dumper(yaml.SafeDumper):
    """The project's YAML style: 2-space indent, sequences indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=True))
_Dumper.add_representer(_Folded, lambda dumper, data: dumper.represent_scalar(
    "tag:yaml.org,2002:str", data, style=">"))


def _dump(document: dict) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=96,
                     indent=2)


# ---------------------------------------------------------------------------
# the first-line marker and its digest
# ---------------------------------------------------------------------------


def digest(body: str) -> str:
    """The digest the marker records: SHA-256 of everything after the first line."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def stamp(body: str, style: str) -> str:
    """``body`` with the marker line first (``style``: sql, yaml or draft)."""
    mark = f"{MARKER} (sha256:{digest(body)})"
    first = {
        "sql": f"{{#- {mark} -#}}",
        "yaml": f"# {mark}: edit the mapping and rerun it instead.",
        "draft": f"# {mark}: a draft; complete it in place, then rerun with --mapping.",
    }[style]
    return f"{first}\n{body}"


def file_state(text: str) -> str:
    """``foreign`` (no marker), ``untouched`` (matches its digest) or ``edited``.

    A marker without a digest (older scaffold output) counts as edited: there is
    no proof it was not.
    """
    first, _newline, body = text.partition("\n")
    if MARKER not in first:
        return "foreign"
    match = DIGEST.search(first)
    if match is None or match.group(1) != digest(body):
        return "edited"
    return "untouched"


def is_scaffold_file(path: Path) -> bool:
    """Whether ``path`` carries the scaffold's marker on its first line."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return MARKER in handle.readline()


def todo_summary(todos: list[str]) -> list[str]:
    """The TODOs of a mapping as short, inert labels (no text from the export).

    Codes are counted per field, not quoted: they come from the sample and
    must never reach SQL or Jinja.
    """
    labels: dict[str, int] = {}
    for todo in todos:
        match = re.match(r"fields\.([a-z_]+)\.codes\[", todo)
        label = f"fields.{match.group(1)}.codes" if match else todo.split(": ", 1)[0]
        label = re.sub(r"[^a-z0-9_.]", "?", label)
        labels[label] = labels.get(label, 0) + 1
    return [f"{label}: {count} code(s) without a value" if label.endswith(".codes") else label
            for label, count in labels.items()]


# ---------------------------------------------------------------------------
# sources YAML
# ---------------------------------------------------------------------------


def render_sources(mapping: Mapping, header: list[str]) -> str:
    """``_<center>__sources.yml``: every column of the export is required."""
    dates = {m.column: m.layout for name, m in mapping.fields.items()
             if name in DATE_FIELDS and m.column is not None and m.layout is not None}
    description = mapping.description.replace("\n", " ")
    config: dict = {"meta": {"center_id": mapping.center_id}}
    if mapping.todos:
        description = (description or "TODO: the mapping's description.") + (
            " Draft: disabled until the mapping's TODOs are resolved (no export is read).")
        config = {"enabled": False, **config}
    document = {
        "version": 2,
        "sources": [{
            "name": mapping.center_id,
            "description": _Folded(f"{description} Mapping: _{mapping.center_id}__mapping.yml."),
            "config": config,
            "schema": f"raw_{mapping.center_id}",
            "tables": [{
                "name": mapping.table,
                "description": "One row per patient per treatment line.",
                "config": {"meta": {"required_columns": _Flow(header),
                                    "date_columns": dates}},
            }],
        }],
    }
    return _dump(document)


# ---------------------------------------------------------------------------
# the staging model
# ---------------------------------------------------------------------------


def _col(mapping: Mapping, name: str) -> str:
    """``source.<column>`` of a mapped field (a placeholder for a TODO)."""
    column = mapping.column(name)
    return f"source.{column}" if column else f"source.todo__{name}"


def _raw(mapping: Mapping, name: str) -> str:
    column = mapping.column(name)
    return column if column else f"todo__{name}"


def _integer_expression(mapping: Mapping, name: str) -> str:
    """SQL text of an integer field once its strip texts are removed (for dbt.safe_cast)."""
    expression = f"trim({_col(mapping, name)})"
    strip = mapping.fields[name].strip
    if strip:
        expression = f"lower({expression})"
        for part in strip:
            expression = f"replace({expression}, '{part}', '')"
        expression = f"trim({expression})"
    return expression


def _list_expression(text_column: str, delimiter: str) -> str:
    """'|'-separated tokens: one blank either side of the delimiter is dropped first."""
    core = delimiter.strip(" ") or delimiter
    expression = text_column
    if delimiter.strip(" "):
        expression = f"replace(replace({expression}, ' {core}', '{core}'), '{core} ', '{core}')"
    return f"replace({expression}, '{core}', '|')"


def _list_or_todo(mapping: Mapping, name: str, text_column: str) -> str:
    delimiter = mapping.fields[name].delimiter
    if delimiter is None:
        return f"todo__{name}_delimiter({text_column})"
    return _list_expression(text_column, delimiter)


def render_model(mapping: Mapping, header: list[str]) -> str:
    """``stg_<center>__<table>.sql`` without its marker line (see the module docstring)."""
    center, table = mapping.center_id, mapping.table
    fields = mapping.fields
    mapped = {name for name, m in fields.items() if m.column is not None}
    row_id = mapping.column("row_id")
    for column in header:
        validate_column_name(column)
    uses_birth_year = "birth_year" in mapped

    def included(name: str) -> bool:
        """A date field the model reads: mapped, or required (a TODO in a draft)."""
        if name == "birth_date":
            return not uses_birth_year
        return name in mapped or FIELD_BY_NAME[name].required

    def parse(name: str) -> str:
        layout = fields[name].layout
        if layout is None:  # a TODO of the draft: a placeholder, never a guessed layout
            return f"todo__{name}_layout({_col(mapping, name)})"
        return f"{{{{ parse_date('{_col(mapping, name)}', '{layout}') }}}}"

    national_id = mapping.column("national_id")
    out: list[str] = [
        f"{{#- From _{center}__mapping.yml: edit the mapping and rerun the scaffold rather",
        "    than this file. One row per treatment line. Direct identifiers stop here:",
        "    only keyed pseudonyms and the birth year leave. -#}",
    ]
    if mapping.todos:
        out += [
            "{{ config(enabled=false) }}",
            f"{{#- DRAFT, disabled: _{center}__mapping.yml still has TODOs. Resolve them and",
            "    rerun python -m rwe_onboard onboard-center with --mapping: that writes this",
            "    model enabled and registers it. Placeholders named todo__... mark each gap.",
            *(f"    TODO {label}" for label in todo_summary(mapping.todos)),
            "-#}",
        ]
    out += [
        "with",
        "",
        "source as (",
        f"    select * from {{{{ source('{center}', '{table}') }}}}",
        "),",
        "",
        "sex_codes as (",
        "    select * from {{ ref('terminology__sex_codes') }}",
        "),",
        "",
        "yes_no_codes as (",
        "    select * from {{ ref('terminology__yes_no_codes') }}",
        "),",
        "",
        "responses as (",
        "    select * from {{ ref('terminology__recist_responses') }}",
        "),",
        "",
        "parsed as (",
        "    select",
        "        ---------- provenance",
        "        source.source_file_name,",
        "        cast(source.source_row_number as {{ dbt.type_int() }}) as source_row_number,",
        "        ---------- keys",
        f"        nullif(trim({_col(mapping, 'patient_key')}), '') as center_patient_key,",
    ]
    if national_id:
        out += [
            f"        nullif(upper(replace(replace(trim(source.{national_id}), ' ', ''), '-', '')),"
            " '')",
            "            as national_id_normalised,",
        ]
    out += [
        "        ---------- raw text kept for the quality ladder below",
    ]
    for name in DATE_FIELDS:
        if included(name):
            out.append(f"        {_col(mapping, name)} as {name}_text,")
    if uses_birth_year:
        out.append(f"        {_col(mapping, 'birth_year')} as birth_year_text,")
    out += [
        f"        {_col(mapping, 'sex')} as sex_text,",
        f"        {_col(mapping, 'ecog_ps')} as ecog_text,",
        f"        {_col(mapping, 'line_number')} as line_number_text,",
        f"        {_col(mapping, 'best_response')} as best_response_text,",
    ]
    for name, alias in YES_NO:
        out.append(f"        {_col(mapping, name)} as {alias}_text,")
    out += [
        "        ---------- recoded attributes",
        "        sex_codes.sex,",
    ]
    for name, alias in YES_NO:
        out.append(f"        {alias}.is_yes as {name},")
    for name in ("ecog_ps", "line_number"):
        expression = _integer_expression(mapping, name)
        out.append(f"        {{{{ safe_cast_whole_number(\"{expression}\") }}}} as {name},")
    out += [
        "        responses.response_code as best_response,",
        f"        lower(trim({_col(mapping, 'regimen')})) as regimen_text,",
        f"        lower(trim({_col(mapping, 'metastatic_sites')})) as metastatic_sites_text,",
        "        ---------- dates",
    ]
    if uses_birth_year:
        birth_year = f"trim({_col(mapping, 'birth_year')})"
        out.append(f"        {{{{ safe_cast_whole_number(\"{birth_year}\") }}}} as birth_year,")
    else:
        out.append(f"        cast(extract(year from {parse('birth_date')}) "
                   "as {{ dbt.type_int() }}) as birth_year,")
    for name in DATE_FIELDS:
        if name == "birth_date" or not included(name):
            continue
        out.append(f"        {parse(name)} as {name},")
    partition = [f"source.{c}" for c in header if c != row_id]
    duplicate_column = row_id or _raw(mapping, "patient_key")
    if row_id:
        out += [
            "        ---------- duplicates: every column but the export's row id",
            f"        {{{{ duplicate_row_columns('source.{row_id}', [",
            *_wrap([f"'{column}'" for column in partition], "            "),
            "        ]) }}",
        ]
    else:
        out += [
            "        ---------- exact-duplicate detection: every column (no row id)",
            "        row_number() over (",
            "            partition by",
            *_wrap(partition, "                "),
            "            order by cast(source.source_row_number as {{ dbt.type_int() }})",
            "        ) as copy_number",
        ]
    out += [
        "    from source",
        "    left join sex_codes",
        f"        on lower(trim({_col(mapping, 'sex')})) = lower(sex_codes.source_term)",
    ]
    for name, alias in YES_NO:
        out += [f"    left join yes_no_codes as {alias}",
                f"        on lower(trim({_col(mapping, name)})) = lower({alias}.source_term)"]
    out += [
        "    left join responses",
        f"        on lower(trim({_col(mapping, 'best_response')})) "
        "= lower(responses.source_term)",
        "),",
        "",
        "checked as (",
        "    select",
        "        parsed.*,",
        "        {{ first_quality_failure([",
    ]
    rules = _ladder(mapping, included, uses_birth_year, duplicate_column)
    out += [f"            ('{reason}', '{column}', {_condition(condition)}),"
            for reason, column, condition in rules]
    regimen_list = _list_or_todo(mapping, "regimen", "regimen_text")
    sites_list = _list_or_todo(mapping, "metastatic_sites", "metastatic_sites_text")
    scheme = mapping.fields["national_id"].scheme
    person_link = (
        [f"        {{{{ person_link_columns('national_id_normalised', '{scheme}', "
         f"'{national_id}') }}}},"]
        if national_id else
        [f"        cast(null as {{{{ dbt.type_string() }}}}) as {name},"
         for name in ("person_link_id", "national_id_status", "national_id_source_column")])
    last_pf = ("last_progression_free_date" if "last_progression_free_date" in mapped
               else "cast(null as date) as last_progression_free_date")
    out += [
        "        ]) }}",
        "    from parsed",
        "),",
        "",
        "final as (",
        "    select",
        "        ---------- keys",
        f"        {{{{ pseudonymise('{center}', 'center_patient_key') }}}} as patient_id,",
        f"        {{{{ folded_patient_id('{center}', 'center_patient_key') }}}}"
        " as folded_patient_id,",
        *person_link,
        "        ---------- provenance",
        f"        '{center}' as center_id,",
        f"        '{table}' as source_table,",
        "        source_file_name,",
        "        source_row_number,",
        "        ---------- patient attributes",
        "        birth_year,",
        "        sex,",
        "        is_ever_smoker,",
        "        had_thoracic_radiotherapy,",
        "        had_prophylactic_cranial_irradiation,",
        "        ---------- line attributes",
        "        line_number,",
        "        ecog_ps,",
        "        {#- lists are normalised to '|'-separated lower-case tokens -#}",
        f"        {regimen_list} as regimen_drug_list,",
        f"        {sites_list} as metastatic_site_list,",
        "        best_response,",
        "        ---------- dates",
        "        line_start_date,",
        "        progression_date,",
        f"        {last_pf},",
        "        death_date,",
        "        last_contact_date,",
        "        ---------- data quality",
        "        quarantine_reason,",
        "        failing_column,",
        "        ---------- raw column names of the lists, for quarantine messages",
        f"        '{_raw(mapping, 'regimen')}' as regimen_source_column,",
        f"        '{_raw(mapping, 'metastatic_sites')}' as metastatic_sites_source_column",
        "    from checked",
        ")",
        "",
        "select * from final",
    ]
    return "\n".join(out) + "\n"


def _wrap(items: list[str], indent: str, width: int = 96) -> list[str]:
    lines, current = [], ""
    for index, item in enumerate(items):
        piece = item + ("," if index < len(items) - 1 else "")
        if current and len(indent) + len(current) + 1 + len(piece) > width:
            lines.append(indent + current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        lines.append(indent + current)
    return lines


#: Conditions ending with these are compared with the build date (macro
#: build_date), which the template writes as a Jinja expression.
AFTER_BUILD_DATE = " > BUILD_DATE"
AFTER_BUILD_YEAR = " > BUILD_YEAR"


def _condition(condition: str) -> str:
    """The Jinja expression of a ladder condition in the generated model."""
    if condition.endswith(AFTER_BUILD_DATE):
        return f'"{condition.removesuffix(AFTER_BUILD_DATE)} > " ~ build_date()'
    if condition.endswith(AFTER_BUILD_YEAR):
        return (f'"{condition.removesuffix(AFTER_BUILD_YEAR)} > extract(year from " '
                '~ build_date() ~ ")"')
    return f'"{condition}"'


def _ladder(mapping: Mapping, included, uses_birth_year: bool, duplicate_column: str
            ) -> list[tuple[str, str, str]]:
    """The data-quality rules in priority order: (reason, raw column, condition)."""
    raw = lambda name: _raw(mapping, name)  # noqa: E731
    filled = "nullif(trim(parsed.{0}), '') is not null"
    rules = [
        ("missing_required_value", raw("patient_key"), "parsed.center_patient_key is null"),
        ("missing_required_value", raw("line_start_date"),
         "nullif(trim(parsed.line_start_date_text), '') is null"),
        ("missing_required_value", raw("line_number"),
         "nullif(trim(parsed.line_number_text), '') is null"),
        ("unparseable_date", raw("line_start_date"), "parsed.line_start_date is null"),
    ]
    if uses_birth_year:
        rules.append(("unknown_code", raw("birth_year"),
                      "parsed.birth_year is null and " + filled.format("birth_year_text")))
    else:
        rules.append(("unparseable_date", raw("birth_date"),
                      "parsed.birth_year is null and " + filled.format("birth_date_text")))
    for name in ("progression_date", "last_progression_free_date", "death_date",
                 "last_contact_date"):
        if included(name):
            rules.append(("unparseable_date", raw(name),
                          f"parsed.{name} is null and " + filled.format(f"{name}_text")))
    rules.append(("date_after_build_date", raw("line_start_date"),
                  "parsed.line_start_date" + AFTER_BUILD_DATE))
    if not uses_birth_year:
        rules.append(("date_after_build_date", raw("birth_date"),
                      "parsed.birth_year" + AFTER_BUILD_YEAR))
    for name in ("progression_date", "last_progression_free_date", "death_date",
                 "last_contact_date"):
        if included(name):
            rules.append(("date_after_build_date", raw(name), f"parsed.{name}" + AFTER_BUILD_DATE))
    rules += [
        ("unknown_code", raw("line_number"),
         "parsed.line_number is null or parsed.line_number < 1"),
        ("unknown_code", raw("sex"), "parsed.sex is null"),
        ("unknown_code", raw("ecog_ps"),
         filled.format("ecog_text")
         + " and (parsed.ecog_ps is null or parsed.ecog_ps not between 0 and 4)"),
        ("unknown_code", raw("best_response"),
         "parsed.best_response is null and " + filled.format("best_response_text")),
    ]
    for name, alias in YES_NO:
        rules.append(("unknown_code", raw(name),
                      f"parsed.{name} is null and " + filled.format(f"{alias}_text")))
    for name in ("progression_date", "last_progression_free_date", "death_date",
                 "last_contact_date"):
        if included(name):
            rules.append(("date_order_violation", raw(name),
                          f"parsed.{name} < parsed.line_start_date"))
    if mapping.column("row_id"):
        rules.append(("conflicting_row_id", duplicate_column, "parsed.has_conflicting_row_id"))
    rules.append(("duplicate_row", duplicate_column, "parsed.copy_number > 1"))
    return rules


# ---------------------------------------------------------------------------
# models YAML
# ---------------------------------------------------------------------------

_DOCS = {
    "patient_id": '{{ doc("col_patient_id") }}',
    "folded_patient_id": '{{ doc("col_folded_patient_id") }}',
    "person_link_id": '{{ doc("col_person_link_id") }}',
    "national_id_status": '{{ doc("col_national_id_status") }}',
    "national_id_source_column": '{{ doc("col_national_id_source_column") }}',
    "center_id": '{{ doc("col_center_id") }}',
    "source_table": '{{ doc("col_source_table") }}',
    "source_file_name": '{{ doc("col_source_file_name") }}',
    "source_row_number": '{{ doc("col_source_row_number") }}',
    "birth_year": '{{ doc("col_birth_year") }}',
    "sex": '{{ doc("col_sex") }}',
    "line_number": '{{ doc("col_line_number") }}',
    "ecog_ps": '{{ doc("col_ecog_ps") }}',
    "regimen_drug_list": '{{ doc("col_regimen_drug_list") }}',
    "metastatic_site_list": '{{ doc("col_metastatic_site_list") }}',
    "best_response": '{{ doc("col_best_response") }}',
    "line_start_date": '{{ doc("col_line_start_date") }}',
    "progression_date": '{{ doc("col_progression_date") }}',
    "death_date": '{{ doc("col_death_date") }}',
    "last_contact_date": '{{ doc("col_last_contact_date") }}',
    "quarantine_reason": '{{ doc("col_quarantine_reason") }}',
    "failing_column": '{{ doc("col_failing_column") }}',
    "regimen_source_column": '{{ doc("col_regimen_source_column") }}',
    "metastatic_sites_source_column": '{{ doc("col_metastatic_sites_source_column") }}',
}


def render_models_yml(mapping: Mapping) -> str:
    """``_<center>__models.yml``: the model's description, column docs and tests."""
    from rwe_onboard.contract import CONTRACT_COLUMNS

    center, table = mapping.center_id, mapping.table
    sources = {m.name: m.column for m in mapping.fields.values()}
    columns = []
    for name, _type, meaning in CONTRACT_COLUMNS:
        description = _DOCS.get(name)
        if description is None:
            column = sources.get(name)
            todo = any(todo.startswith(f"fields.{name}.column") for todo in mapping.todos)
            description = (f"{meaning[0].upper()}{meaning[1:]} (from `{column}`)." if column
                           else f"{meaning[0].upper()}{meaning[1:]} (TODO: no column mapped "
                                "yet)." if todo
                           else f"{meaning[0].upper()}{meaning[1:]}; not exported by "
                                f"{center}, always null.")
        entry: dict = {"name": name, "description": description}
        if name == "center_id":
            entry["data_tests"] = _Flow(["not_null"])
        if name == "source_row_number":
            entry["data_tests"] = _Flow(["not_null", "unique"])
        if name == "quarantine_reason":
            entry["data_tests"] = [{"relationships": {"arguments": {
                "to": "ref('terminology__row_outcome_reasons')", "field": "reason"}}}]
        columns.append(entry)
    draft = ("Draft, disabled until the TODOs of the mapping are resolved. "
             if mapping.todos else "")
    document = {"version": 2, "models": [{
        "name": model_name(center, table),
        "description": _Folded(
            f"{draft}One row per raw row of {center}'s {table} export (one row per treatment "
            "line): renamed, cast and recoded through the terminology seeds, direct identifiers "
            "removed, with the first data-quality rule the row breaks. Nothing is filtered: "
            "row_accounting counts from here."),
        "columns": columns,
    }]}
    return _dump(document)


# ---------------------------------------------------------------------------
# writing and registering
# ---------------------------------------------------------------------------


@dataclass
class Target:
    """A file the scaffold is about to write.

    ``kind``: ``generated`` (sources, model, models YAML: replaced only when
    untouched), ``mapping`` (the mapping record: the user's text, replaced
    when untouched or identical) or ``project`` (dbt_project.yml: an edit
    computed from its current text).
    """

    path: Path
    text: str
    kind: str
    #: why an edited file may be replaced, or what to do instead (for messages)
    advice: str = ""


def render_files(project_dir: Path, mapping: Mapping, header: list[str]) -> list[Target]:
    """The staging folder's generated files for ``mapping`` (a draft while it has TODOs)."""
    folder = staging_dir(project_dir, mapping.center_id)
    return [
        Target(sources_path(project_dir, mapping.center_id),
               stamp(render_sources(mapping, header), "yaml"), "generated"),
        Target(folder / f"{model_name(mapping.center_id, mapping.table)}.sql",
               stamp(render_model(mapping, header), "sql"), "generated"),
        Target(folder / f"_{mapping.center_id}__models.yml",
               stamp(render_models_yml(mapping), "yaml"), "generated"),
    ]


def mapping_target(project_dir: Path, center_id: str, text: str, advice: str) -> Target:
    return Target(mapping_path(project_dir, center_id), text, "mapping", advice)


def check_targets(project_dir: Path, targets: list[Target], overwrite_edits: bool
                  ) -> list[Target]:
    """The targets whose file must change; :class:`OnboardingError` naming every file that
    may not be replaced (nothing is written then)."""
    changes, refused = [], []
    for target in targets:
        if not target.path.exists():
            changes.append(target)
            continue
        current = target.path.read_text(encoding="utf-8", errors="replace")
        if current == target.text:
            continue
        changes.append(target)
        if target.kind == "project":
            continue
        state = file_state(current)
        shown = _relative(project_dir, target.path)
        if state == "untouched":
            continue
        if target.kind == "generated" and state == "foreign":
            refused.append(f"{shown} exists and was not written by the scaffold (no marker "
                           "on its first line): it is never replaced; move it away")
        elif not overwrite_edits and target.kind == "generated":
            refused.append(f"{shown} was edited by hand since the scaffold wrote it (it no "
                           "longer matches the digest on its first line): carry the edit "
                           "into the mapping, or rerun with --overwrite-edits to replace it")
        elif not overwrite_edits:
            refused.append(f"{shown} was edited (or written) by hand: {target.advice}")
    if refused:
        raise OnboardingError("refusing to overwrite:\n  " + "\n  ".join(refused))
    return changes


def write_atomically(targets: list[Target]) -> None:
    """Write every target to a temporary file beside it, then rename them all into place.

    If any temporary file cannot be written, all are removed (and any folder
    created for them) and the error is raised: nothing is changed.
    """
    created: list[Path] = []
    written: list[tuple[Path, Path]] = []
    try:
        for target in targets:
            missing = [parent for parent in reversed(target.path.parents)
                       if not parent.exists()]
            for folder in missing:
                folder.mkdir()
                created.append(folder)
            temporary = target.path.with_name(
                f".{target.path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
            with temporary.open("x", encoding="utf-8", newline="") as handle:
                written.append((temporary, target.path))
                handle.write(target.text)
    except BaseException as error:
        for temporary, _path in written:
            temporary.unlink(missing_ok=True)
        for folder in reversed(created):
            folder.rmdir()
        if isinstance(error, OSError):
            raise OnboardingError(f"cannot write {error.filename or 'a file'}: "
                                  f"{error.strerror or error}; nothing was changed") from error
        raise
    for temporary, path in written:
        os.replace(temporary, path)


def _relative(project_dir: Path, path: Path) -> str:
    try:
        return str(path.relative_to(project_dir))
    except ValueError:
        return str(path)


def registered_models(project_dir: Path) -> list[str]:
    """``vars.line_record_models`` of dbt_project.yml."""
    document = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return list((document or {}).get("vars", {}).get("line_record_models") or [])


def registration(project_dir: Path, model: str) -> Target | None:
    """dbt_project.yml with ``model`` added to ``vars.line_record_models`` (None: it is there).

    The var must be written as a one-line flow list (as it is in this
    project); the edit is checked by parsing the file again and comparing
    everything else.
    """
    path = project_dir / "dbt_project.yml"
    text = path.read_text(encoding="utf-8")
    current = list(yaml.safe_load(text).get("vars", {}).get("line_record_models") or [])
    if model in current:
        return None
    matches = list(LINE_RECORD_VAR.finditer(text))
    if len(matches) != 1:
        raise OnboardingError(
            "dbt_project.yml: vars.line_record_models is not a one-line list "
            f"[a, b]; add {model} to it by hand")
    match = matches[0]
    items = match.group(2).rstrip()
    joined = f"{items}, {model}" if items.strip() else model
    edited = text[:match.start(2)] + joined + text[match.end(2):]
    after = yaml.safe_load(edited)
    expected = yaml.safe_load(text)
    expected["vars"]["line_record_models"] = current + [model]
    if after != expected:
        raise OnboardingError(f"dbt_project.yml: the edit adding {model} changed more than "
                              "vars.line_record_models; add it by hand")
    return Target(path, edited, "project")


def register_model(project_dir: Path, model: str) -> bool:
    """Add ``model`` to ``vars.line_record_models``; False if it was already there."""
    target = registration(project_dir, model)
    if target is None:
        return False
    write_atomically([target])
    return True

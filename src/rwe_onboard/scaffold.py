"""Write a center's staging folder from its mapping, and register the model.

Files written into ``models/staging/<center>/``:

- ``_<center>__sources.yml``: the source, with ``meta.required_columns`` and
  ``meta.date_columns`` for the on-run-start gate (macros/check_raw_exports.sql);
- ``stg_<center>__<table>.sql``: the staging model, in the CTE shape and with
  the data-quality ladder of center A's model, ending in the contract columns;
- ``_<center>__models.yml``: descriptions and tests;
- ``_<center>__mapping.yml``: the mapping it was written from (the record).

and the model is added to ``vars.line_record_models`` in dbt_project.yml. A
mapping with unresolved TODOs writes nothing unless ``allow_todo``: then the
model raises a compilation error naming every TODO, so it can never build
silently wrong data, and it is not registered.
"""

from __future__ import annotations

import re
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

#: First line of every file the scaffold writes: it only overwrites files
#: that carry it (and only with --force).
MARKER = "written by python -m rwe_onboard onboard-center"
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
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=96,
                     indent=2)
    return f"# {MARKER}: edit the mapping and rerun it instead.\n{body}"


# ---------------------------------------------------------------------------
# sources YAML
# ---------------------------------------------------------------------------


def render_sources(mapping: Mapping, header: list[str]) -> str:
    """``_<center>__sources.yml``: every column of the export is required."""
    dates = {m.column: m.layout for name, m in mapping.fields.items()
             if name in DATE_FIELDS and m.column is not None and m.layout is not None}
    description = mapping.description.replace("\n", " ")
    document = {
        "version": 2,
        "sources": [{
            "name": mapping.center_id,
            "description": _Folded(f"{description} Mapping: _{mapping.center_id}__mapping.yml."),
            "config": {"meta": {"center_id": mapping.center_id}},
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


def render_model(mapping: Mapping, header: list[str]) -> str:
    """``stg_<center>__<table>.sql`` (see the module docstring)."""
    center, table = mapping.center_id, mapping.table
    fields = mapping.fields
    mapped = {name for name, m in fields.items() if m.column is not None}
    row_id = mapping.column("row_id")
    for column in header:
        validate_column_name(column)
    todo_guard = ""
    if mapping.todos:
        # the TODO texts quote codes from the export: keep them inert inside Jinja
        todo_list = re.sub(r"[\"{}\\%#]", "?",
                           ", ".join(todo.split(": ")[0] for todo in mapping.todos))
        todo_guard = (
            "{{ exceptions.raise_compiler_error(\""
            f"{model_name(center, table)} is a draft: the mapping "
            f"models/staging/{center}/_{center}__mapping.yml still has TODOs ({todo_list}). "
            "Resolve them and rerun python -m rwe_onboard onboard-center with --mapping."
            "\") }}\n")
    uses_birth_year = "birth_year" in mapped

    def included(name: str) -> bool:
        """A date field the model reads: mapped, or required (a TODO in a draft)."""
        if name == "birth_date":
            return not uses_birth_year
        return name in mapped or FIELD_BY_NAME[name].required

    date_layouts = {name: fields[name].layout or "TODO" for name in DATE_FIELDS}

    def parse(name: str) -> str:
        return f"{{{{ parse_date('{_col(mapping, name)}', '{date_layouts[name]}') }}}}"

    out: list[str] = [
        f"{{#- {MARKER} from _{center}__mapping.yml: edit the mapping and",
        "    rerun the scaffold rather than this file. One row per treatment line.",
        "    Direct identifiers stop here: only a keyed pseudonym and the birth year leave. -#}",
    ]
    if todo_guard:
        out.append(todo_guard.rstrip("\n"))
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
    out += [
        "        ---------- exact-duplicate detection: every column but the export's row id",
        "        row_number() over (",
        "            partition by",
        *_wrap(partition, "                "),
        "            order by cast(source.source_row_number as {{ dbt.type_int() }})",
        "        ) as copy_number",
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
    out += [f"            ('{reason}', '{column}', \"{condition}\")," for reason, column, condition
            in rules]
    regimen_list = _list_expression("regimen_text", fields["regimen"].delimiter or "TODO")
    sites_list = _list_expression("metastatic_sites_text",
                                  fields["metastatic_sites"].delimiter or "TODO")
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
    rules.append(("duplicate_row", duplicate_column, "parsed.copy_number > 1"))
    return rules


# ---------------------------------------------------------------------------
# models YAML
# ---------------------------------------------------------------------------

_DOCS = {
    "patient_id": '{{ doc("col_patient_id") }}',
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
            description = (f"{meaning[0].upper()}{meaning[1:]} (from `{column}`)." if column
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
    document = {"version": 2, "models": [{
        "name": model_name(center, table),
        "description": _Folded(
            f"One row per raw row of {center}'s {table} export (one row per treatment line): "
            "renamed, cast and recoded through the terminology seeds, direct identifiers "
            "removed, with the first data-quality rule the row breaks. Nothing is filtered: "
            "row_accounting counts from here."),
        "columns": columns,
    }]}
    return _dump(document)


# ---------------------------------------------------------------------------
# writing and registering
# ---------------------------------------------------------------------------


def write_files(project_dir: Path, mapping: Mapping, header: list[str], mapping_text: str,
                force: bool) -> list[Path]:
    """Write the staging folder; refuse to overwrite files the scaffold did not write."""
    folder = staging_dir(project_dir, mapping.center_id)
    folder.mkdir(parents=True, exist_ok=True)
    targets = {
        sources_path(project_dir, mapping.center_id): render_sources(mapping, header),
        folder / f"{model_name(mapping.center_id, mapping.table)}.sql":
            render_model(mapping, header),
        folder / f"_{mapping.center_id}__models.yml": render_models_yml(mapping),
    }
    for path in targets:
        if path.exists():
            written_by_us = MARKER in path.read_text(encoding="utf-8").splitlines()[0]
            if not (force and written_by_us):
                raise OnboardingError(
                    f"{path} exists; rerun with --force to replace the scaffold's own files"
                    + ("" if written_by_us else " (this one was not written by the scaffold "
                       "and is never replaced)"))
    target_mapping = mapping_path(project_dir, mapping.center_id)
    targets[target_mapping] = mapping_text
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
    return list(targets)


def register_model(project_dir: Path, model: str) -> bool:
    """Add ``model`` to ``vars.line_record_models``; False if it was already there.

    The var must be written as a one-line flow list (as it is in this
    project); the edit is checked by parsing the file again and comparing
    everything else.
    """
    path = project_dir / "dbt_project.yml"
    text = path.read_text(encoding="utf-8")
    current = list(yaml.safe_load(text).get("vars", {}).get("line_record_models") or [])
    if model in current:
        return False
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
    path.write_text(edited, encoding="utf-8")
    return True

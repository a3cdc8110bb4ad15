"""``onboard-center``: profile a sample, write the draft folder, or scaffold from a mapping."""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Callable
from pathlib import Path

import yaml

from rwe_onboard.contract import (
    FIELD_BY_NAME,
    FIELDS,
    InvalidNameError,
    OnboardingError,
    declared_sources,
    ensure_project,
    mapping_path,
    staging_dir,
    validate_center_id,
    validate_table_name,
)
from rwe_onboard.draft import render_draft
from rwe_onboard.mapping import Mapping, list_tokens, parse_mapping
from rwe_onboard.profile import FIT, Profile, load_sample, profile_sample
from rwe_onboard.scaffold import (
    _relative,
    check_targets,
    is_scaffold_file,
    mapping_target,
    model_name,
    registered_models,
    registration,
    render_files,
    stamp,
    write_atomically,
)
from rwe_onboard.vocabulary import Vocabulary, normalise_code


def csv_line(row: list[str]) -> str:
    """One seed row as a CSV line (quoted where CSV needs it)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


class ActionNeeded(OnboardingError):
    """The scaffold stopped: the user has to do something first (listed in the message)."""


def check_new_center(project_dir: Path, center_id: str, table: str, *, force: bool,
                     draft: bool) -> None:
    """Refuse a center id a hand-written center uses, or an onboarded center without --force.

    A center whose scaffold output is still a draft (not registered in
    ``vars.line_record_models``) is rewritten without --force; a registered one
    only with --force, and never as a draft (a disabled model that
    int_line_records_unioned refers to breaks every build).
    """
    validate_center_id(center_id)
    declared = declared_sources(project_dir)
    if center_id in declared:
        path = declared[center_id]
        if not (path.is_file() and is_scaffold_file(path)):
            raise InvalidNameError(f"center {center_id!r} already exists ({path}); pick a new "
                                   "center id")
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        tables = {entry.get("name") for source in document.get("sources") or []
                  for entry in source.get("tables") or []}
        if table not in tables:
            raise InvalidNameError(
                f"center {center_id!r} is scaffolded for table(s) {sorted(tables)} ({path}), "
                f"not {table!r}: the scaffold writes one export per center")
    folder = staging_dir(project_dir, center_id)
    if folder.is_dir():
        for path in folder.glob("*.sql"):
            if not is_scaffold_file(path):
                raise InvalidNameError(f"center {center_id!r} already has hand-written models "
                                       f"({path}); pick a new center id")
    registered = [model for model in registered_models(project_dir)
                  if model.startswith(f"stg_{center_id}__")]
    if registered and draft:
        raise ActionNeeded(
            f"{', '.join(registered)} is registered in dbt_project.yml vars.line_record_models: "
            "a draft (disabled) model would break every build. Rerun with a complete "
            "--mapping, or remove it from line_record_models first")
    if registered and not force:
        raise InvalidNameError(f"center {center_id!r} is already onboarded "
                               f"({', '.join(registered)} is registered in "
                               "vars.line_record_models); rerun with --force to write its "
                               "files again")


def format_profile(profile: Profile) -> str:
    """The profile as a table for the terminal."""
    out = [f"{profile.path}: {profile.row_count} rows, {len(profile.columns)} columns", "",
           f"{'column':<24} {'filled':>6} {'distinct':>8} {'date layout':<16} {'numeric':>7} "
           f"{'whole number':<20} {'maps to':<38} examples"]
    by_column = {column: field for field, column in profile.guesses.items()}
    for column in profile.columns.values():
        layout = (f"{column.date_layout} {column.date_share:.0%}" if column.date_layout else "")
        examples = ("(withheld: identifier)" if column.is_identifier
                    else ", ".join(repr(e) for e in column.examples))
        pattern = ""
        if column.integer_share >= FIT and column.numeric_share < FIT and not column.is_identifier:
            pattern = f"{' '.join(column.integer_strip)} <n> {column.integer_share:.0%}"
        target = by_column.get(column.name, "")
        if column.is_identifier and not target:
            target = "(identifier: dropped)"
        out.append(f"{column.name:<24} {column.non_empty_share:>6.0%} "
                   f"{column.distinct_count:>8} {layout:<16} {column.numeric_share:>7.0%} "
                   f"{pattern:<20} {target:<38} {examples}")
    return "\n".join(out)


def onboard_center(project_dir: Path, center_id: str, sample: Path, *, table: str | None = None,
                   mapping_file: Path | None = None, force: bool = False,
                   allow_todo: bool = False, overwrite_edits: bool = False,
                   echo: Callable[[str], None] = print) -> list[Path]:
    """Profile ``sample`` and write the center's staging folder.

    Without ``mapping_file``: write the draft mapping and, from it, the draft
    staging folder (sources YAML, a disabled staging model with every column
    the profile could map and a ``todo__...`` placeholder for the rest, models
    YAML); nothing is registered. With a complete ``mapping_file``: write the
    enabled folder and register the model. Returns the files written (or
    rewritten). Raises :class:`OnboardingError` (and its subclasses) for
    anything the user must fix; nothing is written then.
    """
    project_dir = ensure_project(project_dir)
    validate_center_id(center_id)
    if table is None:
        try:
            table = validate_table_name(sample.stem)
        except InvalidNameError as error:
            raise InvalidNameError(f"{error}. The table name comes from the sample's file "
                                   "name; pass --table <name> (and deliver the export as "
                                   "<name>.csv)") from error
    validate_table_name(table)
    draft_step = mapping_file is None
    check_new_center(project_dir, center_id, table, force=force, draft=draft_step)
    vocabulary = Vocabulary(project_dir)
    export = load_sample(sample)
    if mapping_file is not None:
        mapping_text = _read_mapping(mapping_file)
        mapping = parse_mapping(mapping_text, mapping_file, export.header)
        if (mapping.center_id, mapping.table) != (center_id, table):
            raise OnboardingError(f"{mapping_file} maps {mapping.center_id}/{mapping.table}, "
                                  f"not {center_id}/{table}")
    profile = profile_sample(export, vocabulary)
    echo(format_profile(profile))
    for warning in profile.warnings:
        echo(f"WARNING: {warning}")
    if profile.warnings and any("administration" in w for w in profile.warnings):
        raise ActionNeeded("the sample looks administration-level (one row per drug "
                           "administration); the scaffold writes line-level models only")
    if mapping_file is not None and mapping.todos:
        if not allow_todo:
            raise ActionNeeded(f"{mapping_file} still has {len(mapping.todos)} TODO(s):\n  "
                               + "\n  ".join(mapping.todos)
                               + "\n(--allow-todo writes the draft folder from it: a disabled "
                               "model, nothing registered)")
        check_new_center(project_dir, center_id, table, force=force, draft=True)
    target = mapping_path(project_dir, center_id)
    shown_target = target.relative_to(project_dir)
    if mapping_file is None:
        mapping_text = stamp(render_draft(center_id, table, profile, vocabulary), "draft")
        mapping = parse_mapping(mapping_text, shown_target, export.header)
        record = mapping_target(project_dir, center_id, mapping_text,
                                f"pass --mapping {shown_target} to use it, or "
                                "--overwrite-edits to replace it with a fresh draft")
    elif _same_file(mapping_file, target):
        record = None
    else:
        record = mapping_target(project_dir, center_id, mapping_text,
                                f"it differs from {mapping_file}; pass --mapping "
                                f"{shown_target} to use it, or --overwrite-edits to replace "
                                f"it with {mapping_file}")
    if not mapping.todos:
        _check_vocabulary(mapping, profile, vocabulary)
        _check_dates(mapping, profile, echo)
    targets = render_files(project_dir, mapping, export.header)
    if record is not None:
        targets.insert(0, record)
    model = model_name(center_id, table)
    registering = None if mapping.todos else registration(project_dir, model)
    if registering is not None:
        targets.append(registering)
    changes = check_targets(project_dir, targets, overwrite_edits)
    write_atomically(changes)

    written = [t.path for t in changes]
    echo("")
    for t in targets:
        state = "wrote" if t in changes else "unchanged"
        note = ""
        if t.path.suffix == ".sql":
            note = " (disabled: {{ config(enabled=false) }})" if mapping.todos else " (enabled)"
        if t.kind == "project":
            note = f" (registered {model} in vars.line_record_models)"
        echo(f"{state} {_relative(project_dir, t.path)}{note}")
    if mapping.todos:
        mapped = sum(1 for m in mapping.fields.values() if m.column is not None)
        echo(f"\n{model} is a draft: {mapped} contract field(s) mapped, "
             f"{len(mapping.todos)} TODO(s) left. It is disabled and not registered, so dbt "
             "parse and every build ignore it. TODOs:")
        for todo in mapping.todos:
            echo(f"  TODO {todo}")
        echo(f"Next: resolve the TODOs in {shown_target}, add the new codes to "
             "seeds/terminology/ (the next run lists the rows), then run\n"
             f"  python -m rwe_onboard onboard-center --name {center_id} "
             f"--sample {shlex.quote(str(sample))} --table {table} --mapping {shown_target}")
        return written
    echo("Next: python -m rwe_onboard precheck --center "
         f"{center_id} --file <export.csv>, copy the export to "
         f"data/raw/{center_id}/{table}.csv, then dbt build and check marts.quarantine "
         "and marts.row_accounting.")
    return written


def _read_mapping(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OnboardingError(f"cannot read mapping {path}: {error}") from error


def _same_file(one: Path, other: Path) -> bool:
    return other.exists() and one.resolve() == other.resolve()


def _check_vocabulary(mapping: Mapping, profile: Profile, vocabulary: Vocabulary) -> None:
    """Every code of the sample must be known to the seeds or marked invalid (~)."""
    from rwe_onboard.mapping import vocabulary_gaps

    problems = []
    for spec in FIELDS:
        mapped = mapping.fields[spec.name]
        if spec.seed is None or mapped.column is None:
            continue
        values = profile.columns[mapped.column].values
        if spec.kind == "list":
            codes = {t for v in values for t in list_tokens(v, mapped.delimiter)}
        else:
            codes = {normalise_code(v) for v in values}
        uncovered = sorted(c for c in codes if c not in mapped.codes
                           and not vocabulary.knows(spec.seed, c))
        if uncovered:
            problems.append(f"{spec.name} ({mapped.column}): the sample has codes neither the "
                            f"mapping nor {spec.seed} knows: {uncovered}; list each under "
                            "codes (with its value, or ~ if it is not a valid code)")
    gaps = vocabulary_gaps(mapping, vocabulary)
    problems += gaps.conflicts
    for seed, rows in gaps.rows.items():
        listed = "\n    ".join(csv_line(row) for row in rows)
        problems.append(f"seeds/terminology/{seed}.csv lacks the mapping's new codes; append:"
                        f"\n    {listed}")
    if problems:
        raise ActionNeeded("the vocabulary is not ready:\n  " + "\n  ".join(problems))


def _check_dates(mapping: Mapping, profile: Profile, echo: Callable[[str], None]) -> None:
    from rwe_onboard.contract import parse_date

    for name, mapped in mapping.fields.items():
        if FIELD_BY_NAME[name].kind != "date" or mapped.column is None:
            continue
        values = profile.columns[mapped.column].values
        if not values:
            continue
        share = sum(parse_date(v, mapped.layout) is not None for v in values) / len(values)
        if share == 0:
            raise ActionNeeded(f"{name} ({mapped.column}): no value of the sample is a date in "
                               f"layout {mapped.layout}")
        if share < FIT:
            echo(f"WARNING: {name} ({mapped.column}): only {share:.0%} of the sample's values "
                 f"are dates in layout {mapped.layout}; the rest will be quarantined")

"""``onboard-center``: profile a sample, write a draft mapping, or scaffold from a mapping."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

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
    validate_column_name,
    validate_table_name,
)
from rwe_onboard.draft import render_draft
from rwe_onboard.mapping import Mapping, list_tokens, load_mapping
from rwe_onboard.profile import FIT, Profile, profile_sample
from rwe_onboard.scaffold import MARKER, model_name, register_model, write_files
from rwe_onboard.vocabulary import Vocabulary, normalise_code


def csv_line(row: list[str]) -> str:
    """One seed row as a CSV line (quoted where CSV needs it)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


class ActionNeeded(OnboardingError):
    """The scaffold stopped: the user has to do something first (listed in the message)."""


def check_new_center(project_dir: Path, center_id: str, *, force: bool) -> None:
    """Refuse a center id that an existing (hand-written) center already uses."""
    validate_center_id(center_id)
    declared = declared_sources(project_dir)
    if center_id in declared:
        path = declared[center_id]
        ours = path.is_file() and MARKER in path.read_text(encoding="utf-8").splitlines()[0]
        if not ours:
            raise InvalidNameError(f"center {center_id!r} already exists ({path}); pick a new "
                                   "center id")
        if not force:
            raise InvalidNameError(f"center {center_id!r} is already scaffolded ({path}); "
                                   "rerun with --force to write its files again")
    folder = staging_dir(project_dir, center_id)
    if folder.is_dir():
        for path in folder.glob("*.sql"):
            if MARKER not in path.read_text(encoding="utf-8").splitlines()[0]:
                raise InvalidNameError(f"center {center_id!r} already has hand-written models "
                                       f"({path}); pick a new center id")


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
                   allow_todo: bool = False, echo: Callable[[str], None] = print) -> list[Path]:
    """Draft a mapping (no ``mapping_file``) or scaffold the center from one.

    Returns the files written. Raises :class:`OnboardingError` (and its
    subclasses) for anything the user must fix; nothing is written then.
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
    check_new_center(project_dir, center_id, force=force)
    vocabulary = Vocabulary(project_dir)
    profile = profile_sample(sample, vocabulary)
    echo(format_profile(profile))
    for warning in profile.warnings:
        echo(f"WARNING: {warning}")
    header = list(profile.columns)
    unsafe = []
    for column in header:
        try:
            validate_column_name(column)
        except InvalidNameError as error:
            unsafe.append(str(error))
    if mapping_file is None:
        target = mapping_path(project_dir, center_id)
        if target.exists() and not force:
            raise ActionNeeded(f"{target} exists: edit it and pass --mapping {target}, or "
                               "pass --force to write a fresh draft over it")
        for message in unsafe:
            echo(f"WARNING: {message}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_draft(center_id, table, profile, vocabulary), encoding="utf-8")
        draft = load_mapping(target, header)
        echo(f"\nWrote the draft mapping {target.relative_to(project_dir)} "
             f"({len(draft.todos)} TODO(s) left):")
        for todo in draft.todos:
            echo(f"  TODO {todo}")
        echo("Next: resolve the TODOs, add new codes to seeds/terminology/, then run\n"
             f"  python -m rwe_onboard onboard-center --name {center_id} --sample {sample} "
             f"--table {table} --mapping {target.relative_to(project_dir)}")
        return [target]

    if unsafe:
        raise ActionNeeded("the export has columns the model cannot name:\n  "
                           + "\n  ".join(unsafe))
    if profile.warnings and any("administration" in w for w in profile.warnings):
        raise ActionNeeded("the sample looks administration-level (one row per drug "
                           "administration); the scaffold writes line-level models only")
    mapping = load_mapping(mapping_file, header)
    if (mapping.center_id, mapping.table) != (center_id, table):
        raise OnboardingError(f"{mapping_file} maps {mapping.center_id}/{mapping.table}, not "
                              f"{center_id}/{table}")
    if mapping.todos and not allow_todo:
        raise ActionNeeded(f"{mapping_file} still has {len(mapping.todos)} TODO(s):\n  "
                           + "\n  ".join(mapping.todos)
                           + "\n(--allow-todo writes a model that refuses to compile until "
                           "they are resolved)")
    if not mapping.todos:
        _check_vocabulary(mapping, profile, vocabulary)
        _check_dates(mapping, profile, echo)
    mapping_text = mapping_file.read_text(encoding="utf-8")
    written = write_files(project_dir, mapping, header, mapping_text, force)
    model = model_name(center_id, table)
    for path in written:
        echo(f"wrote {path.relative_to(project_dir)}")
    if mapping.todos:
        echo(f"{model} is a draft: it raises a compilation error until the TODOs are "
             "resolved; it is not registered in vars.line_record_models.")
        return written
    if register_model(project_dir, model):
        echo(f"registered {model} in dbt_project.yml vars.line_record_models")
        written.append(project_dir / "dbt_project.yml")
    echo("Next: python -m rwe_onboard precheck --center "
         f"{center_id} --file <export.csv>, copy the export to "
         f"data/raw/{center_id}/{table}.csv, then dbt build and check marts.quarantine "
         "and marts.row_accounting.")
    return written


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

"""Write the draft mapping of a new center from its sample's profile.

The draft is a YAML file with comments: every contract field with the
column guessed for it (or ``TODO``), the date layout and list delimiter the
values suggest, and for coded fields every code found in the sample with its
meaning in the seeds (``TODO`` for the ones the seeds do not know yet).
Example values are written only for codes, never for identifiers.
"""

from __future__ import annotations

import json

from rwe_onboard.contract import FIELD_BY_NAME, FIELDS, LAYOUTS
from rwe_onboard.mapping import list_tokens
from rwe_onboard.profile import FIT, Profile
from rwe_onboard.vocabulary import SEEDS, Vocabulary, normalise_code

#: Codes listed per field at most (a longer list is cut with a note).
MAX_CODES = 60


def _q(value: object) -> str:
    """A YAML scalar: JSON is YAML, and quoting keeps 'no', 'y', '1' as text."""
    return json.dumps(value, ensure_ascii=False)


def render_draft(center_id: str, table: str, profile: Profile, vocabulary: Vocabulary) -> str:
    """The draft mapping YAML for ``center_id`` from ``profile``."""
    lines = [
        f"# Draft mapping of {center_id} onto the line-level contract, written by",
        f"# `python -m rwe_onboard onboard-center` from {profile.path.name} "
        f"({profile.row_count} rows).",
        "# Resolve every TODO (docs/onboarding-a-center.md explains each field), add the",
        "# new codes to the terminology seeds, then run the scaffold again with",
        "# --mapping <this file> to write the staging model.",
    ]
    for warning in profile.warnings:
        lines.append(f"# WARNING: {warning}")
    identifiers = [c.name for c in profile.columns.values() if c.is_identifier
                   and c.name not in (profile.guesses.get("patient_key"),
                                      profile.guesses.get("birth_date"))]
    lines += [
        f"center_id: {center_id}",
        f"table: {table}",
        "description: TODO one sentence about the export (who sends it, one row per what)",
        "# Direct identifiers found (never leave staging; listed for the record).",
        f"identifier_columns: [{', '.join(identifiers)}]",
        "fields:",
    ]
    for spec in FIELDS:
        column_name = profile.guesses.get(spec.name)
        column = profile.columns.get(column_name) if column_name else None
        why = profile.reasons.get(spec.name)
        status = "required" if spec.required else "optional"
        if spec.name == "birth_date":
            status = "required unless birth_year is mapped"
        if spec.name == "birth_year" and "birth_date" in profile.guesses:
            continue
        lines.append(f"  # {spec.meaning} [{status}; feeds {spec.feeds}]")
        lines.append(f"  {spec.name}:")
        if column is None:
            value = "TODO" if spec.required and spec.name != "birth_year" else "~"
            if spec.name == "birth_date" and "birth_year" in profile.guesses:
                value = "~"
            hint = _candidates(spec.name, profile) if value == "TODO" else ""
            lines.append(f"    column: {value}{hint}")
        else:
            lines.append(f"    column: {column.name}  # guessed: {why}")
        if spec.kind == "date":
            layout = column.date_layout if column is not None else None
            if layout:
                lines.append(f"    layout: {layout}  # {column.date_share:.0%} of values parse")
            elif column is not None or spec.required:
                lines.append(f"    layout: TODO  # one of {', '.join(LAYOUTS)}")
        if spec.kind == "integer":
            strip = list(column.integer_strip) if column is not None else []
            note = (f"  # removed before reading the number ({column.integer_share:.0%} "
                    "of values are then whole numbers)") if column is not None else ""
            lines.append(f"    strip: [{', '.join(_q(s) for s in strip)}]{note}")
        if spec.kind == "list":
            delimiter = column.delimiter if column is not None else None
            if delimiter:
                lines.append(f"    delimiter: {_q(delimiter)}")
            else:
                lines.append("    delimiter: TODO  # the text between two codes")
        if spec.seed is not None:
            lines += _codes_block(spec.name, column, vocabulary)
    return "\n".join(lines) + "\n"


def _codes_block(name: str, column, vocabulary: Vocabulary) -> list[str]:
    spec = FIELD_BY_NAME[name]
    seed = SEEDS[spec.seed]
    allowed = ", ".join(vocabulary.allowed_values(spec.seed)) if seed.allowed_values else \
        "a generic name already in the seed"
    lines = [f"    # codes: every code in the sample -> its value in {spec.seed} ({allowed});",
             "    # ~ marks a value that is not a valid code (its rows are quarantined)."]
    if column is None:
        return lines + ["    codes: {}"]
    if spec.kind == "list":
        delimiter = column.delimiter or ""
        codes = sorted({t for v in column.values for t in
                        (list_tokens(v, delimiter) if delimiter else [normalise_code(v)])})
    else:
        codes = sorted({normalise_code(v) for v in column.values})
    if not codes:
        return lines + ["    codes: {}"]
    lines.append("    codes:")
    for code in codes[:MAX_CODES]:
        known = vocabulary.lookup(spec.seed, code)
        if known is None:
            lines.append(f"      {_q(code)}: TODO  # new: add to {spec.seed}")
        else:
            value = {"true": "true", "false": "false"}.get(known, _q(known))
            lines.append(f"      {_q(code)}: {value}  # known")
    if len(codes) > MAX_CODES:
        lines.append(f"      # ... {len(codes) - MAX_CODES} more codes not listed")
    return lines


def _candidates(name: str, profile: Profile) -> str:
    """A comment naming unmapped columns whose values would fit field ``name``."""
    spec = FIELD_BY_NAME[name]
    taken = set(profile.guesses.values())
    fits = []
    for column in profile.columns.values():
        if column.name in taken or column.is_identifier or not column.values:
            continue
        if spec.kind == "date" and column.date_layout:
            fits.append(f"{column.name} ({column.date_layout})")
        elif spec.kind == "integer" and column.integer_share >= FIT:
            strip = " ".join(column.integer_strip)
            fits.append(f"{column.name} (whole numbers" + (f" after removing '{strip}'"
                                                            if strip else "") + ")")
        elif spec.kind in ("code", "yes_no", "list") and column.distinct_count <= 50:
            fits.append(column.name)
    return f"  # unmapped columns that could fit: {', '.join(fits)}" if fits else ""

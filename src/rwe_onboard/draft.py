"""Write the draft mapping of a new center from its sample's profile.

The draft is a YAML file with comments: every contract field with the
column guessed for it (or ``TODO``), the date layout and list delimiter the
values suggest, and for coded fields every code found in the sample with its
meaning in the seeds (``TODO`` for the ones the seeds do not know yet).
Example values are written only for codes, never for identifiers.

Every key and value is written by PyYAML's emitter (double-quoted, so a code
such as ``no`` or ``y`` stays text and a quote, brace, ``#`` or line break
in a code stays inside its string); comments are cut to printable text. The
finished text is read back and must equal the data it was written from, so
nothing from the sample can add, change or hide a key.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from rwe_onboard.contract import FIELD_BY_NAME, FIELDS, LAYOUTS, OnboardingError
from rwe_onboard.mapping import list_tokens
from rwe_onboard.profile import FIT, Profile
from rwe_onboard.vocabulary import SEEDS, Vocabulary, normalise_code

#: Codes listed per field at most (a longer list is cut with a note).
MAX_CODES = 60
TODO = "TODO"


#: Texts written without quotes: names, not codes, that every YAML reader reads as text.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]+")
_YAML11_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}


def _q(value: Any, quote: bool = False) -> str:
    """One YAML scalar (or flow list) on one line, as PyYAML writes it.

    Texts are double-quoted (PyYAML escapes every control or line-break
    character) unless they are plain names and ``quote`` is false; codes are
    always quoted.
    """
    if value is None:
        return "~"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if value == TODO or (not quote and _PLAIN.fullmatch(value)
                             and value.lower() not in _YAML11_WORDS
                             and yaml.safe_load(value) == value):
            return value
        text = yaml.safe_dump(value, default_style='"', allow_unicode=True, width=2**31)
        return text.rstrip("\n")
    if isinstance(value, list):
        return "[" + ", ".join(_q(item, quote) for item in value) + "]"
    if isinstance(value, dict) and not value:
        return "{}"
    raise TypeError(f"no one-line YAML form for {value!r}")


def _comment(text: str) -> str:
    """Text safe inside a YAML comment: one line, printable."""
    return "".join(char if char.isprintable() else "?" for char in text)


class _Document:
    """YAML text written line by line, with the data it must read back as."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.data: dict = {}

    def comment(self, text: str, depth: int = 0) -> None:
        self.lines.append("  " * depth + "# " + _comment(text))

    def _parent(self, path: tuple[str, ...]) -> dict:
        node = self.data
        for key in path[:-1]:
            node = node[key]
        return node

    def _claim(self, path: tuple[str, ...]) -> dict:
        parent = self._parent(path)
        if path[-1] in parent:
            raise OnboardingError(f"internal error: the draft mapping repeats {path}")
        return parent

    def put(self, path: tuple[str, ...], value: Any, note: str | None = None, *,
            code: bool = False, quote: bool = False) -> None:
        """``key: value`` at ``path`` (an empty mapping is ``{}``; with entries: open).

        ``code``: the key is a code from the sample and the value a harmonised
        value, both quoted (``"m": "male"``); ``quote``: quote the value.
        """
        parent = self._claim(path)
        line = "  " * (len(path) - 1) + f"{_q(path[-1], code)}: {_q(value, code or quote)}"
        if note:
            line += "  # " + _comment(note)
        self.lines.append(line)
        parent[path[-1]] = value

    def open(self, path: tuple[str, ...]) -> None:
        """``key:`` with a mapping below it."""
        parent = self._claim(path)
        self.lines.append("  " * (len(path) - 1) + f"{_q(path[-1])}:")
        parent[path[-1]] = {}

    def text(self) -> str:
        text = "\n".join(self.lines) + "\n"
        if yaml.safe_load(text) != self.data:
            raise OnboardingError("internal error: the draft mapping does not read back as "
                                  "written; please report this with the sample's header")
        return text


def render_draft(center_id: str, table: str, profile: Profile, vocabulary: Vocabulary) -> str:
    """The draft mapping YAML for ``center_id`` from ``profile``."""
    doc = _Document()
    doc.comment(f"Draft mapping of {center_id} onto the line-level contract, written by")
    doc.comment(f"`python -m rwe_onboard onboard-center` from {profile.path.name} "
                f"({profile.row_count} rows), with the disabled staging model beside it.")
    doc.comment("Resolve every TODO (docs/onboarding-a-center.md explains each field), add the")
    doc.comment("new codes to the terminology seeds, then run the scaffold again with")
    doc.comment("--mapping <this file> to write the enabled staging model and register it.")
    for warning in profile.warnings:
        doc.comment(f"WARNING: {warning}")
    mapped_identifiers = {profile.guesses.get(name)
                          for name in ("patient_key", "birth_date", "national_id")}
    identifiers = [c.name for c in profile.columns.values() if c.is_identifier
                   and c.name not in mapped_identifiers]
    doc.put(("center_id",), center_id)
    doc.put(("table",), table)
    doc.put(("description",), "TODO one sentence about the export (who sends it, one row per "
                              "what)")
    doc.comment("Direct identifiers no field maps (never leave staging; listed for the record).")
    doc.put(("identifier_columns",), identifiers)
    doc.open(("fields",))
    for spec in FIELDS:
        column_name = profile.guesses.get(spec.name)
        column = profile.columns.get(column_name) if column_name else None
        why = profile.reasons.get(spec.name)
        status = "required" if spec.required else "optional"
        if spec.name == "birth_date":
            status = "required unless birth_year is mapped"
        if spec.name == "birth_year" and "birth_date" in profile.guesses:
            continue
        path = ("fields", spec.name)
        doc.comment(f"{spec.meaning} [{status}; feeds {spec.feeds}]", 1)
        doc.open(path)
        if column is None:
            value = TODO if spec.required and spec.name != "birth_year" else None
            if spec.name == "birth_date" and "birth_year" in profile.guesses:
                value = None
            hint = _candidates(spec.name, profile) if value == TODO else ""
            doc.put(path + ("column",), value, hint or None)
        else:
            doc.put(path + ("column",), column.name, f"guessed: {why}")
        if spec.kind == "date":
            layout = column.date_layout if column is not None else None
            if layout:
                doc.put(path + ("layout",), layout, f"{column.date_share:.0%} of values parse")
            elif column is not None or spec.required:
                doc.put(path + ("layout",), TODO, f"one of {', '.join(LAYOUTS)}")
        if spec.kind == "integer":
            strip = list(column.integer_strip) if column is not None else []
            note = (f"removed before reading the number ({column.integer_share:.0%} "
                    "of values are then whole numbers)") if column is not None else None
            doc.put(path + ("strip",), strip, note, quote=True)
        if spec.kind == "list":
            delimiter = column.delimiter if column is not None else None
            if delimiter:
                doc.put(path + ("delimiter",), delimiter, quote=True)
            else:
                doc.put(path + ("delimiter",), TODO, "the text between two codes")
        if spec.seed is not None:
            _codes_block(doc, spec.name, column, vocabulary)
    return doc.text()


def _codes_block(doc: _Document, name: str, column, vocabulary: Vocabulary) -> None:
    spec = FIELD_BY_NAME[name]
    seed = SEEDS[spec.seed]
    allowed = ", ".join(vocabulary.allowed_values(spec.seed)) if seed.allowed_values else \
        "a generic name already in the seed"
    path = ("fields", name, "codes")
    doc.comment(f"codes: every code in the sample -> its value in {spec.seed} ({allowed});", 2)
    doc.comment("~ marks a value that is not a valid code (its rows are quarantined).", 2)
    codes: list[str] = []
    if column is not None and spec.kind == "list":
        delimiter = column.delimiter or ""
        codes = sorted({t for v in column.values for t in
                        (list_tokens(v, delimiter) if delimiter else [normalise_code(v)])})
    elif column is not None:
        codes = sorted({normalise_code(v) for v in column.values})
    if not codes:
        doc.put(path, {})
        return
    doc.open(path)
    for code in codes[:MAX_CODES]:
        known = vocabulary.lookup(spec.seed, code)
        if known is None:
            doc.put(path + (code,), TODO, f"new: add to {spec.seed}", code=True)
        else:
            value = {"true": True, "false": False}.get(known, known)
            doc.put(path + (code,), value, "known", code=True)
    if len(codes) > MAX_CODES:
        doc.comment(f"... {len(codes) - MAX_CODES} more codes not listed", 3)


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
    return f"unmapped columns that could fit: {', '.join(fits)}" if fits else ""

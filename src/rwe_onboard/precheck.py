"""Check exports against a center's mapping before they enter the warehouse.

Per export (matched to the mapping's table by its ``files`` name or glob):
the file is readable as the raw-export gate reads it (:mod:`rwe_onboard.reader`),
every column the mapping lists is present and no other, and per row every
mapped value reads as its field's type: dates in the declared layout, whole
numbers (after ``strip``) in the field's range, spellings known to the field's
terminology seed (rows of this center or of every center), required values
filled. Each problem names center, file, row (1-based data row, as the
warehouse's ``source_row_number``) and column, and never the raw value.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from pathlib import Path

from rwe_onboard.contract import (
    OnboardingError,
    Reference,
    check_center_id,
    load_mapping_file,
    load_reference,
    mapping_path,
)
from rwe_onboard.profile import split_list
from rwe_onboard.reader import Problem, read_export
from rwe_onboard.vocabulary import Vocabulary


@dataclass
class MappedTable:
    """One export table of a mapping."""

    name: str
    kind: str
    #: the file name without extension, or a glob (the dbt source identifier)
    files: str
    #: raw column -> {'field': ..., options} (None: delivered, not read)
    columns: dict[str, dict | None]


def read_mapping(path: Path, reference: Reference) -> list[MappedTable]:
    """The tables of a mapping file; :class:`OnboardingError` for TODOs or unmapped fields."""
    document = load_mapping_file(path)
    todos = list(_todos(document, ""))
    if todos:
        raise OnboardingError(f"{path} still has TODO at: {', '.join(todos)}; resolve them "
                              "first (docs/onboarding-a-center.md)")
    source = document["sources"][0]
    shape = ((source.get("config") or {}).get("meta") or {}).get("shape")
    tables = []
    for entry in source.get("tables") or []:
        meta = (entry.get("config") or {}).get("meta") or {}
        kind = meta.get("kind") or entry["name"]
        columns = {str(c): ({"field": e} if isinstance(e, str) else e)
                   for c, e in (meta.get("columns") or {}).items()}
        files = entry.get("identifier") or meta.get("files") or entry["name"]
        table = MappedTable(entry["name"], kind, str(files), columns)
        if kind not in reference.contracts:
            if shape == "omop_cdm":
                # a CDM table (person, drug_exposure, ...): its fields are the CDM's
                # (macros/staging/omop_cdm.sql); columns and date layouts are checked
                tables.append(table)
                continue
            raise OnboardingError(f"{path}: tables[{entry['name']}]: unknown kind {kind!r}")
        mapped = {e["field"] for e in columns.values() if e}
        fields = reference.fields(kind)
        unknown = sorted(mapped - set(fields))
        missing = [n for n, s in fields.items() if s["mapping"] == "required" and n not in mapped]
        missing += [" or ".join(g) for g in reference.contracts[kind].get("one_of") or []
                    if not mapped & set(g)]
        if unknown or missing:
            raise OnboardingError(
                f"{path}: tables[{table.name}].columns: "
                + "; ".join(([f"unknown field(s) {unknown}"] if unknown else [])
                            + ([f"required field(s) unmapped: {missing}"] if missing else [])))
        tables.append(table)
    return tables


def _todos(node: object, where: str):
    """Key paths whose value (or key) still says TODO."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if str(key).startswith("TODO"):
                yield path
            yield from _todos(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _todos(value, f"{where}[{index}]")
    elif isinstance(node, str) and node.strip().upper().startswith("TODO"):
        yield where


def precheck(project_dir: Path, center: str, exports: list[Path],
             reference: Reference | None = None) -> list[Problem]:
    """Every problem of ``exports`` as exports of ``center``, sorted by file, row, column."""
    check_center_id(center)
    path = mapping_path(project_dir, center)
    if not path.is_file():
        raise OnboardingError(f"{center} has no mapping ({path}): draft one with "
                              "`python -m rwe_onboard draft`")
    reference = reference or load_reference(project_dir)
    tables = read_mapping(path, reference)
    vocabulary = Vocabulary(project_dir, center)
    problems: list[Problem] = []
    for export in exports:
        table = next((t for t in tables if fnmatch.fnmatchcase(export.stem, t.files)), None)
        if table is None:
            problems.append(Problem(str(export), 0, "*", "the file name matches no table of "
                                    f"{path.name} ({', '.join(t.files for t in tables)})", center))
            continue
        problems += [Problem(p.file, p.row, p.column, p.message, center)
                     for p in _check_export(export, table, reference, vocabulary)]
    return sorted(problems)


def _check_export(export: Path, table: MappedTable, reference: Reference,
                  vocabulary: Vocabulary) -> list[Problem]:
    read = read_export(export)
    name = read.name
    problems = read.problems + read.notices
    if not read.header:
        return problems
    problems += [Problem(name, 0, c, "column missing: the mapping lists it")
                 for c in table.columns if c not in read.header]
    problems += [Problem(name, 0, c, "column not in the mapping: add it (~ if not read)")
                 for c in read.header if c not in table.columns]
    fields = reference.fields(table.kind) if table.kind in reference.contracts else {}
    checks = [(column, entry, fields.get(entry["field"]) or _cdm_field(entry))
              for column, entry in table.columns.items() if entry and column in read.header]
    for number, row in read.records():
        for column, entry, spec in checks:
            message = _value_problem(row[column], entry, spec, reference, vocabulary)
            if message:
                problems.append(Problem(name, number, column, message))
    for column, entry, _spec in checks:
        layout = entry.get("layout")
        dates = [row[column] for _n, row in read.records() if row[column]]
        if layout and dates and not any(reference.layout(layout).read(v) for v in dates):
            problems.append(Problem(name, 0, column, f"no value reads in layout {layout}: the "
                                    "raw-export gate stops the build"))
    return problems


def _cdm_field(entry: dict) -> dict:
    """An OMOP CDM field the contract does not list: a date when it has a layout."""
    return {"name": entry["field"], "type": "date" if entry.get("layout") else "text",
            "value": "optional"}


def _value_problem(text: str | None, entry: dict, spec: dict, reference: Reference,
                   vocabulary: Vocabulary) -> str | None:
    """Why a raw value cannot be read as its field (never quoting it), or None."""
    kind, field = spec["type"], spec["name"]
    if text is None or not text.strip():
        if spec["value"] == "required" or entry.get("required"):
            return f"missing required value ({field})"
        if spec["value"] == "known":
            return f"empty, but {field} needs a known spelling"
        return None
    if kind == "date":
        layout = reference.layout(entry.get("layout", ""))
        if layout is None:
            return f"the mapping declares no known layout for {field}"
        return None if layout.read(text) else f"not a date in layout {layout.name} ({field})"
    seed = spec.get("seed") or spec.get("items_seed")
    if entry.get("scale") == "karnofsky":
        seed = spec.get("karnofsky_seed")
    if kind in ("code", "yes_no") or (seed and kind == "whole_number"):
        if not vocabulary.knows(seed["seed"], text, seed["term"]):
            return f"spelling not in {seed['seed']} ({field})"
        return None
    if kind == "list" and seed:
        unknown = sum(not vocabulary.knows(seed["seed"], t, seed["term"])
                      for t in split_list(text, entry.get("delimiter") or "|"))
        return f"{unknown} item(s) not in {seed['seed']} ({field})" if unknown else None
    if kind == "whole_number":
        strip = str(entry.get("strip") or "")
        value = re.sub(re.escape(strip), "", text.strip(), flags=re.IGNORECASE).strip() \
            if strip else text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+(\.0*)?", value):
            return f"not a whole number ({field})"
        low, high = (spec.get("range") or [None, None])
        number = int(float(value))
        if (low is not None and number < low) or (high is not None and number > high):
            return f"outside {low}..{'' if high is None else high} ({field})"
    if kind == "relative_time":
        try:
            number = float(text)
        except ValueError:
            return f"not a number ({field})"
        if not math.isfinite(number):
            return f"not a number ({field})"
    return None

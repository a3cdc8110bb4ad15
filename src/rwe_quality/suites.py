"""Load Great Expectations suites from JSON, refusing any suite GX would load partially.

Great Expectations 1.24 builds an ``ExpectationSuite`` from its JSON entries
one by one. An entry whose ``type`` is unknown or whose
``severity`` is not one of ``critical``/``warning``/``info`` is *logged and
dropped*: the suite loads with fewer expectations and every validation run
still reports success. :func:`load_suite` counts the entries in the file and
the expectations GX kept, and raises :class:`SuiteLoadError` naming the file
(and the entries GX rejected) whenever they differ.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

SEVERITIES = ("critical", "warning", "info")
ENTRY_KEYS = frozenset({"type", "kwargs", "severity", "meta", "notes", "description"})


class SuiteLoadError(ValueError):
    """A suite file is not valid JSON, not a suite, or not loaded in full by GX."""


@dataclass(frozen=True)
class LoadedSuite:
    """A GX suite plus the JSON entries it was built from, in file order.

    ``suite.expectations[i]`` was built from ``entries[i]``; :func:`load_suite`
    guarantees both lists have the same length and the same types in order.
    """

    path: Path
    suite: ExpectationSuite
    entries: tuple[Mapping[str, Any], ...]


def load_suite(path: str | Path) -> ExpectationSuite:
    """Load a GX 1.x ExpectationSuite JSON file, with the expectation-count guard.

    Parameters
    ----------
    path
        A JSON document ``{"name": ..., "expectations": [{"type", "kwargs",
        "severity", "meta": {"reason"}}, ...], "meta": {...}}``.

    Returns
    -------
    ExpectationSuite
        The suite, with one expectation per JSON entry, in file order.

    Raises
    ------
    SuiteLoadError
        If the file cannot be read or parsed, if an entry lacks ``type``,
        ``kwargs``, ``severity`` or ``meta.reason``, if GX raises while building
        an expectation (e.g. bad kwargs), or if GX silently dropped entries so
        the loaded suite has fewer expectations than the file. The message
        names the file and the offending entries.
    """
    return load_suite_with_entries(path).suite


def load_suite_with_entries(path: str | Path) -> LoadedSuite:
    """Like :func:`load_suite`, also returning the JSON entries (for result rows)."""
    path = Path(path)
    document = _read_document(path)
    entries: list[dict[str, Any]] = document["expectations"]
    for index, entry in enumerate(entries):
        _check_entry_shape(path, index, entry)

    try:
        suite = ExpectationSuite(
            name=document["name"],
            expectations=copy.deepcopy(entries),
            meta=copy.deepcopy(document.get("meta")),
            notes=document.get("notes"),
        )
    except Exception as error:  # GX raises pydantic/Type errors for bad kwargs
        raise SuiteLoadError(
            f"{path}: Great Expectations could not load the suite: "
            f"{type(error).__name__}: {error}{_describe_problems(entries)}"
        ) from error

    # The guard: GX logs and drops entries it cannot parse instead of raising.
    if len(suite.expectations) != len(entries):
        raise SuiteLoadError(
            f"{path}: the file has {len(entries)} expectations but Great Expectations "
            f"loaded only {len(suite.expectations)}; it silently dropped the rest."
            f"{_describe_problems(entries)}"
        )
    for index, (entry, expectation) in enumerate(zip(entries, suite.expectations, strict=True)):
        if expectation.expectation_type != entry["type"]:
            raise SuiteLoadError(
                f"{path}: expectation {index} is {entry['type']!r} in the file but "
                f"{expectation.expectation_type!r} in the loaded suite; GX reordered or "
                "dropped entries."
            )
    return LoadedSuite(path=path, suite=suite, entries=tuple(entries))


def _read_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SuiteLoadError(f"{path}: cannot read the suite file: {error}") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SuiteLoadError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise SuiteLoadError(f"{path}: a suite must be a JSON object")
    if not isinstance(document.get("name"), str) or not document["name"]:
        raise SuiteLoadError(f"{path}: the suite needs a non-empty string 'name'")
    expectations = document.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteLoadError(f"{path}: the suite needs a non-empty 'expectations' list")
    return document


def _check_entry_shape(path: Path, index: int, entry: Any) -> None:
    """Project conventions GX itself does not enforce (severity would default to critical)."""
    where = f"{path}: expectation {index}"
    if not isinstance(entry, dict):
        raise SuiteLoadError(f"{where} must be a JSON object")
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise SuiteLoadError(f"{where} has unknown keys {unknown}; allowed: {sorted(ENTRY_KEYS)}")
    if not isinstance(entry.get("type"), str):
        raise SuiteLoadError(f"{where} needs a string 'type'")
    if not isinstance(entry.get("kwargs"), dict):
        raise SuiteLoadError(f"{where} ({entry['type']}) needs a 'kwargs' object")
    if "severity" not in entry:
        raise SuiteLoadError(
            f"{where} ({entry['type']}) needs an explicit 'severity' ({', '.join(SEVERITIES)})"
        )
    meta = entry.get("meta")
    if not isinstance(meta, dict) or not isinstance(meta.get("reason"), str) or not meta["reason"]:
        raise SuiteLoadError(f"{where} ({entry['type']}) needs a non-empty 'meta.reason'")


def _describe_problems(entries: Sequence[Mapping[str, Any]]) -> str:
    """Build each entry alone to say which ones GX rejects, and why."""
    problems = []
    for index, entry in enumerate(entries):
        try:
            ExpectationConfiguration(**copy.deepcopy(dict(entry))).to_domain_obj()
        except Exception as error:
            message = " ".join(str(error).split())
            problems.append(f"expectation {index} ({entry.get('type')}): {message}")
    if not problems:
        return ""
    return " Rejected entries: " + "; ".join(problems)

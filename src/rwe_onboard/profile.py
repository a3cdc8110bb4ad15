"""Profile a sample export and guess how its columns map onto the contract.

Every value is read as text, as the warehouse reads it. Per column the
profile gives the non-empty share, distinct count, a few examples (withheld
for direct identifiers), the best-fitting date layout, the numeric share, a
constant text around whole numbers (``ECOG 1`` -> strip ``ecog``) and the
most likely list delimiter. Guesses come from header synonyms
(:data:`rwe_onboard.contract.FIELDS`) and, for coded fields the names do not
reveal, from values the terminology seeds already know.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rwe_onboard.contract import (
    FIELD_BY_NAME,
    FIELDS,
    IDENTIFIER_SYNONYMS,
    LAYOUTS,
    UNSAFE_LITERAL,
    OnboardingError,
    normalise_header,
    parse_date,
    validate_header,
)
from rwe_onboard.mapping import list_tokens, read_integer
from rwe_onboard.reader import Export, read_export, summarise
from rwe_onboard.vocabulary import Vocabulary, normalise_code

#: Candidate list delimiters, most specific first.
DELIMITERS: tuple[str, ...] = (" + ", "|", ";", "+", "/", "、", ",", "&")
#: Share of non-empty values that must fit before a layout or kind is guessed
#: (below 1: a sample has dirty rows).
FIT = 0.8
#: More than this share of repeated (patient, line) pairs suggests one row per
#: administration, which the scaffold does not support.
ADMINISTRATION_SHARE = 0.2


@dataclass
class ColumnProfile:
    """What one column of the sample looks like."""

    name: str
    non_empty_share: float
    distinct_count: int
    examples: list[str]
    is_identifier: bool = False
    date_layout: str | None = None
    date_share: float = 0.0
    numeric_share: float = 0.0
    #: text found around whole numbers in every value (e.g. 'ecog'), lower case
    integer_strip: tuple[str, ...] = ()
    integer_share: float = 0.0
    delimiter: str | None = None
    values: list[str] = field(default_factory=list, repr=False)


@dataclass
class Profile:
    """The sample's columns, the guessed mapping and warnings."""

    path: Path
    row_count: int
    columns: dict[str, ColumnProfile]
    #: contract field -> source column
    guesses: dict[str, str]
    #: contract field -> why it was guessed
    reasons: dict[str, str]
    warnings: list[str]


def load_sample(path: Path) -> Export:
    """The sample export, read strictly; :class:`OnboardingError` if it cannot be profiled.

    Refused, before anything is written: a header whose names the warehouse
    cannot use (:func:`rwe_onboard.contract.validate_header`), any structural
    problem the warehouse's gate would stop at (ragged rows, an unclosed
    quote, non-UTF-8 bytes), and a file without data rows.
    """
    export = read_export(path)
    if not export.header:
        raise OnboardingError(f"{path}: {export.problems[0].message}" if export.problems
                              else f"{path}: the file is empty (no header)")
    validate_header(export.header, str(path))
    if export.problems:
        raise OnboardingError(
            f"{path} is not a readable export ({len(export.problems)} problem(s) the "
            "warehouse's raw-export gate would stop at); fix the sample first:\n"
            + summarise(export.problems))
    if not export.rows:
        raise OnboardingError(f"{path}: the file has a header but no data rows")
    return export


def profile_sample(sample: Path | Export, vocabulary: Vocabulary | None = None) -> Profile:
    """Profile the sample (a path, or an export read by :func:`load_sample`) and guess its
    mapping onto the contract."""
    export = sample if isinstance(sample, Export) else load_sample(sample)
    frame = pd.DataFrame([cells for _number, cells in export.rows], columns=export.header,
                         dtype=object)
    warnings: list[str] = [problem.message for problem in export.notices]
    if len(frame.columns) == 1 and ";" in frame.columns[0]:
        warnings.append("the header has one column containing ';': the warehouse reads "
                        "comma-separated files; ask for a comma-separated export")
    columns = {name: _profile_column(name, frame[name]) for name in frame.columns}
    guesses, reasons = _guess(columns, vocabulary)
    warnings.extend(_shape_warnings(frame, guesses))
    return Profile(export.path, len(frame), columns, guesses, reasons, warnings)


def _profile_column(name: str, series: pd.Series) -> ColumnProfile:
    values = [value for value in series.tolist() if value is not None and value.strip(" ")]
    total = max(len(series), 1)
    distinct = sorted(set(values))
    header = normalise_header(name)
    is_identifier = header in IDENTIFIER_SYNONYMS or any(
        header in FIELD_BY_NAME[f].synonyms for f in ("patient_key", "birth_date", "national_id"))
    profile = ColumnProfile(
        name=name,
        non_empty_share=len(values) / total,
        distinct_count=len(distinct),
        examples=[] if is_identifier else distinct[:3],
        is_identifier=is_identifier,
        values=values,
    )
    if not values:
        return profile
    for layout in LAYOUTS:
        share = sum(parse_date(v, layout) is not None for v in values) / len(values)
        if share > profile.date_share:
            profile.date_layout, profile.date_share = layout, share
    if profile.date_share < FIT:
        profile.date_layout = None
    profile.numeric_share = sum(_is_number(v) for v in values) / len(values)
    profile.integer_strip, profile.integer_share = _integer_pattern(values)
    profile.delimiter = _delimiter(values)
    return profile


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _integer_pattern(values: list[str]) -> tuple[tuple[str, ...], float]:
    """The constant text around whole numbers, and the share of values it fits."""
    residues = Counter(re.sub(r"\s*\d+\s*", " ", v.strip(" ").lower()).strip() for v in values
                       if re.fullmatch(r"\D*\d+\D*", v))
    if not residues:
        return (), 0.0
    residue, _count = residues.most_common(1)[0]
    strip = tuple(part for part in residue.split(" ") if part) if residue else ()
    if any(re.search(r"[0-9]", part) or UNSAFE_LITERAL.search(part) or not part.isprintable()
           or len(part) > 20 for part in strip):
        return (), 0.0  # never propose a strip text the mapping would refuse
    share = sum(read_integer(v, strip) is not None for v in values) / len(values)
    return strip, share


def _delimiter(values: list[str]) -> str | None:
    counts = {d: sum(d in v for v in values) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best] == 0:
        return None
    return best


def _guess(columns: dict[str, ColumnProfile], vocabulary: Vocabulary | None
           ) -> tuple[dict[str, str], dict[str, str]]:
    """Contract field -> source column, by header synonyms then by known codes."""
    candidates: list[tuple[int, int, str, str, str]] = []
    order = {f.name: i for i, f in enumerate(FIELDS)}
    for column in columns.values():
        header = normalise_header(column.name)
        parts = header.split("_")
        for spec in FIELDS:
            for synonym in spec.synonyms:
                if header == synonym:
                    score = 3
                elif len(synonym) > 3 and (synonym in parts or (
                        "_" in synonym and f"_{synonym}_" in f"_{header}_")):
                    score = 2
                else:
                    continue
                if _fits(spec.name, column):
                    candidates.append((score, -order[spec.name], spec.name, column.name,
                                       f"header '{column.name}' ~ '{synonym}'"))
    guesses: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for _score, _order, name, column_name, reason in sorted(candidates, reverse=True):
        if name in guesses or column_name in guesses.values():
            continue
        if name in ("birth_date", "birth_year") and ({"birth_date", "birth_year"} & set(guesses)):
            continue
        guesses[name], reasons[name] = column_name, reason
    if vocabulary is not None:
        for spec in FIELDS:
            if spec.name in guesses or spec.seed is None:
                continue
            best, best_share = None, 0.5
            for column in columns.values():
                if column.name in guesses.values() or not column.values:
                    continue
                share = _known_share(spec.name, column, vocabulary)
                if share > best_share:
                    best, best_share = column.name, share
            if best is not None:
                guesses[spec.name] = best
                reasons[spec.name] = (f"{best_share:.0%} of its values are known to "
                                      f"{spec.seed}")
    return guesses, reasons


def _fits(name: str, column: ColumnProfile) -> bool:
    """Whether the values of ``column`` are plausible for field ``name``."""
    kind = FIELD_BY_NAME[name].kind
    if not column.values:
        return kind not in ("key",)
    if kind == "date":
        return column.date_layout is not None
    if kind == "integer":
        return column.integer_share >= FIT
    if kind == "year":
        return column.numeric_share >= FIT
    return True


def _known_share(name: str, column: ColumnProfile, vocabulary: Vocabulary) -> float:
    spec = FIELD_BY_NAME[name]
    if spec.kind == "list":
        if column.delimiter is None:
            tokens = [normalise_code(v) for v in column.values]
        else:
            tokens = [t for v in column.values for t in list_tokens(v, column.delimiter)]
        if not tokens:
            return 0.0
        return sum(vocabulary.knows(spec.seed, t) for t in tokens) / len(tokens)
    distinct = {normalise_code(v) for v in column.values}
    if spec.seed == "terminology__yes_no_codes" or len(distinct) > 20:
        return 0.0  # yes/no codes (and long free text) fit too many columns to guess
    return sum(vocabulary.knows(spec.seed, v) for v in distinct) / len(distinct)


def _shape_warnings(frame: pd.DataFrame, guesses: dict[str, str]) -> list[str]:
    """Warn when the sample looks like one row per administration, not per line."""
    key, line = guesses.get("patient_key"), guesses.get("line_number")
    if key is None:
        return []
    keyed = frame.loc[frame[key].notna()]
    if keyed.empty:
        return []
    if line is not None:
        pairs = keyed[[key, line]].dropna()
        repeated = pairs.duplicated(keep=False).mean() if len(pairs) else 0.0
        if repeated > ADMINISTRATION_SHARE:
            return [f"{repeated:.0%} of the rows repeat a ({key}, {line}) pair: this looks like "
                    "one row per drug administration. The scaffold supports line-level exports "
                    "(one row per patient per line) only; administration-level exports need "
                    "hand-written staging like center_b (docs/onboarding-a-center.md)."]
        return []
    rows_per_patient = keyed.groupby(key).size().median()
    if rows_per_patient > 4:
        return [f"no line-number column was found and a patient has {rows_per_patient:.0f} "
                "rows (median): this looks like one row per administration or visit. The "
                "scaffold supports line-level exports only (docs/onboarding-a-center.md)."]
    return []

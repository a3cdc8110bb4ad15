"""Profile a sample export: per column, how its text looks.

Every value is read as text, as the warehouse reads it. Per column: the
filled share, the distinct count, whether the header names a direct
identifier, the date layout most values are written in, whether values are
whole numbers (possibly around a constant text, ``ECOG 1``, ``2L``), the list
delimiter, and the spellings (lower case, trimmed: how staging compares them)
of a column with few distinct values. Identifier columns get no spellings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from rwe_onboard.reader import Export

#: Share of filled values that must fit before a layout or a kind is guessed
#: (below 1: a sample has dirty rows).
FIT = 0.8
#: Candidate list delimiters, most specific first.
DELIMITERS: tuple[str, ...] = (" + ", "|", ";", "+", "/", "、", ",", "&")
#: A column with at most this many distinct spellings is a code column.
MAX_SPELLINGS = 60
#: Header words of direct identifiers (compared after normalising the header).
IDENTIFIER_WORDS = frozenset({
    "mrn", "name", "patient_name", "first_name", "last_name", "surname", "full_name",
    "national_id", "id_card_no", "id_number", "ssn", "insurance_number", "address", "phone",
    "email", "dob", "birth_date", "date_of_birth", "patient_key", "case_no", "person_source_value",
})


def normalise_header(name: str) -> str:
    """Lower case, every run of non-alphanumerics one underscore."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def spelling(value: str) -> str:
    """A code as staging compares it: trimmed, lower case."""
    return value.strip().lower()


@dataclass(frozen=True)
class DateLayout:
    """One layout of ``macros/adapters/parse_date.sql``: the text's shape, then strptime."""

    name: str
    shape: str
    strftime: str

    def read(self, text: str | None) -> dt.date | None:
        """The date ``text`` holds in this layout, or None (empty, other shape, impossible)."""
        if text is None or not re.fullmatch(self.shape.strip("^$"), text.strip()):
            return None
        try:
            return dt.datetime.strptime(text.strip(), self.strftime).date()
        except ValueError:
            return None


@dataclass
class ColumnProfile:
    """What one column of the sample looks like."""

    name: str
    filled_share: float
    distinct_count: int
    is_identifier: bool
    date_layout: str | None = None
    date_share: float = 0.0
    #: text around whole numbers (``ecog`` in 'ECOG 1', ``l`` in '2L'), lower case
    number_affix: str = ""
    integer_share: float = 0.0
    numeric_share: float = 0.0
    delimiter: str | None = None
    #: distinct lower/trim spellings (list tokens when there is a delimiter); empty
    #: for identifiers and free text
    spellings: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list, repr=False)

    @property
    def kind(self) -> str:
        """date, integer, number, codes or text: what the values look like."""
        if self.date_layout:
            return "date"
        if self.integer_share >= FIT:
            return "integer"
        if self.numeric_share >= FIT:
            return "number"
        return "codes" if self.spellings else "text"


@dataclass
class FileProfile:
    """A sample export's columns, in header order."""

    name: str
    row_count: int
    columns: dict[str, ColumnProfile]
    #: share of rows repeating an earlier row's first column (a patient key?)
    repeated_first_column_share: float = 0.0


def profile_export(export: Export, layouts: list[DateLayout]) -> FileProfile:
    """Profile every column of ``export`` (read by :func:`rwe_onboard.reader.read_export`)."""
    by_column: dict[str, list[str]] = {name: [] for name in export.header}
    for _number, cells in export.rows:
        for name, cell in zip(export.header, cells, strict=True):
            if cell is not None and cell.strip():
                by_column[name].append(cell)
    total = max(len(export.rows), 1)
    columns = {name: _profile_column(name, values, total, layouts)
               for name, values in by_column.items()}
    first = [cells[0] for _n, cells in export.rows if cells and cells[0]]
    repeated = 1 - len(set(first)) / len(first) if first else 0.0
    return FileProfile(export.path.stem, len(export.rows), columns, repeated)


def _profile_column(name: str, values: list[str], total: int, layouts: list[DateLayout]
                    ) -> ColumnProfile:
    distinct = set(values)
    profile = ColumnProfile(name, len(values) / total, len(distinct),
                            normalise_header(name) in IDENTIFIER_WORDS, values=values)
    if not values:
        return profile
    for layout in layouts:
        share = sum(layout.read(v) is not None for v in values) / len(values)
        if share > profile.date_share:
            profile.date_layout, profile.date_share = layout.name, share
    if profile.date_share < FIT:
        profile.date_layout = None
    profile.numeric_share = sum(_is_number(v) for v in values) / len(values)
    profile.number_affix, profile.integer_share = _integer_pattern(values)
    if profile.is_identifier or profile.date_layout is not None:
        return profile
    profile.delimiter = _delimiter(values) if profile.numeric_share < FIT else None
    tokens = ({t for v in values for t in split_list(v, profile.delimiter)}
              if profile.delimiter else {spelling(v) for v in values})
    if len(tokens) <= MAX_SPELLINGS:
        profile.spellings = sorted(tokens)
    return profile


def split_list(text: str, delimiter: str) -> list[str]:
    """The lower/trim tokens of a list value, as staging splits them."""
    core = delimiter.strip() or delimiter
    return [spelling(t) for t in spelling(text).split(core) if t.strip()]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _integer_pattern(values: list[str]) -> tuple[str, float]:
    """The most common text around one whole number ('ecog' in 'ECOG 1'), and its share."""
    affixes = Counter(re.sub(r"\s*\d+\s*", " ", v.strip().lower()).strip() for v in values
                      if len(re.findall(r"\d+", v)) == 1)
    if not affixes:
        return "", 0.0
    affix, count = affixes.most_common(1)[0]
    return affix, count / len(values)


def _delimiter(values: list[str]) -> str | None:
    counts = {d: sum(d in v for v in values) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] >= max(2, len(values) // 20) else None

"""Read a raw export as the warehouse does, and name every structural problem.

The warehouse reads an export as UTF-8, comma-separated, ``"``-quoted CSV
whose first record is the header, and numbers the data rows 1, 2, ... in
file order (``source_row_number``, header excluded). Its on-run-start gate
reads the file strictly: a row with fewer or more fields than the header, a
quote that is never closed or a byte that is not UTF-8 stops the build.
Here the same file is read with the :mod:`csv` module, record by record, so
that each of those is one :class:`Problem` naming the data row (numbered as
the warehouse numbers it), the column where one can be named (``*`` where
not) and the line of the file. Two things the warehouse tolerates are
reported too: a UTF-8 byte-order mark and blank lines (DuckDB skips both;
blank lines are not counted as rows, here neither).

Nothing is filled in or skipped silently: a ragged row is reported and left
out of :attr:`Export.rows`, never padded.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

BOM = b"\xef\xbb\xbf"
#: Problems listed in an error message before "... and N more".
SHOWN = 20


@dataclass(frozen=True, order=True)
class Problem:
    """One problem of an export: ``<center>: <file>:<row>:<column>: <message>``.

    ``row`` is the 1-based data row (header excluded), 0 for the file or its
    header; ``column`` is ``*`` when no single column can be named. The
    message never holds a raw value.
    """

    file: str
    row: int
    column: str
    message: str
    center: str = ""

    def __str__(self) -> str:
        where = f"{self.center}: " if self.center else ""
        return f"{where}{self.file}:{self.row}:{self.column}: {self.message}"


@dataclass
class Export:
    """A CSV export read strictly."""

    path: Path
    name: str
    header: list[str]
    #: (data row number, cells) of every row with the header's number of fields;
    #: an empty cell is None, as the warehouse reads it
    rows: list[tuple[int, list[str | None]]]
    #: data rows in the file (blank lines not counted), as the warehouse numbers them
    row_count: int
    #: problems that stop the warehouse's gate (or make the file unreadable)
    problems: list[Problem] = field(default_factory=list)
    #: problems the warehouse tolerates (byte-order mark, blank lines)
    notices: list[Problem] = field(default_factory=list)

    def records(self) -> list[tuple[int, dict[str, str | None]]]:
        """The readable rows as (data row number, column -> value)."""
        return [(number, dict(zip(self.header, cells, strict=True)))
                for number, cells in self.rows]


def summarise(problems: list[Problem]) -> str:
    """Problems as indented lines for an error message (the first :data:`SHOWN`)."""
    lines = [f"  {problem}" for problem in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  ... and {len(problems) - SHOWN} more")
    return "\n".join(lines)


def _not_utf8(text: str) -> str | None:
    """The first byte that was not UTF-8 (decoded with surrogateescape), as 0xNN."""
    for char in text:
        if 0xDC80 <= ord(char) <= 0xDCFF:
            return f"0x{ord(char) - 0xDC00:02X}"
    return None


def read_export(path: Path, name: str | None = None) -> Export:
    """Read ``path`` strictly; every structural problem is in the result, none is raised.

    ``name`` is how problems name the file (default: the path as given).
    """
    name = str(path) if name is None else name
    export = Export(path, name, [], [], 0)

    def fail(message: str) -> Export:
        export.problems.append(Problem(name, 0, "*", message))
        return export

    if not path.is_file():
        return fail("no such file")
    try:
        data = path.read_bytes()
    except OSError as error:
        return fail(f"cannot read the file ({error.strerror})")
    if not data:
        return fail("the file is empty (no header)")
    if data[:2] == b"\x1f\x8b":
        return fail("the file is gzip-compressed, not CSV text: decompress it")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return fail("the file is UTF-16 text: export it as UTF-8")
    if data.startswith(BOM):
        data = data[len(BOM):]
        export.notices.append(Problem(
            name, 0, "*", "the file starts with a UTF-8 byte-order mark: the warehouse's "
            "reader skips it, other loaders read it into the first column's name; export "
            "without it"))
    text = data.decode("utf-8", errors="surrogateescape")
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))  # a long value is not a CSV error
    try:
        _read_records(export, text)
    finally:
        csv.field_size_limit(limit)
    return export


def _read_records(export: Export, text: str) -> None:
    name = export.name
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0  # data rows so far; the header is record 0
    blank_from: int | None = None  # first line of a run of blank lines
    while True:
        first_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row = number + 1 if export.header else 0
            message = str(error)
            if "unexpected end of data" in message:
                message = (f"a quote opened in this row (line {first_line} of the file) is "
                           "never closed: the rest of the file would be read as one value")
            elif "expected after" in message:
                message = (f"a closing quote in this row (line {reader.line_num} of the file) "
                           "is followed by more text: quote the whole value, and double "
                           "every quote inside it")
            else:
                message = f"not readable as CSV at line {reader.line_num} of the file ({message})"
            export.problems.append(Problem(name, row, "*", message))
            if row:
                number = row
            if "never closed" in message:
                break
            continue
        if not cells:
            blank_from = first_line if blank_from is None else blank_from
            continue
        if blank_from is not None:
            _blank_lines(export, number, blank_from, first_line - 1)
            blank_from = None
        if not export.header and number == 0 and not export.rows:
            export.header = cells  # its names are checked by contract.header_problems
            continue
        number += 1
        if len(cells) != len(export.header):
            fewer = len(cells) < len(export.header)
            export.problems.append(Problem(
                name, number, "*",
                f"{len(cells)} field(s) where the header has {len(export.header)} "
                f"(line {first_line} of the file): "
                + ("a truncated file or a ragged row" if fewer else "more fields than the "
                   "header (an unquoted comma?)")))
            continue
        readable = True
        for column, cell in zip(export.header, cells, strict=True):
            byte = _not_utf8(cell)
            if byte is not None:
                readable = False
                shown = column if column.isprintable() and _not_utf8(column) is None else "*"
                export.problems.append(Problem(
                    name, number, shown, f"not UTF-8 text (byte {byte}, line {first_line} of "
                    "the file): export the file as UTF-8"))
        if readable:
            export.rows.append((number, [cell if cell != "" else None for cell in cells]))
    if blank_from is not None:
        _blank_lines(export, number, blank_from, reader.line_num)
    export.row_count = number


def _blank_lines(export: Export, after_row: int, first: int, last: int) -> None:
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    where = ("before the header" if not export.header else "after the header" if after_row == 0
             else "after this row")
    export.notices.append(Problem(
        export.name, after_row, "*",
        f"blank line(s) {where} ({lines} of the file): the warehouse skips them (they are "
        "not counted as rows); remove them"))

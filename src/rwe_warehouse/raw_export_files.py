"""dbt-duckdb plugin: what the raw-export gate must know about the files themselves.

The on-run-start gate (macros/check_raw_exports.sql) checks each raw export
in SQL, but SQL cannot see what a file *is*: DuckDB follows symbolic links,
lists no folders and reads a whole first line however long it is. On a file
with old-Mac line endings (a carriage return alone) that line is the whole
file, and a reader built for its thousands of "columns" ran out of memory.
So these facts come from Python, reading no more of a file than its first
line, and reach the gate as two DuckDB functions (registered on every
connection; enabled in profiles.yml, ``plugins: [{module:
rwe_warehouse.raw_export_files}]``):

``rwe_raw_export_unexpected(raw_data_dir, declared_json)``
    '' or a sentence naming a file or folder that no source declares: an
    export nothing reads must not be delivered silently.
``rwe_raw_export_file(raw_data_dir, file_path, header_max_bytes)``
    JSON ``{"problem": str, "header": [names], "types": [types]}`` of one
    declared export (``file_path`` is ``<center>/<file>`` relative to
    ``raw_data_dir``): the path must be a regular file inside ``raw_data_dir``
    reached through no symbolic link; a CSV export's first line must end
    within ``header_max_bytes`` with LF or CRLF; a Parquet export's schema is
    read from its footer.

Sentences name files, positions and counts, never a value of the file.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path, PurePosixPath

from dbt.adapters.duckdb.plugins import BasePlugin

GZIP_MAGIC = b"\x1f\x8b"
UTF16_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BYTE_ORDER_MARK = b"\xef\xbb\xbf"
#: Suffixes of files that look like an export when they lie loose in raw_data_dir.
EXPORT_SUFFIXES = {".csv", ".parquet"}
#: Unexpected names listed in a sentence before "and N more".
SHOWN = 5


def quoted(name: str) -> str:
    """A file name for a message: quoted, control characters escaped."""
    return f"'{name}'" if name.isprintable() else json.dumps(name)


def _listed(names: list[str]) -> str:
    shown = ", ".join(quoted(name) for name in names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def unexpected_entries_problem(raw_data_dir: Path, declared: list[str]) -> str:
    """A sentence naming what lies in ``raw_data_dir`` that no source declares, else ''.

    ``declared`` holds the ``<center>/<file>`` path of every declared export.
    Inside a declared center's folder every entry must be a declared export
    (a second batch beside the first is read by nothing). At the top level a
    folder that is no declared center, or a loose ``.csv``/``.parquet`` file,
    is unexpected; other files (the generator's ``manifest.json``) and hidden
    entries are not. A declared path that is missing, a folder or a link is
    left to :func:`export_file_facts`, which names it as that export.
    """
    centers: dict[str, set[str]] = {}
    for path in declared:
        center, file_name = PurePosixPath(path).parts
        centers.setdefault(center, set()).add(file_name)
    if not raw_data_dir.is_dir():
        return ""
    loose = sorted(entry.name for entry in os.scandir(raw_data_dir)
                   if not entry.name.startswith(".") and entry.name not in centers
                   and (entry.is_dir() or Path(entry.name).suffix.lower() in EXPORT_SUFFIXES))
    if loose:
        return (f"raw_data_dir ({raw_data_dir}): it holds {_listed(loose)}, which is no "
                "declared center's folder or export, so no model would read it: move it out "
                "of raw_data_dir, or onboard the center (docs/onboarding-a-center.md)")
    for center, file_names in sorted(centers.items()):
        folder = raw_data_dir / center
        if folder.is_symlink() or not folder.is_dir():
            continue
        extra = sorted(entry.name for entry in os.scandir(folder) if entry.name not in file_names)
        if extra:
            return (f"center '{center}' (folder {folder}): the folder holds {_listed(extra)}, "
                    f"which no source of center '{center}' declares, so no model would read "
                    "it: move it out of the folder, or declare it in the center's sources YAML")
    return ""


def _path_problem(raw_data_dir: Path, file_path: str) -> str:
    parts = PurePosixPath(file_path).parts
    if len(parts) != 2 or any(part in (".", "..") for part in parts):
        return "the export's path is not <center>/<file> inside raw_data_dir"
    folder = raw_data_dir / parts[0]
    path = folder / parts[1]
    if folder.is_symlink():
        return ("the center's folder is a symbolic link: the gate reads exports only from "
                "folders inside raw_data_dir, never through a link; copy the files in")
    if path.is_symlink():
        return ("the file is a symbolic link: the gate reads exports only from files inside "
                "raw_data_dir, never through a link; copy the file in")
    if not path.exists():
        return "the file does not exist"
    if path.is_dir():
        return "the file does not exist: the path is a folder"
    if not path.is_file():
        return "the file does not exist: the path is not a regular file"
    if not path.resolve().is_relative_to(raw_data_dir.resolve()):
        return "the file lies outside raw_data_dir"
    return ""


def _first_line(path: Path, header_max_bytes: int) -> tuple[str, bytes]:
    """(problem, bytes of the first line without its line end and byte-order mark)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as handle:
        # two bytes more than the limit: the line end right after a line of the limit
        head = handle.read(len(UTF8_BYTE_ORDER_MARK) + header_max_bytes + 2)
        at_end = not handle.read(1)
    if head.startswith(GZIP_MAGIC):
        return "the file is gzip-compressed, not CSV text: decompress it", b""
    if head[:2] in UTF16_BYTE_ORDER_MARKS:
        return "the file is UTF-16 text: export it as UTF-8", b""
    head = head.removeprefix(UTF8_BYTE_ORDER_MARK)
    ends = [position for position in (head.find(b"\n"), head.find(b"\r")) if position >= 0]
    end = min(ends) if ends else len(head)
    too_long = (f"line 1 (the header) is longer than {header_max_bytes} bytes "
                "(delivery_limits.raw_header_max_bytes): not an export's header")
    if end > header_max_bytes or (not ends and not at_end):
        return too_long, b""
    if head[end:end + 1] == b"\r" and head[end + 1:end + 2] != b"\n" and end + 1 < len(head):
        return ("line 1 ends with a carriage return alone (old Mac line endings): export the "
                "file with LF or CRLF line endings"), b""
    return "", head[:end]


def _csv_facts(path: Path, header_max_bytes: int) -> dict:
    problem, line = _first_line(path, header_max_bytes)
    if problem:
        return {"problem": problem}
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return {"problem": "line 1 (the header) is not UTF-8 text: export the file as UTF-8"}
    try:
        header = next(csv.reader([text], strict=True), [])
    except csv.Error:
        return {"problem": "line 1 (the header) has a quote that is never closed on that line"}
    return {"problem": "", "header": header}


def _parquet_facts(path: Path) -> dict:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pyarrow.ArrowException, OSError):
        return {"problem": "the file is not a readable Parquet file"}
    return {"problem": "", "header": list(schema.names),
            "types": [str(field.type) for field in schema]}


def export_file_facts(raw_data_dir: Path, file_path: str, header_max_bytes: int) -> dict:
    """What the gate needs to know of one declared export (see the module docstring)."""
    problem = _path_problem(raw_data_dir, file_path)
    if problem:
        return {"problem": problem}
    path = raw_data_dir / file_path
    if path.stat().st_size == 0:
        return {"problem": "the export is empty (no data rows)"}
    if path.suffix == ".parquet":
        return _parquet_facts(path)
    return _csv_facts(path, header_max_bytes)


def _unexpected(raw_data_dir: str, declared_json: str) -> str:
    return unexpected_entries_problem(Path(raw_data_dir), json.loads(declared_json))


def _file(raw_data_dir: str, file_path: str, header_max_bytes: int) -> str:
    return json.dumps(export_file_facts(Path(raw_data_dir), file_path, header_max_bytes),
                      ensure_ascii=False)


class Plugin(BasePlugin):
    """Registers ``rwe_raw_export_unexpected`` and ``rwe_raw_export_file`` on each connection."""

    def configure_connection(self, conn) -> None:
        # side_effects: they read the file system, so DuckDB must call them every time
        conn.create_function("rwe_raw_export_unexpected", _unexpected, ["VARCHAR", "VARCHAR"],
                             "VARCHAR", side_effects=True)
        conn.create_function("rwe_raw_export_file", _file, ["VARCHAR", "VARCHAR", "BIGINT"],
                             "VARCHAR", side_effects=True)

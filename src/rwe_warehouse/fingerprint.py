"""Fingerprint what a build read and ran with, for the run log."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy", "scipy", "lifelines",
            "scikit-learn", "great-expectations")
_CHUNK = 1 << 20
#: The longest CSV field the recount reads: DuckDB's longest line (its
#: read_csv max_line_size default), so any file the models read is counted.
MAX_CSV_FIELD_BYTES = 2_097_152
#: What besides the raw exports decides the results: seeds (terminology) and
#: project code, relative to the dbt project directory.
CODE_PATHS = ("dbt_project.yml", "seeds", "models", "macros", "python_models", "src",
              "expectations")
#: The columns of raw_export_files that raw_input_fingerprints reads.
EXPORT_COLUMNS = ("center_id", "source_table", "file_path")
#: Never part of the code: caches, build leftovers, editor and hidden files.
_NOT_CODE_PARTS = {"__pycache__"}
_NOT_CODE_SUFFIXES = {".pyc", ".pyo", ".swp", ".swo", ".tmp"}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (exports can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions(packages: tuple[str, ...] = PACKAGES) -> str:
    """Installed versions of the packages that shape the results, as sorted JSON."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return json.dumps(versions, sort_keys=True)


def _combined(lines: list[tuple[str, str]]) -> str:
    """SHA-256 of the ``path:sha256`` lines (in the order given: sorted by path)."""
    return hashlib.sha256(
        "\n".join(f"{path}:{sha}" for path, sha in lines).encode()).hexdigest()


def _is_code_file(path: Path, project_dir: Path) -> bool:
    relative = path.relative_to(project_dir)
    return (path.is_file()
            and not any(part.startswith(".") or part in _NOT_CODE_PARTS
                        or part.endswith(".egg-info") for part in relative.parts)
            and path.suffix not in _NOT_CODE_SUFFIXES and not path.name.endswith("~"))


def code_fingerprint(project_dir: Path, paths: tuple[str, ...] = CODE_PATHS) -> str:
    """SHA-256 over every seed and code file of the project (path and content).

    Covers ``dbt_project.yml`` and everything under ``seeds/``, ``models/``,
    ``macros/``, ``python_models/``, ``src/`` and ``expectations/``, except
    caches, hidden files and editor leftovers. Two builds with the same raw
    input fingerprint, code fingerprint and package versions ran the same
    code on the same data.
    """
    files = []
    for name in paths:
        root = project_dir / name
        candidates = [root] if root.is_file() else root.rglob("*")
        files += [path for path in candidates if _is_code_file(path, project_dir)]
    if not files:
        raise FileNotFoundError(f"no project code under {project_dir}")
    lines = []
    for path in sorted(files, key=lambda path: path.relative_to(project_dir).as_posix()):
        try:
            lines.append((path.relative_to(project_dir).as_posix(), file_sha256(path)))
        except FileNotFoundError:  # deleted since it was listed (an editor's temp file)
            continue
    return _combined(lines)


class _HashingReader(io.RawIOBase):
    """A binary file that updates a SHA-256 and a byte count with every byte read."""

    def __init__(self, handle) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._handle.readinto(buffer)
        if count:
            self.digest.update(memoryview(buffer)[:count])
            self.bytes_read += count
        return count


@contextmanager
def _csv_field_size_limit(limit: int):
    """The csv module's field limit (process-wide, 128 KiB by default) raised
    to DuckDB's line size for one read, then restored."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def read_export(path: Path) -> dict:
    """Size, SHA-256 and data records of one raw export, from one pass over its bytes.

    The record count shares nothing with the DuckDB reader the models use: a
    CSV export is read with Python's :mod:`csv` module (records, not lines:
    a quoted value may hold a line break; blank lines are no record, as
    DuckDB skips them; the first record is the header), a Parquet export's
    count comes from its footer (pyarrow). ``assert_row_accounting_balances``
    compares it with the rows ``row_accounting`` gives the export.
    """
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        if path.suffix == ".parquet":
            while reader.read(_CHUNK):
                pass
            records = pq.read_metadata(path).num_rows
        else:
            text = io.TextIOWrapper(io.BufferedReader(reader, _CHUNK), encoding="utf-8-sig",
                                    newline="")
            with _csv_field_size_limit(MAX_CSV_FIELD_BYTES):
                records = max(sum(1 for record in csv.reader(text) if record) - 1, 0)
    return {"file_bytes": reader.bytes_read, "file_sha256": reader.digest.hexdigest(),
            "record_count": records}


def raw_input_fingerprints(raw_data_dir: Path, exports: pd.DataFrame,
                           project_dir: Path | None = None) -> pd.DataFrame:
    """One row per raw export the build reads, with its size, SHA-256 and record count.

    ``exports`` holds ``center_id``, ``source_table`` and ``file_path``
    (relative to ``raw_data_dir``) of every declared export (the model
    ``raw_export_files``); files beside them, which no model reads, are
    neither fingerprinted nor counted (the raw-export gate stops the build
    when there are any). ``input_fingerprint`` (the same on every row) is the
    SHA-256 of the sorted ``file_path:sha256`` lines, so it changes when any
    export changes. With ``project_dir``, every row also carries the
    :func:`code_fingerprint`.
    """
    if exports.empty:
        raise FileNotFoundError(f"no raw export is declared for {raw_data_dir}")
    rows = [{"file_path": export.file_path, "center_id": export.center_id,
             "source_table": export.source_table,
             **read_export(raw_data_dir / export.file_path)}
            for export in exports.sort_values("file_path").itertuples()]
    combined = _combined([(row["file_path"], row["file_sha256"]) for row in rows])
    code = code_fingerprint(project_dir) if project_dir is not None else None
    return pd.DataFrame(rows).assign(input_fingerprint=combined, code_fingerprint=code,
                                     package_versions=package_versions())

"""Fingerprint what a build read and ran with, for the run log."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import pandas as pd

PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy", "scipy", "lifelines",
            "scikit-learn", "great-expectations")
_CHUNK = 1 << 20
#: What besides the raw exports decides the results: seeds (terminology) and
#: project code, relative to the dbt project directory.
CODE_PATHS = ("dbt_project.yml", "seeds", "models", "macros", "python_models", "src",
              "expectations")
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


def raw_input_fingerprints(raw_data_dir: Path, project_dir: Path | None = None) -> pd.DataFrame:
    """One row per raw export file under ``raw_data_dir`` with its size and SHA-256.

    ``input_fingerprint`` (the same on every row) is the SHA-256 of the sorted
    ``relative path:sha256`` lines, so it changes when any file changes. With
    ``project_dir``, every row also carries the :func:`code_fingerprint`.
    """
    files = sorted(path for path in raw_data_dir.rglob("*")
                   if path.is_file() and path.suffix in {".csv", ".parquet"})
    if not files:
        raise FileNotFoundError(f"no raw export files under {raw_data_dir}")
    rows = [{
        "file_path": str(path.relative_to(raw_data_dir)),
        "file_bytes": path.stat().st_size,
        "file_sha256": file_sha256(path),
    } for path in files]
    combined = _combined([(row["file_path"], row["file_sha256"]) for row in rows])
    code = code_fingerprint(project_dir) if project_dir is not None else None
    return pd.DataFrame(rows).assign(input_fingerprint=combined, code_fingerprint=code,
                                     package_versions=package_versions())

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


def raw_input_fingerprints(raw_data_dir: Path) -> pd.DataFrame:
    """One row per raw export file under ``raw_data_dir`` with its size and SHA-256.

    ``input_fingerprint`` (the same on every row) is the SHA-256 of the sorted
    ``relative path:sha256`` lines, so it changes when any file changes.
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
    combined = hashlib.sha256(
        "\n".join(f"{row['file_path']}:{row['file_sha256']}" for row in rows).encode()
    ).hexdigest()
    return pd.DataFrame(rows).assign(input_fingerprint=combined,
                                     package_versions=package_versions())

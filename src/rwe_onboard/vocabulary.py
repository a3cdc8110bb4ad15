"""The terminology seeds a coded field is matched against, read from the project.

Staging matches a spelling lower case and trimmed against the seed's first
column (its source term). A seed with a ``center_id`` column holds spellings
that mean something only at one center: a row with an empty ``center_id``
applies everywhere, one with a center id only there.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rwe_onboard.contract import OnboardingError


class Vocabulary:
    """Seeds of ``seeds/terminology``, read on demand, as spelling -> row."""

    def __init__(self, project_dir: Path, center: str):
        self.directory = project_dir / "seeds" / "terminology"
        self.center = center
        self.header: dict[str, list[str]] = {}
        self.rows: dict[str, dict[str, dict[str, str]]] = {}

    def _load(self, seed: str, term: str | None = None) -> dict[str, dict[str, str]]:
        if seed not in self.rows:
            path = self.directory / f"{seed}.csv"
            try:
                with path.open(encoding="utf-8", newline="") as handle:
                    reader = csv.DictReader(handle)
                    rows = list(reader)
                    header = list(reader.fieldnames or [])
            except OSError as error:
                raise OnboardingError(f"terminology seed {path} cannot be read: {error}") from error
            key = term or header[0]
            self.header[seed] = header
            self.rows[seed] = {
                row[key].strip().lower(): row for row in rows
                if (row.get("center_id") or "").strip() in ("", self.center)}
        return self.rows[seed]

    def knows(self, seed: str, spelling: str, term: str | None = None) -> bool:
        """Whether ``spelling`` is a source term of ``seed`` (column ``term``) here."""
        return spelling.strip().lower() in self._load(seed, term)

    def new_row(self, seed: str, spelling: str, term: str | None = None) -> str:
        """The CSV line to append for an unknown spelling: TODO for each value to fill."""
        self._load(seed, term)
        term = term or self.header[seed][0]
        cells = [spelling.strip().lower() if column == term
                 else self.center if column == "center_id" else f"TODO {column}"
                 for column in self.header[seed]]
        line = io.StringIO()
        csv.writer(line, lineterminator="").writerow(cells)
        return line.getvalue()

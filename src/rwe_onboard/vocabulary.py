"""The terminology seeds a coded field is matched against, read from the project.

Staging joins a code on ``lower(trim(code)) = lower(seed.source_term)``, so
everything here is keyed by the lower-case, trimmed spelling.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from rwe_onboard.contract import OnboardingError


@dataclass(frozen=True)
class Seed:
    """How one terminology seed maps a center's spelling to a harmonised value."""

    name: str
    key_column: str
    value_column: str
    #: harmonised values a code may map to (None: any value the seed already has)
    allowed_values: tuple[str, ...] | None
    meaning: str


SEEDS: dict[str, Seed] = {
    seed.name: seed for seed in (
        Seed("terminology__sex_codes", "source_term", "sex", ("male", "female"),
             "sex code -> male / female"),
        Seed("terminology__yes_no_codes", "source_term", "is_yes", ("true", "false"),
             "yes/no code -> true / false"),
        Seed("terminology__recist_responses", "source_term", "response_code",
             ("CR", "PR", "SD", "PD", "NE"), "response wording -> RECIST 1.1 code"),
        Seed("terminology__metastatic_sites", "source_term", "site",
             ("liver", "brain", "bone", "adrenal", "lymph_node", "lung", "pleura"),
             "site wording -> harmonised site"),
        Seed("terminology__drug_names", "source_name", "generic_name", None,
             "drug spelling -> generic (INN) name, drug class and ICI flag"),
    )
}


class Vocabulary:
    """The project's terminology seeds, as lower-case spelling -> harmonised value."""

    def __init__(self, project_dir: Path):
        self.directory = project_dir / "seeds" / "terminology"
        self.tables: dict[str, dict[str, str]] = {}
        self.rows: dict[str, list[dict[str, str]]] = {}
        for seed in SEEDS.values():
            path = self.directory / f"{seed.name}.csv"
            if not path.is_file():
                raise OnboardingError(f"terminology seed {path} is missing")
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
            self.rows[seed.name] = rows
            self.tables[seed.name] = {
                row[seed.key_column].strip().lower(): row[seed.value_column] for row in rows
            }

    def lookup(self, seed: str, code: str) -> str | None:
        """The harmonised value of ``code`` (matched lower/trim), or None."""
        return self.tables[seed].get(code.strip().lower())

    def knows(self, seed: str, code: str) -> bool:
        return code.strip().lower() in self.tables[seed]

    def allowed_values(self, seed: str) -> tuple[str, ...]:
        spec = SEEDS[seed]
        if spec.allowed_values is not None:
            return spec.allowed_values
        return tuple(sorted(set(self.tables[seed].values())))

    def new_row(self, seed: str, code: str, value: str) -> list[str]:
        """The CSV row to append to ``seed`` so that ``code`` maps to ``value``."""
        code = code.strip().lower()
        if seed == "terminology__recist_responses":
            return [code, value, _bool(value in ("CR", "PR")),
                    _bool(value in ("CR", "PR", "SD"))]
        if seed == "terminology__drug_names":
            known = [row for row in self.rows[seed] if row["generic_name"] == value]
            if not known:
                raise OnboardingError(
                    f"generic drug {value!r} is not in terminology__drug_names: add a full row "
                    "(source_name, generic_name, drug_class, is_ici) for it by hand first")
            return [code, value, known[0]["drug_class"], known[0]["is_ici"]]
        return [code, value]

    def append(self, seed: str, rows: list[list[str]]) -> Path:
        """Append ``rows`` to the seed's CSV file (used by tests and by hand)."""
        path = self.directory / f"{seed}.csv"
        text = path.read_text(encoding="utf-8")
        with path.open("a", encoding="utf-8", newline="") as handle:
            if text and not text.endswith("\n"):
                handle.write("\n")
            csv.writer(handle, lineterminator="\n").writerows(rows)
        return path


def normalise_code(value: object) -> str:
    """A code as staging compares it: text, trimmed, lower case."""
    return str(value).strip().lower()


def _bool(value: bool) -> str:
    return "true" if value else "false"

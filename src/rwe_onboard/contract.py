"""What the warehouse expects of a center, read from the project itself.

The export contracts (fields per output kind, required flags, types) are
defined once, in dbt macros (macros/staging/export_contracts.sql); this
module never copies them: it runs ``dbt run-operation print_export_contracts``
and reads the JSON it prints. The center's mapping is read from its file,
``models/staging/<center>/_<center>__mapping.yml`` (format:
docs/center-mapping.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from rwe_onboard.profile import DateLayout

#: Center ids as the warehouse accepts them (schema and model names).
CENTER_ID = re.compile(r"[a-z][a-z0-9_]{1,30}")


class OnboardingError(Exception):
    """A problem the user must fix; the message says what and where."""


def check_center_id(center: str) -> str:
    if not CENTER_ID.fullmatch(center or ""):
        raise OnboardingError(f"center id {center!r} must match {CENTER_ID.pattern} "
                              "(lower case letters, digits, underscores)")
    return center


def dbt_executable() -> str:
    """The dbt beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def run_operation(project_dir: Path, macro: str) -> list:
    """The JSON values ``dbt run-operation <macro>`` prints, one a line.

    Runs in a scratch target, log and warehouse directory, so the project's
    own build is neither read nor locked.
    """
    with tempfile.TemporaryDirectory(prefix="rwe-onboard-") as scratch:
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
               "RWE_WAREHOUSE_PATH": str(Path(scratch) / "scratch.duckdb"),
               # reading macros needs no key, but the profile's plugin asks for one
               "RWE_PSEUDONYM_KEY": os.environ.get("RWE_PSEUDONYM_KEY")
               or "onboarding-reads-no-data-0000"}
        done = subprocess.run(
            [dbt_executable(), "--quiet", "--no-partial-parse", "run-operation", macro,
             "--target-path", str(Path(scratch) / "target"),
             "--log-path", str(Path(scratch) / "logs")],
            cwd=project_dir, env=env, capture_output=True, text=True, timeout=600, check=False)
    printed = []
    for line in done.stdout.splitlines():
        if line.lstrip().startswith(("{", "[")):
            with contextlib.suppress(json.JSONDecodeError):
                printed.append(json.loads(line))
    if done.returncode == 0 and printed:
        return printed
    raise OnboardingError(f"`dbt run-operation {macro}` in {project_dir} printed no JSON "
                          f"(exit {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")


@dataclass(frozen=True)
class Reference:
    """What the project defines once and onboarding reads: contracts, shapes, date layouts."""

    #: kind -> {'description', 'fields': [field, ...], 'one_of': [[field, ...], ...]}
    contracts: dict
    #: shape -> its kinds
    shapes: dict
    layouts: tuple[DateLayout, ...]

    def fields(self, kind: str) -> dict[str, dict]:
        """The contract fields of ``kind`` by name, in contract order."""
        return {spec["name"]: spec for spec in self.contracts[kind]["fields"]}

    def layout(self, name: str) -> DateLayout | None:
        return next((layout for layout in self.layouts if layout.name == name), None)


def load_reference(project_dir: Path) -> Reference:
    """Run ``dbt run-operation print_onboarding_reference`` (export contracts, shapes, layouts).

    That macro prints what ``print_export_contracts`` prints and the date
    layouts of ``macros/adapters/parse_date.sql``, one JSON line each.
    """
    printed = run_operation(project_dir, "print_onboarding_reference")
    merged: dict = {}
    for value in printed:
        merged.update(value)
    missing = {"contracts", "shapes", "date_layouts"} - set(merged)
    if missing:
        raise OnboardingError(f"print_onboarding_reference printed no {sorted(missing)}")
    layouts = tuple(DateLayout(name, spec["shape"], spec["strftime"])
                    for name, spec in merged["date_layouts"].items())
    return Reference(merged["contracts"], merged["shapes"], layouts)


def mapping_path(project_dir: Path, center: str) -> Path:
    return project_dir / "models" / "staging" / center / f"_{center}__mapping.yml"


def load_mapping_file(path: Path) -> dict:
    """The dbt sources file of a center's mapping, as YAML data."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise OnboardingError(f"cannot read mapping {path}: {error}") from error
    if not isinstance(document, dict) or not document.get("sources"):
        raise OnboardingError(f"{path}: not a dbt sources file (no 'sources' key)")
    return document

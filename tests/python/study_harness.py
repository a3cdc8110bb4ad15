"""The study specs of the project, and one study's rows of a built warehouse, for tests
that check every study's tables (parametrized over the specs)."""

from __future__ import annotations

import json
import re

import pandas as pd
import yaml

from dbt_harness import PROJECT_DIR
from rwe_study.studies import STUDY_COLUMN, study_parameters

REFERENCE_STUDY = "zhang2025_second_line_ici"


def study_ids() -> list[str]:
    """The study_id of every spec file, studies/<study_id>.yml (the exposure's name)."""
    return sorted(exposure["name"] for path in (PROJECT_DIR / "studies").glob("*.yml")
                  for exposure in yaml.safe_load(path.read_text(encoding="utf-8"))["exposures"])


def built_spec(build, study_id: str) -> dict:
    """A study's spec as the build validated and rendered it (marts.study_specs)."""
    (spec_json,) = build.query(
        f"select spec_json from marts.study_specs where study_id = '{study_id}'")[0]
    return json.loads(spec_json)


def built_parameters(build, study_id: str) -> dict:
    """A study's statistics parameters, as the statistics models read them."""
    return study_parameters(built_spec(build, study_id))


def study_table(build, table: str, study_id: str) -> pd.DataFrame:
    """One study's rows of ``marts.<table>``, without study_id: the table of a
    warehouse that held this study alone."""
    frame = build.frame(f"select * from marts.{table} where {STUDY_COLUMN} = '{study_id}'")
    return frame.drop(columns=STUDY_COLUMN).reset_index(drop=True)


def _rendered(value, variables: dict):
    """A spec value with ``{{ var('name') }}`` replaced by the project's var (the only
    Jinja the specs use), as dbt renders it."""
    if isinstance(value, dict):
        return {key: _rendered(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_rendered(item, variables) for item in value]
    if isinstance(value, str):
        match = re.fullmatch(r"\{\{\s*var\(['\"](\w+)['\"]\)\s*\}\}", value)
        if match:
            return variables[match.group(1)]
    return value


def file_spec(study_id: str) -> dict:
    """A study's spec read from its file (no build), the project's vars filled in."""
    variables = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(
        encoding="utf-8"))["vars"]
    document = yaml.safe_load((PROJECT_DIR / "studies" / f"{study_id}.yml").read_text(
        encoding="utf-8"))
    (exposure,) = [item for item in document["exposures"] if item["name"] == study_id]
    return _rendered(exposure["meta"]["study"], variables)


def file_parameters(study_id: str) -> dict:
    """A study's statistics parameters from its spec file (no build)."""
    return study_parameters(file_spec(study_id))

"""The study specs of the project, and one study's rows of a built warehouse, for tests
that check every study's tables (parametrized over the specs)."""

from __future__ import annotations

import json

import pandas as pd
import yaml

from dbt_harness import PROJECT_DIR
from rwe_study import studies
from rwe_study.studies import STUDY_COLUMN, spec_from_file, study_parameters

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


def file_spec(study_id: str) -> dict:
    """A study's spec read from its file (no build), the project's vars filled in."""
    return spec_from_file(PROJECT_DIR, study_id)


def file_parameters(study_id: str) -> dict:
    """A study's statistics parameters from its spec file (no build)."""
    return studies.file_parameters(PROJECT_DIR, study_id)


def joined_matched_cohort(cohort: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The matched cohort as models/marts/study/matched_cohort.sql joins it: each pair's
    two patients with their cohort row, the pair and its matching method."""
    pair_columns = ["pair_id", "matching_method", "matching_caliper_sd", "random_seed"]
    members = pd.concat([pairs[[*pair_columns, side]].rename(columns={side: "patient_id"})
                         for side in ("treated_patient_id", "control_patient_id")])
    return cohort.merge(members, on="patient_id", validate="one_to_one")

"""matched_cohort (models/marts/study/matched_cohort.sql) and the data test that
guards its join (tests/dbt/singular/assert_matched_pairs_join_the_cohort.sql),
run by dbt on a small fixture project: the project's own model and test files
over hand-written matched_pairs and analysis_cohort tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb

from dbt_harness import DBT, PROJECT_DIR

MODEL = PROJECT_DIR / "models" / "marts" / "study" / "matched_cohort.sql"
JOIN_TEST = PROJECT_DIR / "tests" / "dbt" / "singular" / "assert_matched_pairs_join_the_cohort.sql"
UNIQUE_TEST = PROJECT_DIR / "tests" / "dbt" / "generic" / "unique_combination.sql"

# two studies; patient a is in both, with another arm in s2
COHORT = """
select * from (values
    ('s1', 'a', 'ICI', true, 61), ('s1', 'b', 'non-ICI', false, 70),
    ('s1', 'c', 'ICI', true, 55), ('s1', 'd', 'non-ICI', false, 66),
    ('s1', 'e', 'non-ICI', false, 59), ('s2', 'a', 'non-ICI', false, 61),
    ('s2', 'f', 'ICI', true, 48)
) as cohort (study_id, patient_id, arm, is_ici, age_years)
"""


def _pairs(*rows: tuple[str, str, str, str]) -> str:
    values = ", ".join(f"('{s}', '{p}', '{t}', '{c}', 'nearest neighbour', cast(0.2 as double), 42)"
                       for s, p, t, c in rows)
    return (f"select * from (values {values}) as pairs (study_id, pair_id, treated_patient_id, "
            "control_patient_id, matching_method, matching_caliper_sd, random_seed)")


def _build(root: Path, pairs_sql: str) -> tuple[int, str]:
    for folder in ("models", "tests/generic"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy2(MODEL, root / "models" / MODEL.name)
    shutil.copy2(JOIN_TEST, root / "tests" / JOIN_TEST.name)
    shutil.copy2(UNIQUE_TEST, root / "tests" / "generic" / UNIQUE_TEST.name)
    (root / "models" / "analysis_cohort.sql").write_text(COHORT)
    (root / "models" / "matched_pairs.sql").write_text(pairs_sql)
    (root / "models" / "matched_cohort.yml").write_text(
        "version: 2\nmodels:\n  - name: matched_cohort\n    data_tests:\n"
        "      - unique_combination:\n          arguments:\n"
        "            columns: [study_id, patient_id]\n")
    (root / "dbt_project.yml").write_text(
        "name: matched_fixture\nversion: '1.0'\nconfig-version: 2\nprofile: matched_fixture\n"
        "model-paths: [models]\ntest-paths: [tests]\n"
        "models:\n  matched_fixture:\n    +materialized: table\n")
    (root / "profiles.yml").write_text(
        "matched_fixture:\n  target: dev\n  outputs:\n"
        f"    dev: {{type: duckdb, path: '{root / 'fixture.duckdb'}', threads: 1}}\n")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run([str(DBT), "build", "--store-failures", "--project-dir", str(root),
                           "--profiles-dir", str(root)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def _statuses(root: Path) -> dict[str, str]:
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[2]: result["status"] for result in results}


def test_matched_cohort_is_each_pairs_two_cohort_rows_of_its_study(tmp_path):
    returncode, output = _build(tmp_path, _pairs(("s1", "p1", "a", "b"), ("s1", "p2", "c", "d"),
                                                 ("s2", "p1", "f", "a")))
    assert returncode == 0, output[-4000:]
    with duckdb.connect(str(tmp_path / "fixture.duckdb"), read_only=True) as connection:
        columns = [row[0] for row in connection.sql("describe main.matched_cohort").fetchall()]
        rows = connection.sql(
            "select study_id, pair_id, patient_id, arm, is_ici, age_years, matching_method, "
            "matching_caliper_sd, random_seed, built_at is not null "
            "from main.matched_cohort order by study_id, pair_id, is_ici desc").fetchall()
    # the cohort row as analysis_cohort has it, then the pair
    assert columns == ["study_id", "patient_id", "arm", "is_ici", "age_years", "pair_id",
                       "matching_method", "matching_caliper_sd", "random_seed", "built_at"]
    pair = ("nearest neighbour", 0.2, 42, True)
    assert rows == [
        ("s1", "p1", "a", "ICI", True, 61, *pair), ("s1", "p1", "b", "non-ICI", False, 70, *pair),
        ("s1", "p2", "c", "ICI", True, 55, *pair), ("s1", "p2", "d", "non-ICI", False, 66, *pair),
        # patient a of study s2, not of s1: each study joins its own cohort
        ("s2", "p1", "f", "ICI", True, 48, *pair), ("s2", "p1", "a", "non-ICI", False, 61, *pair),
    ]
    assert set(_statuses(tmp_path).values()) <= {"success", "pass"}


def test_pairs_that_do_not_join_the_cohort_one_to_one_fail_the_build_with_reasons(tmp_path):
    returncode, output = _build(tmp_path, _pairs(
        ("s1", "p1", "a", "b"),
        ("s1", "p2", "c", "nobody"),  # not a cohort patient
        ("s1", "p3", "d", "c"),  # swapped: the treated is the non-ICI patient
        ("s2", "p1", "f", "b"),  # b is a patient of s1, not of s2
        ("s1", "p4", "c", "e"),  # c in two pairs (p2 and p4)
    ))
    assert returncode != 0
    statuses = _statuses(tmp_path)
    assert statuses["assert_matched_pairs_join_the_cohort"] == "fail", output[-4000:]
    assert [status for name, status in statuses.items()
            if name.startswith("unique_combination_matched_cohort")] == ["fail"]
    with duckdb.connect(str(tmp_path / "fixture.duckdb"), read_only=True) as connection:
        [(schema,)] = connection.sql(
            "select table_schema from information_schema.tables "
            "where table_name = 'assert_matched_pairs_join_the_cohort'").fetchall()
        failures = connection.sql(
            f'select study_id, pair_id, pair_side, reason from "{schema}".'
            "assert_matched_pairs_join_the_cohort order by all").fetchall()
    assert failures == [
        ("s1", "p2", "control", "not a patient of the study in analysis_cohort"),
        ("s1", "p3", "control", "control patient in the ICI arm"),
        ("s1", "p3", "treated", "treated patient not in the ICI arm"),
        ("s2", "p1", "control", "not a patient of the study in analysis_cohort"),
    ]
    # the reasons name pairs and sides, never a patient
    assert "nobody" not in output

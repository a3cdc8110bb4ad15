"""Onboarding a new center: names, profile, draft, scaffold, pre-check, and one
brand-new center (center_d, a format the project has not seen) end to end.

center_d's export is the generator's center_a export rewritten into German
column names and codes, DD.MM.YYYY dates, ``ECOG 1``, ``Linie 2``, ``m``/``w``,
``ja``/``nein``, upper-case German drug names joined by `` / `` and sites
joined by ``+`` (tests/python/onboarding/center_d.py), so the generator's
truth says exactly what the warehouse must publish. In a copy of the project
only the scaffold's output, the mapping, the terminology seeds and the raw
file change; then a full ``dbt build`` must publish center_d's patients with
the truth's values and quarantine its bad rows with their reasons.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from onboarding.center_d import TABLE, build_center_d

from dbt_harness import DBT, PROJECT_DIR, TEST_PSEUDONYM_KEY
from rwe_onboard.__main__ import main
from rwe_onboard.contract import LAYOUTS, InvalidNameError, OnboardingError, parse_date
from rwe_onboard.mapping import list_tokens, load_mapping, read_integer, vocabulary_gaps
from rwe_onboard.onboard import onboard_center
from rwe_onboard.profile import profile_sample
from rwe_onboard.scaffold import register_model
from rwe_onboard.vocabulary import Vocabulary

FIXTURES = Path(__file__).resolve().parent / "onboarding"
MAPPING = FIXTURES / "center_d_mapping.yml"
SEED_ROWS = FIXTURES / "center_d_seed_rows.yml"
#: Top-level entries of the repository a project copy leaves out.
NOT_COPIED = {".venv", ".venv-spark", ".git", "target", "warehouse", "logs", ".pytest_cache",
              ".ruff_cache", ".secrets", "portability"}
N_PATIENTS, SEED = 100, 4242


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def copy_project(destination: Path, *, skeleton: bool = False) -> Path:
    """A copy of the project (``skeleton``: only what the onboarding code reads)."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        return set(names) & NOT_COPIED if Path(directory) == PROJECT_DIR else set()

    if not skeleton:
        shutil.copytree(PROJECT_DIR, destination, ignore=ignore)
        return destination
    destination.mkdir(parents=True)
    shutil.copy2(PROJECT_DIR / "dbt_project.yml", destination / "dbt_project.yml")
    for part in ("models/staging", "seeds/terminology"):
        shutil.copytree(PROJECT_DIR / part, destination / part)
    return destination


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    """``python -m rwe_onboard <args>`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def file_digests(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file() and not {"target", "logs"} & set(path.relative_to(root).parts)}


def dbt(project: Path, args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    """``dbt <args>`` in ``project``, into ``workdir`` (as tests/python/dbt_harness does)."""
    env = {**os.environ, "RWE_WAREHOUSE_PATH": str(workdir / "warehouse.duckdb"),
           "RWE_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DBT_PARTIAL_PARSE": "false"}
    return subprocess.run([str(DBT), *args, "--target-path", str(workdir / "target"),
                           "--log-path", str(workdir / "logs")],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def skeleton(tmp_path) -> Path:
    return copy_project(tmp_path / "project", skeleton=True)


# ---------------------------------------------------------------------------
# names, readers, layouts (fast)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "x'; drop table analysis_cohort; --", "../etc", "Center-D", "center d", "1center", "c",
    "a" * 32, "select", "source", "center_a", "center_b", "", "center_d\n", "centér",
])
def test_unsafe_or_existing_center_ids_are_rejected_and_nothing_is_written(skeleton, name):
    before = file_digests(skeleton)
    sample = PROJECT_DIR / "data" / "raw" / "center_a" / "treatment_lines.csv"
    code, out, err = run_cli("onboard-center", "--name", name, "--sample", sample,
                             "--project-dir", skeleton)
    assert code == 2
    assert "error:" in err and ("center id" in err or "already exists" in err), err
    assert file_digests(skeleton) == before


@pytest.mark.parametrize("table", ["../../etc/passwd", "lines; drop", "Lines", "x", "table"])
def test_unsafe_table_names_are_rejected(skeleton, table):
    sample = PROJECT_DIR / "data" / "raw" / "center_a" / "treatment_lines.csv"
    with pytest.raises(InvalidNameError, match="table name"):
        onboard_center(skeleton, "center_x", sample, table=table, echo=lambda _: None)
    assert not (skeleton / "models" / "staging" / "center_x").exists()


def test_precheck_rejects_unsafe_and_unknown_centers(skeleton, tmp_path):
    export = tmp_path / "lines.csv"
    export.write_text("a\n1\n", encoding="utf-8")
    code, _, err = run_cli("precheck", "--center", "x'; drop table t", "--file", export,
                           "--project-dir", skeleton)
    assert code == 2 and "invalid center id" in err
    code, _, err = run_cli("precheck", "--center", "center_z", "--file", export,
                           "--project-dir", skeleton)
    assert code == 2 and "unknown center 'center_z'" in err


def test_existing_center_precheck_checks_columns_and_dates(skeleton, tmp_path):
    """Centers without a mapping get the structural checks of the raw-export gate."""
    source = PROJECT_DIR / "data" / "raw" / "center_a" / "treatment_lines.csv"
    lines = source.read_text(encoding="utf-8").splitlines()[:4]
    lines[0] = lines[0].replace("best_response", "response")
    cells = lines[2].split(",")
    cells[13] = "2021-02-30"  # line_start_date
    lines[2] = ",".join(cells)
    export = tmp_path / "treatment_lines.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = run_cli("precheck", "--center", "center_a", "--file", export,
                           "--project-dir", skeleton)
    assert code == 1
    assert out.splitlines() == [
        f"{export}:0:best_response: required column is missing",
        f"{export}:2:line_start_date: '2021-02-30' is not a date in layout YYYY-MM-DD",
    ]


def test_value_readers_mirror_the_generated_sql():
    assert read_integer("ECOG 1", ("ecog",)) == 1
    assert read_integer(" Linie 2 ", ("linie",)) == 2
    assert read_integer("1.0", ()) == 1
    assert read_integer("1.5", ()) is None  # never rounded into another category
    assert read_integer("ECOG", ("ecog",)) is None
    assert list_tokens("ETOPOSID / CARBOPLATIN", "/") == ["etoposid", "carboplatin"]
    assert list_tokens("etoposide + carboplatin", " + ") == ["etoposide", "carboplatin"]
    assert list_tokens("Leber+Knochen", "+") == ["leber", "knochen"]
    assert list_tokens("", "+") == [] and list_tokens(None, "+") == []
    assert list_tokens("a++b", "+") == ["a", "", "b"]  # an empty token is unknown
    assert parse_date(" 1.2.2021 ", "DD.MM.YYYY") == dt.date(2021, 2, 1)
    assert parse_date("30.02.2021", "DD.MM.YYYY") is None
    assert parse_date("01.02.21", "DD.MM.YYYY") is None  # stricter than strptime's %Y


def test_layouts_are_the_parse_date_macros_layouts():
    macro = (PROJECT_DIR / "macros" / "adapters" / "parse_date.sql").read_text(encoding="utf-8")
    declared = set(re.findall(r"^\s*'([^']+)': \{'strftime'", macro, flags=re.MULTILINE))
    assert declared == set(LAYOUTS)


def test_registering_a_model_edits_only_that_var(tmp_path):
    shutil.copy2(PROJECT_DIR / "dbt_project.yml", tmp_path / "dbt_project.yml")
    before = yaml.safe_load((tmp_path / "dbt_project.yml").read_text(encoding="utf-8"))
    assert register_model(tmp_path, "stg_center_x__lines") is True
    assert register_model(tmp_path, "stg_center_x__lines") is False  # idempotent
    after = yaml.safe_load((tmp_path / "dbt_project.yml").read_text(encoding="utf-8"))
    assert after["vars"]["line_record_models"] == (before["vars"]["line_record_models"]
                                                  + ["stg_center_x__lines"])
    after["vars"]["line_record_models"] = before["vars"]["line_record_models"]
    assert after == before


def test_administration_level_sample_is_flagged_and_refused(skeleton, tmp_path):
    sample = PROJECT_DIR / "data" / "raw" / "center_b" / "drug_administrations.csv"
    profile = profile_sample(sample, Vocabulary(skeleton))
    assert any("administration" in warning for warning in profile.warnings)
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("center_id: center_x\ntable: drug_administrations\nfields: {}\n",
                       encoding="utf-8")
    with pytest.raises(OnboardingError, match="administration-level"):
        onboard_center(skeleton, "center_x", sample, mapping_file=mapping,
                       echo=lambda _: None)


def test_unsafe_mapping_values_are_rejected(tmp_path):
    text = MAPPING.read_text(encoding="utf-8").replace('delimiter: "/"', "delimiter: \"'\"")
    (tmp_path / "m.yml").write_text(text, encoding="utf-8")
    with pytest.raises(OnboardingError, match="invalid regimen delimiter"):
        load_mapping(tmp_path / "m.yml")
    text = MAPPING.read_text(encoding="utf-8").replace("column: linie", "column: \"x; drop\"")
    (tmp_path / "m.yml").write_text(text, encoding="utf-8")
    with pytest.raises(InvalidNameError, match="not a plain identifier"):
        load_mapping(tmp_path / "m.yml")


# ---------------------------------------------------------------------------
# center_d end to end
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def center_d(tmp_path_factory) -> dict:
    """Build center_d's export, onboard it into a project copy step by step, build."""
    work = tmp_path_factory.mktemp("center_d")
    built = build_center_d(N_PATIENTS, SEED, work)
    project = copy_project(work / "project")
    original = file_digests(project)
    steps: dict = {"work": work, "project": project, "original": original, **built}
    center = project / "models" / "staging" / "center_d"
    export = built["export"]

    # 1. draft: profile the sample, write the draft mapping and nothing else
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(PROJECT_DIR / "src"), os.environ.get("PYTHONPATH", "")])}
    draft = subprocess.run(
        [sys.executable, "-m", "rwe_onboard", "onboard-center", "--name", "center_d",
         "--sample", str(export), "--project-dir", str(project)],
        capture_output=True, text=True, env=env, timeout=120)
    assert draft.returncode == 0, draft.stderr
    steps["draft_output"] = draft.stdout
    steps["draft_text"] = (center / "_center_d__mapping.yml").read_text(encoding="utf-8")
    steps["after_draft"] = file_digests(project)

    # 2. the draft still has TODOs: the scaffold refuses; --allow-todo writes a model
    #    that refuses to compile, naming them
    draft_mapping = center / "_center_d__mapping.yml"
    steps["todo_refusal"] = run_cli("onboard-center", "--name", "center_d", "--sample", export,
                                    "--mapping", draft_mapping, "--project-dir", project)
    steps["todo_written"] = run_cli("onboard-center", "--name", "center_d", "--sample", export,
                                    "--mapping", draft_mapping, "--allow-todo",
                                    "--project-dir", project)
    steps["todo_parse"] = dbt(project, ["parse"], work / "parse")

    # 3. the completed mapping before the seeds know center_d's codes: refused, rows listed
    steps["vocabulary_refusal"] = run_cli(
        "onboard-center", "--name", "center_d", "--sample", export, "--mapping", MAPPING,
        "--force", "--project-dir", project)
    steps["gaps"] = vocabulary_gaps(load_mapping(MAPPING), Vocabulary(project)).rows

    # 4. append the new vocabulary rows to the seeds (and only there)
    for seed, rows in yaml.safe_load(SEED_ROWS.read_text(encoding="utf-8")).items():
        with (project / "seeds" / "terminology" / f"{seed}.csv").open(
                "a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)

    # 5. the scaffold with the completed mapping writes the staging folder and registers it
    steps["scaffold"] = run_cli("onboard-center", "--name", "center_d", "--sample", export,
                                "--mapping", MAPPING, "--force", "--project-dir", project)
    assert steps["scaffold"][0] == 0, steps["scaffold"]

    # 6. pre-check the clean and the dirty export
    steps["precheck_clean"] = run_cli("precheck", "--center", "center_d", "--file",
                                      built["clean_export"], "--project-dir", project)
    steps["precheck_dirty"] = run_cli("precheck", "--center", "center_d", "--file", export,
                                      "--project-dir", project)

    # 7. register the export and build everything
    raw = project / "data" / "raw" / "center_d"
    raw.mkdir(parents=True)
    shutil.copy2(export, raw / f"{TABLE}.csv")
    steps["changed"] = {path for path, digest in file_digests(project).items()
                        if original.get(path) != digest}
    build = dbt(project, ["build"], work / "build")
    assert build.returncode == 0, build.stdout[-6000:]
    steps["build"] = build
    steps["warehouse"] = work / "build" / "warehouse.duckdb"
    return steps


def query(steps: dict, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(steps["warehouse"]), read_only=True) as connection:
        return connection.sql(sql).df()


@pytest.mark.slow
def test_draft_guesses_the_mapping(center_d):
    draft = yaml.safe_load(center_d["draft_text"])
    fields = draft["fields"]
    guessed = {name: spec["column"] for name, spec in fields.items()}
    assert guessed["patient_key"] == "fallnummer"
    assert guessed["row_id"] == "lfd_nr"
    assert guessed["sex"] == "geschlecht" and fields["sex"]["codes"]["m"] == "male"
    assert fields["sex"]["codes"]["w"] == "TODO"
    assert fields["line_number"] == {"column": "linie", "strip": ["linie"]}
    assert fields["metastatic_sites"]["delimiter"] == "+"
    assert fields["regimen"]["delimiter"] == "/"
    assert fields["regimen"]["codes"]["etoposid"] == "TODO"
    assert fields["regimen"]["codes"]["carboplatin"] == "carboplatin"
    for name in ("birth_date", "line_start_date", "progression_date", "death_date",
                 "last_contact_date"):
        assert fields[name]["layout"] == "DD.MM.YYYY", name
    # 'allgemeinzustand' is no known name: a TODO, with the column suggested by its values
    assert guessed["ecog_ps"] == "TODO"
    assert "allgemeinzustand (whole numbers after removing 'ecog')" in center_d["draft_text"]
    assert draft["identifier_columns"] == ["name", "versichertennummer"]
    # identifiers are never shown, in the profile or the draft
    assert "FN-1" not in center_d["draft_output"] and "FN-1" not in center_d["draft_text"]


@pytest.mark.slow
def test_draft_step_writes_only_the_mapping(center_d):
    original, after = center_d["original"], center_d["after_draft"]
    assert set(original) <= set(after)
    changed = {path for path, digest in after.items() if original.get(path) != digest}
    assert changed == {"models/staging/center_d/_center_d__mapping.yml"}


@pytest.mark.slow
def test_unresolved_todos_never_build(center_d):
    code, _, err = center_d["todo_refusal"]
    assert code == 2 and "TODO" in err and "fields.ecog_ps.column" in err
    code, out, _ = center_d["todo_written"]
    assert code == 0 and "is a draft" in out and "not registered" in out
    parse = center_d["todo_parse"]
    assert parse.returncode != 0
    assert "stg_center_d__therapielinien is a draft" in parse.stdout
    assert "fields.ecog_ps.column" in parse.stdout


@pytest.mark.slow
def test_scaffold_lists_the_seed_rows_the_mapping_needs(center_d):
    code, _, err = center_d["vocabulary_refusal"]
    assert code == 2 and "the vocabulary is not ready" in err
    expected = yaml.safe_load(SEED_ROWS.read_text(encoding="utf-8"))
    assert center_d["gaps"] == expected
    for rows in expected.values():
        for row in rows:
            assert ",".join(row) in err


@pytest.mark.slow
def test_only_scaffold_output_mapping_seeds_and_raw_file_changed(center_d):
    changed = center_d["changed"]
    allowed = {"dbt_project.yml", f"data/raw/center_d/{TABLE}.csv"}
    assert all(path in allowed or path.startswith("models/staging/center_d/")
               or path.startswith("seeds/terminology/terminology__") for path in changed), changed
    assert {path for path in changed if path.startswith("models/staging/center_d/")} == {
        "models/staging/center_d/_center_d__mapping.yml",
        "models/staging/center_d/_center_d__sources.yml",
        "models/staging/center_d/_center_d__models.yml",
        f"models/staging/center_d/stg_center_d__{TABLE}.sql",
    }
    project_yml = yaml.safe_load((center_d["project"] / "dbt_project.yml").read_text())
    assert project_yml["vars"]["line_record_models"][-1] == f"stg_center_d__{TABLE}"
    mapping = (center_d["project"] / "models/staging/center_d/_center_d__mapping.yml")
    assert mapping.read_text(encoding="utf-8") == MAPPING.read_text(encoding="utf-8")


@pytest.mark.slow
def test_precheck_passes_the_clean_export_and_names_every_bad_row(center_d):
    code, out, _ = center_d["precheck_clean"]
    assert (code, out) == (0, "")
    code, out, _ = center_d["precheck_dirty"]
    assert code == 1
    export = str(center_d["export"])
    found = {}
    for line in out.splitlines():
        file, row, column, message = line.split(":", 3)
        assert file == export
        found[int(row)] = column
    expected = {row: column for row, (_, column) in center_d["expected_quarantine"].items()}
    assert found == expected
    assert f"{export}:{max(expected)}:allgemeinzustand: 'ECOG 9' is outside 0..4" in out


@pytest.mark.slow
def test_center_d_patients_are_published_with_the_truths_values(center_d):
    truth = center_d["truth"]
    truth["patient_id"] = [
        hashlib.sha256(f"{TEST_PSEUDONYM_KEY}|center_d|{key}".encode()).hexdigest()[:24]
        for key in truth["patient_key"]
    ]
    published = query(center_d, "select * from marts.analysis_cohort "
                                "where center_id = 'center_d'")
    assert published.groupby("arm").size().to_dict() == truth.groupby("arm").size().to_dict()
    columns = [column for column in published.columns if column in truth.columns]
    assert len(columns) == len(published.columns)
    expected = truth[columns].sort_values("patient_id", ignore_index=True)
    actual = published[columns].sort_values("patient_id", ignore_index=True)
    for frame in (expected, actual):
        frame["second_line_start_date"] = pd.to_datetime(frame["second_line_start_date"])
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_other_centers_are_unchanged(center_d):
    manifest = json.loads((PROJECT_DIR / "data" / "raw" / "manifest.json").read_text())
    counts = query(center_d, "select center_id, arm, count(*) as n from marts.analysis_cohort "
                             "where center_id != 'center_d' group by all")
    found = {(row.center_id, row.arm): row.n for row in counts.itertuples()}
    expected = {(center, arm): n for center, arms in
                manifest["cohort"]["per_center_per_arm"].items() for arm, n in arms.items()}
    assert found == expected


@pytest.mark.slow
def test_center_d_bad_rows_are_quarantined_with_their_reason(center_d):
    quarantined = query(center_d, "select source_row_number, reason, failing_column, "
                                  "reason_description from marts.quarantine "
                                  "where center_id = 'center_d'")
    found = {row.source_row_number: (row.reason, row.failing_column)
             for row in quarantined.itertuples()}
    assert found == center_d["expected_quarantine"]
    broken = quarantined.loc[quarantined["failing_column"] == "allgemeinzustand"]
    assert broken["reason"].tolist() == ["unknown_code"]
    assert "holds a code that is not in the center's code list" in \
        broken["reason_description"].iloc[0]
    accounted = query(center_d, "select sum(row_count) as n, min(rows_in) as rows_in "
                                "from marts.row_accounting where center_id = 'center_d'")
    lines = center_d["export"].read_text(encoding="utf-8").splitlines()
    assert accounted["n"].iloc[0] == accounted["rows_in"].iloc[0] == len(lines) - 1

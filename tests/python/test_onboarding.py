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

from dbt_harness import DBT, PROJECT_DIR, TEST_PSEUDONYM_KEY, dbt_env
from rwe_onboard.__main__ import main
from rwe_onboard.contract import LAYOUTS, InvalidNameError, OnboardingError, parse_date
from rwe_onboard.mapping import (
    list_tokens,
    load_mapping,
    parse_mapping,
    read_integer,
    vocabulary_gaps,
)
from rwe_onboard.onboard import onboard_center
from rwe_onboard.precheck import precheck
from rwe_onboard.profile import profile_sample
from rwe_onboard.reader import read_export
from rwe_onboard.scaffold import (
    file_state,
    register_model,
    registered_models,
    render_model,
    render_models_yml,
    render_sources,
)
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
    return subprocess.run([str(DBT), *args, "--target-path", str(workdir / "target"),
                           "--log-path", str(workdir / "logs")],
                          cwd=project, env=dbt_env(workdir / "warehouse.duckdb"),
                          capture_output=True, text=True, timeout=600)


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
# the one command: profile, draft mapping and disabled staging folder (fast)
# ---------------------------------------------------------------------------

CENTER_D_DIR = "models/staging/center_d"
CENTER_D_FILES = {f"{CENTER_D_DIR}/{name}" for name in (
    "_center_d__mapping.yml", "_center_d__sources.yml", "_center_d__models.yml",
    f"stg_center_d__{TABLE}.sql")}


@pytest.fixture(scope="module")
def center_d_export(tmp_path_factory) -> Path:
    """center_d's dirty export (no dbt): a sample for the fast scaffold tests."""
    return build_center_d(N_PATIENTS, SEED, tmp_path_factory.mktemp("center_d_export"))["export"]


@pytest.fixture
def ready(skeleton) -> Path:
    """A skeleton project whose seeds already know center_d's codes."""
    for seed, rows in yaml.safe_load(SEED_ROWS.read_text(encoding="utf-8")).items():
        with (skeleton / "seeds" / "terminology" / f"{seed}.csv").open(
                "a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
    return skeleton


def changed_files(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {path for path in set(before) | set(after) if before.get(path) != after.get(path)}


def draft_cli(project: Path, sample: Path, *extra: str | Path) -> tuple[int, str, str]:
    return run_cli("onboard-center", "--name", "center_d", "--sample", sample,
                   "--project-dir", project, *extra)


def test_draft_writes_the_disabled_staging_folder_and_registers_nothing(skeleton,
                                                                        center_d_export):
    before = file_digests(skeleton)
    code, out, err = draft_cli(skeleton, center_d_export)
    assert code == 0, err
    assert changed_files(before, file_digests(skeleton)) == CENTER_D_FILES
    folder = skeleton / CENTER_D_DIR
    model = (folder / f"stg_center_d__{TABLE}.sql").read_text(encoding="utf-8")
    assert "{{ config(enabled=false) }}" in model
    assert "TODO fields.ecog_ps.column" in model
    assert "TODO fields.sex.codes: 2 code(s) without a value" in model
    # every column it could map is in the model, the rest are todo__ placeholders
    for column in ("fallnummer", "versichertennummer", "geburtsdatum", "geschlecht", "linie",
                   "therapiebeginn", "therapie", "metastasen", "raucher", "rt_thorax", "pci",
                   "bestes_ansprechen", "progressionsdatum", "letzter_kontakt", "sterbedatum"):
        assert f"source.{column}" in model, column
    assert "source.todo__ecog_ps" in model
    assert "parse_date('source.therapiebeginn', 'DD.MM.YYYY')" in model
    sources = yaml.safe_load((folder / "_center_d__sources.yml").read_text(encoding="utf-8"))
    assert sources["sources"][0]["config"]["enabled"] is False
    for path in CENTER_D_FILES:
        assert file_state((skeleton / path).read_text(encoding="utf-8")) == "untouched", path
    assert "TODO fields.ecog_ps.column" in out
    assert "disabled and not registered" in out
    assert (f"--mapping {CENTER_D_DIR}/_center_d__mapping.yml" in out
            and out.rstrip().splitlines()[-1].lstrip().startswith("python -m rwe_onboard"))


def test_draft_model_with_todo_layouts_and_delimiters_uses_placeholders(skeleton, tmp_path,
                                                                       center_d_export):
    """Unresolved layouts and delimiters never reach a macro (parse_date would raise)."""
    text = MAPPING.read_text(encoding="utf-8")
    text = text.replace("    layout: DD.MM.YYYY\n", "    layout: TODO\n", 1)
    text = text.replace('    delimiter: "/"\n', "    delimiter: TODO\n")
    mapping = parse_mapping(text, "m.yml", read_export(center_d_export).header)
    assert "fields.birth_date.layout: one of YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD, YYYY/M/D, " \
           "DD.MM.YYYY" in mapping.todos
    model = render_model(mapping, read_export(center_d_export).header)
    assert "todo__birth_date_layout(source.geburtsdatum)" in model
    assert "todo__regimen_delimiter(regimen_text)" in model
    assert "'TODO'" not in model and "{{ config(enabled=false) }}" in model


def test_rerunning_the_draft_replaces_untouched_files_but_keeps_an_edited_mapping(
        skeleton, center_d_export):
    assert draft_cli(skeleton, center_d_export)[0] == 0
    first = file_digests(skeleton)
    code, out, _ = draft_cli(skeleton, center_d_export)  # no --force needed for a draft
    assert code == 0 and file_digests(skeleton) == first
    assert f"unchanged {CENTER_D_DIR}/_center_d__mapping.yml" in out
    mapping = skeleton / CENTER_D_DIR / "_center_d__mapping.yml"
    edited = mapping.read_text(encoding="utf-8").replace('"w": TODO', '"w": female')
    mapping.write_text(edited, encoding="utf-8")
    before = file_digests(skeleton)
    code, _, err = draft_cli(skeleton, center_d_export, "--force")
    assert code == 2
    assert f"{CENTER_D_DIR}/_center_d__mapping.yml was edited (or written) by hand" in err
    assert "--overwrite-edits" in err and "--mapping" in err
    assert file_digests(skeleton) == before
    code, _, err = draft_cli(skeleton, center_d_export, "--overwrite-edits")
    assert code == 0, err
    assert file_digests(skeleton) == first


def test_completed_mapping_writes_the_enabled_model_and_registers_it(ready, center_d_export):
    assert draft_cli(ready, center_d_export)[0] == 0
    code, out, err = draft_cli(ready, center_d_export, "--mapping", MAPPING)
    assert code == 0, err
    model = (ready / CENTER_D_DIR / f"stg_center_d__{TABLE}.sql").read_text(encoding="utf-8")
    assert "enabled=false" not in model and "todo__" not in model
    assert ("{{ person_link_columns('national_id_normalised', 'generic', "
            "'versichertennummer') }}") in model
    assert "{{ folded_patient_id('center_d', 'center_patient_key') }}" in model
    sources = yaml.safe_load((ready / CENTER_D_DIR / "_center_d__sources.yml").read_text())
    assert "enabled" not in sources["sources"][0]["config"]
    assert registered_models(ready)[-1] == f"stg_center_d__{TABLE}"
    assert (ready / CENTER_D_DIR / "_center_d__mapping.yml").read_text() == MAPPING.read_text()
    # once registered: rewriting needs --force, and a draft would break every build
    code, _, err = draft_cli(ready, center_d_export, "--mapping", MAPPING)
    assert code == 2 and "already onboarded" in err and "--force" in err
    before = file_digests(ready)
    code, out, _ = draft_cli(ready, center_d_export, "--mapping", MAPPING, "--force")
    assert code == 0 and file_digests(ready) == before and "unchanged" in out
    code, _, err = draft_cli(ready, center_d_export, "--force")
    assert code == 2 and "would break every build" in err
    assert file_digests(ready) == before


def test_hand_edits_are_refused_unless_overwrite_edits(ready, center_d_export):
    assert draft_cli(ready, center_d_export, "--mapping", MAPPING)[0] == 0
    folder = ready / CENTER_D_DIR
    model, models_yml = folder / f"stg_center_d__{TABLE}.sql", folder / "_center_d__models.yml"
    generated = model.read_text(encoding="utf-8")
    model.write_text(generated.replace("select * from final", "select * from final -- edit"),
                     encoding="utf-8")
    models_yml.write_text(models_yml.read_text(encoding="utf-8") + "# a note\n",
                          encoding="utf-8")
    before = file_digests(ready)
    code, _, err = draft_cli(ready, center_d_export, "--mapping", MAPPING, "--force")
    assert code == 2
    for path in (model, models_yml):
        assert f"{path.relative_to(ready)} was edited by hand" in err
    assert file_digests(ready) == before  # nothing written, not even the untouched files
    code, _, err = draft_cli(ready, center_d_export, "--mapping", MAPPING, "--force",
                             "--overwrite-edits")
    assert code == 0, err
    assert model.read_text(encoding="utf-8") == generated
    # a file without the marker is hand-written: never replaced
    models_yml.write_text(models_yml.read_text(encoding="utf-8").split("\n", 1)[1],
                          encoding="utf-8")
    before = file_digests(ready)
    code, _, err = draft_cli(ready, center_d_export, "--mapping", MAPPING, "--force",
                             "--overwrite-edits")
    assert code == 2 and "was not written by the scaffold" in err
    assert file_digests(ready) == before


def test_refused_scaffold_runs_write_nothing(skeleton, center_d_export, tmp_path):
    before = file_digests(skeleton)
    # the seeds do not know center_d's codes yet
    code, _, err = draft_cli(skeleton, center_d_export, "--mapping", MAPPING)
    assert code == 2 and "the vocabulary is not ready" in err
    # a mapping of another center
    other = tmp_path / "other.yml"
    other.write_text(MAPPING.read_text().replace("center_id: center_d", "center_id: center_e"))
    code, _, err = draft_cli(skeleton, center_d_export, "--mapping", other)
    assert code == 2 and "maps center_e/therapielinien" in err
    # a mapping with TODOs, without --allow-todo
    todo = tmp_path / "todo.yml"
    todo.write_text(MAPPING.read_text().replace("column: allgemeinzustand", "column: TODO"))
    code, _, err = draft_cli(skeleton, center_d_export, "--mapping", todo)
    assert code == 2 and "fields.ecog_ps.column" in err
    assert file_digests(skeleton) == before


def test_a_failed_write_leaves_no_file_behind(skeleton, center_d_export, monkeypatch):
    """Files are written to temporaries and renamed at the end: a failure changes nothing."""
    import rwe_onboard.scaffold as scaffold

    before = file_digests(skeleton)
    real_open = Path.open
    calls = {"n": 0}

    def failing_open(self, mode="r", *args, **kwargs):
        if mode == "x":
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(28, "No space left on device")
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(scaffold.Path, "open", failing_open)
    code, _, err = draft_cli(skeleton, center_d_export)
    assert code == 2 and "No space left on device; nothing was changed" in err
    assert file_digests(skeleton) == before
    assert not (skeleton / CENTER_D_DIR).exists()


# ---------------------------------------------------------------------------
# hostile headers and values (fast)
# ---------------------------------------------------------------------------


def sample_with(directory: Path, source: Path, *, header: dict[int, str] | None = None,
                cells: dict[tuple[int, str], str] | None = None) -> Path:
    """A copy of ``source`` with header names (by 1-based position) or cells replaced."""
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for position, name in (header or {}).items():
        rows[0][position - 1] = name
    for (row, column), value in (cells or {}).items():
        rows[row][rows[0].index(column)] = value
    path = directory / source.name
    with path.open("w", encoding="utf-8", newline="") as handle:  # quoted: a bare \r ends a line
        csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    return path


@pytest.mark.parametrize(("position", "name", "reason"), [
    (16, "progression\ndate", "newline, control or non-printable character (U+000A)"),
    (16, "progressions\rdatum", "(U+000D)"),
    (6, "ge\tschlecht", "(U+0009)"),
    (6, "ge\x1b[31mschlecht", "(U+001B)"),
    (6, "ge\u200bschlecht", "(U+200B)"),
    (2, 'fall"nummer', "not a plain identifier"),
    (2, "{{ exceptions.raise_compiler_error('x') }}", "not a plain identifier"),
    (2, "{mrn}", "not a plain identifier"),
    (2, "'); drop table x; --", "not a plain identifier"),
    (2, "fallnummer #", "not a plain identifier"),
    (3, "a" * 5000, "longer than 63 characters"),
    (3, "Fallnummer", "the same name as column 2 ('fallnummer')"),
    (3, "fall_nummer", None),  # a different name, a plain identifier: accepted
    (3, "FALLNUMMER_", "the same name as column 2"),
    (3, "", "column 3 has no name"),
    (3, "select", "reserved word"),
    (3, "source_row_number", "a column the warehouse reader adds"),
])
def test_hostile_headers_are_refused_by_position_before_anything_is_written(
        skeleton, center_d_export, tmp_path, position, name, reason):
    sample = sample_with(tmp_path, center_d_export, header={position: name})
    before = file_digests(skeleton)
    code, out, err = draft_cli(skeleton, sample)
    if reason is None:
        assert code == 0, err
        return
    assert code == 2, out
    assert f"column {position}" in err and reason in err, err
    assert "ask the center to rename" in err or "no name" in err
    assert file_digests(skeleton) == before
    assert out == ""  # not even the profile is printed
    if not name.isprintable():
        assert name not in err  # shown escaped, never raw


def test_hostile_codes_stay_codes_in_the_draft_and_never_reach_the_model(skeleton, tmp_path,
                                                                        center_d_export):
    hostile = ["a\nb: c", "'); drop table x; --", "{{ exceptions.raise_compiler_error('x') }}",
               "no", "y", "#x", 'q"q', "%} {% if", "\u2028", "\\", "progression_date: mrn"]
    cells = {(row, "geschlecht"): value for row, value in enumerate(hostile, start=2)}
    sample = sample_with(tmp_path, center_d_export, cells=cells)
    code, _, err = draft_cli(skeleton, sample)
    assert code == 0, err
    folder = skeleton / CENTER_D_DIR
    draft = yaml.safe_load((folder / "_center_d__mapping.yml").read_text(encoding="utf-8"))
    codes = draft["fields"]["sex"]["codes"]
    assert {value.strip().lower() for value in hostile} <= set(codes)
    assert all(codes[value.strip().lower()] == "TODO" for value in hostile)
    assert set(draft) == {"center_id", "table", "description", "identifier_columns", "fields"}
    assert draft["fields"]["progression_date"]["column"] == "progressionsdatum"
    for path in folder.iterdir():
        if path.name != "_center_d__mapping.yml":
            text = path.read_text(encoding="utf-8")
            assert "drop table" not in text and "raise_compiler_error" not in text, path
            assert "progression_date: mrn" not in text, path


JINJA_TAGS = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")


def rendered(text: str, header: list[str]) -> str:
    mapping = parse_mapping(text, "m.yml", header)
    return "\n".join([render_model(mapping, header), render_sources(mapping, header),
                      render_models_yml(mapping)])


@pytest.mark.parametrize(("old", "new", "refusal"), [
    ('strip: ["ecog"]', "strip: [\"ecog') }}{{ log('x') }}\"]", "invalid ecog_ps strip text"),
    ('strip: ["ecog"]', 'strip: ["ecog\\n"]', "invalid ecog_ps strip text"),
    ('delimiter: "/"', "delimiter: \"/', '|') }}{% do x %}\"", "invalid regimen delimiter"),
    ('delimiter: "/"', 'delimiter: "/ -- "', None),  # inside an SQL string: inert
    ("column: linie", "column: \"linie) }} {{ log('x')\"", "not a plain identifier"),
    ("column: linie", 'column: "linie; drop table x"', "not a plain identifier"),
    ("description: >", "description: \"{{ exceptions.raise_compiler_error('x') }}\"\nx: >",
     "may not contain braces"),
    ("description: >", 'description: "line\\u0000"\nx: >', "may not contain control"),
    ("    layout: DD.MM.YYYY\n", "    layout: \"DD.MM.YYYY') }}{{ log('x') }}\"\n",
     "unknown date layout"),
    ("    layout: DD.MM.YYYY\n", "    layout: [DD.MM.YYYY]\n", "unknown date layout"),
    ('"x": ~', '"x": ~\n      "{{ log(\'x\') }}\'); drop table x; --": ~', None),  # seeds only
    ('"etoposid": etoposide', "\"etoposid\": \"etoposide'); drop table x; --\"", None),
    ('"m": male', '"m": "male\\n"', "contains a control character"),
    ("identifier_columns: [name]", "identifier_columns: [\"{{ log('x') }}\"]",
     "not a plain identifier"),
    ("center_id: center_d", "center_id: \"center_d'); drop table x; --\"", "invalid center id"),
    ("table: therapielinien", "table: \"{{ log('x') }}\"", "invalid table name"),
])
def test_mapping_values_cannot_inject_sql_or_jinja(center_d_export, old, new, refusal):
    """Each value from a mapping is refused, or reaches no generated file but as data."""
    header = read_export(center_d_export).header
    text = MAPPING.read_text(encoding="utf-8")
    assert old in text
    baseline = rendered(text, header)
    hostile = text.replace(old, new, 1)
    if "\nx: >" in new:  # drop the folded description the replacement left behind
        hostile = re.sub(r"\nx: >\n(  .*\n)+", "\n", hostile)
    if refusal is not None:
        with pytest.raises(OnboardingError, match=re.escape(refusal)):
            rendered(hostile, header)
        return
    output = rendered(hostile, header)
    assert "drop table" not in output and "log(" not in output
    assert JINJA_TAGS.findall(output) == JINJA_TAGS.findall(baseline)


# ---------------------------------------------------------------------------
# pre-check: the file is read as strictly as the warehouse's gate (fast)
# ---------------------------------------------------------------------------

CENTER_A = PROJECT_DIR / "data" / "raw" / "center_a" / "treatment_lines.csv"


def center_a_lines(n: int = 6) -> list[str]:
    return CENTER_A.read_text(encoding="utf-8").splitlines()[:n]


def precheck_bytes(project: Path, directory: Path, data: bytes) -> tuple[int, list[str]]:
    export = directory / "treatment_lines.csv"
    export.write_bytes(data)
    code, out, _ = run_cli("precheck", "--center", "center_a", "--file", export,
                           "--project-dir", project)
    prefix = f"{export}:"
    lines = out.splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return code, [line.removeprefix(prefix) for line in lines]


def warehouse_row_numbers(path: Path, column: str, value: str) -> list[int]:
    """source_row_number of the rows holding ``value``, read as dbt_project.yml reads them."""
    with duckdb.connect() as connection:
        return [row[0] for row in connection.sql(
            f"select source_row_number from (select row_number() over () as source_row_number, "
            f"* from read_csv('{path}', header = true, all_varchar = true)) "
            f"where {column} = '{value}'").fetchall()]


def with_cell(line: str, index: int, value: str) -> str:
    cells = line.split(",")
    cells[index] = value
    return ",".join(cells)


def test_precheck_reports_ragged_rows_by_data_row(skeleton, tmp_path):
    lines = center_a_lines()
    lines[3] = ",".join(lines[3].split(",")[:-3])  # data row 3 lost three fields
    lines[4] = lines[4] + ",extra"  # data row 4 has one too many
    code, found = precheck_bytes(skeleton, tmp_path, ("\n".join(lines) + "\n").encode())
    assert code == 1
    assert found == [
        "3:*: 15 field(s) where the header has 18 (line 4 of the file): a truncated file or a "
        "ragged row",
        "4:*: 19 field(s) where the header has 18 (line 5 of the file): more fields than the "
        "header (an unquoted comma?)",
    ]


def test_precheck_reports_an_unclosed_quote(skeleton, tmp_path):
    lines = center_a_lines()
    lines[2] = with_cell(lines[2], 2, '"Xu Juanfang')
    code, found = precheck_bytes(skeleton, tmp_path, ("\n".join(lines) + "\n").encode())
    assert code == 1
    assert found == ["2:*: a quote opened in this row (line 3 of the file) is never closed: "
                     "the rest of the file would be read as one value"]


def test_precheck_numbers_rows_as_the_warehouse_across_blank_lines_and_line_breaks(
        skeleton, tmp_path):
    lines = center_a_lines()
    lines[1] = with_cell(lines[1], 2, '"Xu\nJuanfang"')  # a quoted line break in data row 1
    lines[4] = with_cell(lines[4], 13, "2021-02-30")  # data row 4: an impossible date
    lines.insert(3, "")  # a blank line after data row 2
    code, found = precheck_bytes(skeleton, tmp_path, ("\n".join(lines) + "\n").encode())
    assert code == 1
    assert found == [
        "2:*: blank line(s) after this row (line 5 of the file): the warehouse skips them "
        "(they are not counted as rows); remove them",
        "4:line_start_date: '2021-02-30' is not a date in layout YYYY-MM-DD",
    ]
    export = tmp_path / "treatment_lines.csv"
    assert warehouse_row_numbers(export, "line_start_date", "2021-02-30") == [4]


def test_precheck_reports_non_utf8_bytes_by_cell(skeleton, tmp_path):
    lines = [line.encode() for line in center_a_lines()]
    lines[2] = with_cell(lines[2].decode(), 2, "Xu J@anfang").encode().replace(b"@", b"\xe9")
    code, found = precheck_bytes(skeleton, tmp_path, b"\n".join(lines) + b"\n")
    assert code == 1
    assert found == ["2:patient_name: not UTF-8 text (byte 0xE9, line 3 of the file): export "
                     "the file as UTF-8"]


def test_precheck_reports_a_byte_order_mark(skeleton, tmp_path):
    data = ("\n".join(center_a_lines()) + "\n").encode()
    code, found = precheck_bytes(skeleton, tmp_path, b"\xef\xbb\xbf" + data)
    assert code == 1
    assert found == ["0:*: the file starts with a UTF-8 byte-order mark: the warehouse's "
                     "reader skips it, other loaders read it into the first column's name; "
                     "export without it"]
    code, found = precheck_bytes(skeleton, tmp_path, data)
    assert (code, found) == (0, [])


def test_precheck_reports_a_hostile_header_without_checking_by_name(skeleton, tmp_path):
    lines = center_a_lines()
    lines[0] = lines[0].replace("patient_name", '"patient\nname"')
    code, found = precheck_bytes(skeleton, tmp_path, ("\n".join(lines) + "\n").encode())
    assert code == 1
    assert found == ["0:*: column 3 ('patient\\nname'): the name contains a newline, control "
                     "or non-printable character (U+000A)"]


def test_precheck_accepts_a_drug_listed_twice_as_the_warehouse_does(ready, center_d_export,
                                                                    tmp_path):
    assert draft_cli(ready, center_d_export, "--mapping", MAPPING)[0] == 0
    export = sample_with(tmp_path, center_d_export,
                         cells={(1, "therapie"): "ETOPOSID / CARBOPLATIN / ETOPOSID"})
    problems = precheck(ready, "center_d", export)
    assert [p for p in problems if p.row == 1] == []


def test_a_ragged_sample_is_refused_before_anything_is_written(skeleton, center_d_export,
                                                               tmp_path):
    lines = center_d_export.read_text(encoding="utf-8").splitlines()
    lines[10] = ",".join(lines[10].split(",")[:-3])
    sample = tmp_path / center_d_export.name
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = file_digests(skeleton)
    code, _, err = draft_cli(skeleton, sample)
    assert code == 2
    assert f"{sample}:10:*: 15 field(s) where the header has 18 (line 11 of the file)" in err
    assert file_digests(skeleton) == before


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

    # 1. draft: profile the sample, write the draft mapping and the disabled staging folder
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

    # 2. the draft still has TODOs: --mapping refuses it; --allow-todo rewrites the same
    #    disabled folder; dbt parses the project with it (the model and source disabled)
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
        "--project-dir", project)
    steps["gaps"] = vocabulary_gaps(load_mapping(MAPPING), Vocabulary(project)).rows

    # 4. append the new vocabulary rows to the seeds (and only there)
    for seed, rows in yaml.safe_load(SEED_ROWS.read_text(encoding="utf-8")).items():
        with (project / "seeds" / "terminology" / f"{seed}.csv").open(
                "a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)

    # 5. the scaffold with the completed mapping writes the enabled folder and registers it
    #    (no --force: the draft's files are the scaffold's own, untouched)
    steps["scaffold"] = run_cli("onboard-center", "--name", "center_d", "--sample", export,
                                "--mapping", MAPPING, "--project-dir", project)
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
    # the SQL layer and the data-quality gate: what a new center changes
    build = dbt(project, ["build", "--select", "+dq_results", "+run_inputs",
                          "--indirect-selection", "cautious"], work / "build")
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
    assert guessed["national_id"] == "versichertennummer"
    assert draft["identifier_columns"] == ["name"]
    # identifiers are never shown, in the profile or the draft
    assert "FN-1" not in center_d["draft_output"] and "FN-1" not in center_d["draft_text"]


@pytest.mark.slow
def test_draft_step_writes_the_disabled_staging_folder_only(center_d):
    original, after = center_d["original"], center_d["after_draft"]
    assert set(original) <= set(after)
    assert changed_files(original, after) == CENTER_D_FILES  # dbt_project.yml untouched
    assert "TODO fields.ecog_ps.column" in center_d["draft_output"]
    assert "Next: resolve the TODOs" in center_d["draft_output"]


@pytest.mark.slow
def test_unresolved_todos_never_build_but_dbt_still_parses(center_d):
    code, _, err = center_d["todo_refusal"]
    assert code == 2 and "TODO" in err and "fields.ecog_ps.column" in err
    code, out, _ = center_d["todo_written"]
    assert code == 0 and "is a draft" in out and "not registered" in out
    parse = center_d["todo_parse"]
    assert parse.returncode == 0, parse.stdout[-3000:]
    manifest = json.loads((center_d["work"] / "parse" / "target" / "manifest.json").read_text())
    model = f"model.rwe_warehouse.stg_center_d__{TABLE}"
    source = f"source.rwe_warehouse.center_d.{TABLE}"
    assert model in manifest["disabled"] and source in manifest["disabled"]
    assert model not in manifest["nodes"] and source not in manifest["sources"]
    # the tests of the models YAML are disabled with the model
    assert not [key for key, node in manifest["nodes"].items()
                if "center_d" in key and node["config"]["enabled"]]


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
    published = query(center_d, "select * exclude (study_id) from marts.analysis_cohort "
                                "where center_id = 'center_d' "
                                "and study_id = 'zhang2025_second_line_ici'")
    assert published.groupby("arm").size().to_dict() == truth.groupby("arm").size().to_dict()
    columns = [column for column in published.columns if column in truth.columns]
    # the provenance of the second-line record is not in the truth: checked on its own
    provenance = {"second_line_source_table", "second_line_source_row_number"}
    assert set(published.columns) - set(columns) == provenance
    assert (published["second_line_source_table"] == TABLE).all()
    assert published["second_line_source_row_number"].between(
        1, len(center_d["export"].read_text(encoding="utf-8").splitlines()) - 1).all()
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
                             "where center_id != 'center_d' "
                             "and study_id = 'zhang2025_second_line_ici' group by all")
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

"""The shared layer names no center; a center is its own folder plus one
registration line (issue 19).

1. No center id appears in models/intermediate/ or models/marts/ (SQL, YAML,
   docs): the shared layer reads the staging models through
   center_refs(kind) (macros/centers.sql). The scanner is checked on planted
   names first, so the check on the real tree can fail.
2. A second administration-level center, center_e, onboarded in a copy of
   the project by adding only its own folder (center_b's staging folder with
   the id replaced) and one registration line. Its raw exports are center_b's
   files with every patient key prefixed with ``E-`` and every valid national
   ID given another sequence code (digits 15-17 plus 500, modulo 1000, which
   keeps the sex digit's parity) and a recomputed check character, so
   center_e's patients are other people than center_b's with the same
   histories. They must reach the harmonised tables exactly as center_b's do,
   row_accounting must balance for them, and nothing outside center_e's
   folder, the seeds and the registration line may change. Then center_e's
   own line_derivation parameters (in its own mapping) must change its lines
   and leave center_b's alone.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_harness import DBT, PROJECT_DIR, dbt_env

SHARED_LAYER = ("models/intermediate", "models/marts")
#: A center id as the project spells them (center_a ... center_d), as a whole
#: name or a name's prefix (stg_center_b__patients, center_b_patients), but
#: not center_id or center_patients.
CENTER_ID_PATTERN = re.compile(r"(?<![a-z0-9])center_[a-z](?![a-z0-9])")
NEW_CENTER, TEMPLATE_CENTER = "center_e", "center_b"
#: Top-level entries of the repository the project copy leaves out.
NOT_COPIED = {".venv", ".venv-spark", ".venv-bi-clients", ".git", "target", "warehouse", "logs",
              ".pytest_cache", ".ruff_cache", ".secrets", "portability", "data"}
#: What the onboarding build selects: the harmonised tables, row accounting
#: and the independent recount it is checked against.
SELECTED = ("+row_accounting +int_treatment_lines_unioned +int_patient_baselines_unioned "
            "+run_inputs assert_row_accounting_balances")
PRC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PRC_CHECK_CHARACTERS = "10X98765432"


# ---------------------------------------------------------------------------
# 1. the shared layer names no center
# ---------------------------------------------------------------------------


def registered_center_ids(project: Path) -> set[str]:
    document = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8"))
    return set(document["vars"]["centers"])


def center_ids_named(text: str, center_ids: set[str]) -> set[str]:
    """The center ids ``text`` names: the project's spelling (center_<letter>)
    and any registered id, as a whole name or a name's prefix."""
    named = set(CENTER_ID_PATTERN.findall(text))
    for center_id in center_ids:
        if re.search(rf"(?<![a-z0-9]){re.escape(center_id)}(?![a-z0-9])", text):
            named.add(center_id)
    return named


def files_naming_centers(root: Path, center_ids: set[str]) -> dict[str, set[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            named = center_ids_named(path.read_text(encoding="utf-8"), center_ids)
            if named:
                found[str(path)] = named
    return found


@pytest.mark.parametrize(("text", "expected"), [
    ("select * from {{ ref('stg_center_b__patients') }}", {"center_b"}),
    ("center_b_patients as (", {"center_b"}),
    ("where center_id = 'center_d'", {"center_d"}),
    ("{{ source('hospital_x', 'lines') }}", {"hospital_x"}),
    ("select center_id, count(*) from center_patients", set()),
    ("{% for export in center_refs('patients') %}", set()),
    ("-- placed by date at administration-level centers", set()),
])
def test_the_scanner_finds_center_ids_and_only_them(text, expected):
    assert center_ids_named(text, {"center_a", "hospital_x"}) == expected


def test_the_scanner_catches_a_center_planted_in_a_copy_of_the_shared_layer(tmp_path):
    for part in SHARED_LAYER:
        shutil.copytree(PROJECT_DIR / part, tmp_path / part)
    planted = tmp_path / "models/intermediate/harmonisation/int_patient_keys_checked.sql"
    planted.write_text(planted.read_text(encoding="utf-8")
                       + "\n-- select * from {{ ref('stg_center_b__patients') }}\n",
                       encoding="utf-8")
    found = files_naming_centers(tmp_path / "models", registered_center_ids(PROJECT_DIR))
    assert found == {str(planted): {"center_b"}}


def test_the_shared_layer_names_no_center():
    center_ids = registered_center_ids(PROJECT_DIR)
    assert center_ids, "dbt_project.yml registers no center"
    for part in SHARED_LAYER:
        assert files_naming_centers(PROJECT_DIR / part, center_ids) == {}, part


# ---------------------------------------------------------------------------
# 2. a second administration-level center: its folder and one line
# ---------------------------------------------------------------------------


def other_person(national_id: str) -> str:
    """A valid PRC resident ID of another person born the same day (``national_id``
    unchanged when it is not a valid one: it links nothing either way)."""
    def check_character(digits: str) -> str:
        weighted = sum(int(d) * w for d, w in zip(digits, PRC_WEIGHTS, strict=True))
        return PRC_CHECK_CHARACTERS[weighted % 11]

    if not re.fullmatch(r"\d{17}[\dX]", national_id) or check_character(national_id[:17]) \
            != national_id[17]:
        return national_id
    sequence = (int(national_id[14:17]) + 500) % 1000
    digits = f"{national_id[:14]}{sequence:03d}"
    return digits + check_character(digits)


def test_other_person_changes_only_the_sequence_code_and_check_character():
    """The new IDs' validity is checked by the warehouse itself (staging's
    national_id_status, macros/identifiers.sql) in the onboarding build."""
    original = "120103196706129850"  # center_b's first patient (data/raw)
    changed = other_person(original)
    assert changed != original and changed[:14] == original[:14]
    assert int(changed[14:17]) == (int(original[14:17]) + 500) % 1000
    assert int(changed[16]) % 2 == int(original[16]) % 2
    assert other_person("not an id") == "not an id"
    assert other_person(original[:17] + "1") == original[:17] + "1"  # bad check character


def write_new_center_exports(raw: Path) -> None:
    """center_e's exports: center_b's with other patient keys and national IDs."""
    (raw / NEW_CENTER).mkdir()
    for source in sorted((raw / TEMPLATE_CENTER).glob("*.csv")):
        with source.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        header = rows[0]
        key, national_id = header.index("patient_key"), (
            header.index("national_id") if "national_id" in header else None)
        for row in rows[1:]:
            if row[key].strip():
                row[key] = "E-" + row[key]
            if national_id is not None:
                row[national_id] = other_person(row[national_id])
        with (raw / NEW_CENTER / source.name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)


def add_new_center(project: Path) -> None:
    """center_e = center_b's folder with the id replaced, center_b's seed rows
    (where a seed has a center column) for center_e, one registration line."""
    template = project / "models/staging" / TEMPLATE_CENTER
    folder = project / "models/staging" / NEW_CENTER
    for path in sorted(template.rglob("*")):
        if path.is_file():
            target = folder / str(path.relative_to(template)).replace(TEMPLATE_CENTER, NEW_CENTER)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text(encoding="utf-8").replace(TEMPLATE_CENTER, NEW_CENTER),
                              encoding="utf-8")
    for seed in sorted((project / "seeds").rglob("*.csv")):
        with seed.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "center_id" in rows[0]:
            added = [{**row, "center_id": NEW_CENTER} for row in rows
                     if row["center_id"] == TEMPLATE_CENTER]
            with seed.open("a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n") \
                    .writerows(added)
    project_yml = project / "dbt_project.yml"
    lines = project_yml.read_text(encoding="utf-8").splitlines(keepends=True)
    [registration] = [i for i, line in enumerate(lines) if line.rstrip() == "  centers:"]
    lines.insert(registration + 1, f"    {NEW_CENTER}: administrations\n")
    project_yml.write_text("".join(lines), encoding="utf-8")


def set_line_derivation(project: Path, center_id: str, line_derivation) -> Path:
    """Give ``center_id`` its own line_derivation block in its own mapping (the
    source-level meta of the sources file in its folder); that file."""
    [mapping] = [path for path in sorted((project / "models/staging" / center_id).glob("*.yml"))
                 if "sources:" in path.read_text(encoding="utf-8")]
    document = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    [source] = document["sources"]
    source.setdefault("config", {}).setdefault("meta", {})["line_derivation"] = line_derivation
    mapping.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return mapping


def copy_project(destination: Path) -> Path:
    """The project without its data, environments and build outputs."""
    shutil.copytree(PROJECT_DIR, destination,
                    ignore=lambda directory, names: (set(names) & NOT_COPIED
                                                     if Path(directory) == PROJECT_DIR else set()))
    return destination


def file_digests(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def dbt(project: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(DBT), *args, "--target-path", str(workdir / "target"),
                           "--log-path", str(workdir / "logs"),
                           "--vars", f"{{raw_data_dir: '{workdir / 'raw'}'}}"],
                          cwd=project, env=dbt_env(workdir / "warehouse.duckdb"),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory):
    """A project copy with center_e added and built (the selected models)."""
    workdir = tmp_path_factory.mktemp("second_administration_center")
    project = copy_project(workdir / "project")
    shutil.copytree(PROJECT_DIR / "data/raw", workdir / "raw")
    write_new_center_exports(workdir / "raw")
    before = file_digests(project)
    add_new_center(project)
    after = file_digests(project)
    build = dbt(project, workdir, "build", "-s", SELECTED, "--indirect-selection", "cautious")
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-2000:]
    return workdir, project, before, after


def query(workdir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def test_the_new_center_changes_only_its_folder_the_seeds_and_one_registration_line(onboarded):
    workdir, project, before, after = onboarded
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    outside = {path for path in changed
               if not path.startswith((f"models/staging/{NEW_CENTER}/", "seeds/"))}
    assert outside == {"dbt_project.yml"}
    original = (PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8").splitlines()
    edited = (project / "dbt_project.yml").read_text(encoding="utf-8").splitlines()
    added = [line for line in edited if line not in original]
    assert added == [f"    {NEW_CENTER}: administrations"]
    assert len(edited) == len(original) + 1
    assert any(path.startswith(f"models/staging/{NEW_CENTER}/") for path in changed)


def test_the_new_centers_exports_are_other_people(onboarded):
    workdir = onboarded[0]
    template = (workdir / "raw" / TEMPLATE_CENTER / "patients.csv").read_text(encoding="utf-8")
    with (workdir / "raw" / NEW_CENTER / "patients.csv").open(newline="", encoding="utf-8") as f:
        new_ids = [row["national_id"] for row in csv.DictReader(f)]
    changed = [national_id for national_id in new_ids if national_id not in template]
    assert len(changed) >= 0.9 * len(new_ids)
    others = "".join(path.read_text(encoding="utf-8")
                     for path in sorted((workdir / "raw").rglob("*.csv"))
                     if NEW_CENTER not in path.parts)
    assert not [national_id for national_id in changed if national_id in others]


def test_the_new_centers_patients_reach_the_harmonised_tables_as_the_templates_do(onboarded):
    workdir = onboarded[0]
    for table in ("int_treatment_lines_unioned", "int_patient_baselines_unioned",
                  "int_study_patients_indexed"):
        counts = dict(query(workdir, f"""
            select center_id, count(distinct patient_id) from intermediate.{table}
            where center_id in ('{TEMPLATE_CENTER}', '{NEW_CENTER}') group by center_id"""))
        assert counts.get(NEW_CENTER, 0) > 0, table
        assert counts[NEW_CENTER] == counts[TEMPLATE_CENTER], table
    lines = """select source_row_number, line_number, line_start_date, regimen_name,
                      is_ici_regimen, best_response, progression_date,
                      last_progression_free_date, next_line_start_date
               from intermediate.int_treatment_lines_unioned where center_id = '{}'
               order by all"""
    assert query(workdir, lines.format(NEW_CENTER)) == query(workdir, lines.format(TEMPLATE_CENTER))
    national_ids = """select national_id_status, count(*) from staging.stg_{}__patients
                      group by all order by all"""
    assert query(workdir, national_ids.format(NEW_CENTER)) == query(
        workdir, national_ids.format(TEMPLATE_CENTER))
    # the reference study's rules (the companion study's spec names its centers)
    eligible = """select count(*) from intermediate.int_study_patients_indexed
                  where center_id = '{}' and exclusion_reason is null
                  and study_id = 'zhang2025_second_line_ici'"""
    assert query(workdir, eligible.format(NEW_CENTER)) == query(workdir,
                                                               eligible.format(TEMPLATE_CENTER))


def test_row_accounting_balances_for_the_new_center(onboarded):
    workdir = onboarded[0]
    accounted = {table: (rows_in, total) for table, rows_in, total in query(workdir, f"""
        select source_table, min(rows_in), sum(row_count) from marts.row_accounting
        where center_id = '{NEW_CENTER}' group by source_table""")}
    raw = {}
    for path in sorted((workdir / "raw" / NEW_CENTER).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            raw[path.stem] = sum(1 for _ in csv.reader(handle)) - 1
    assert accounted == {table: (rows, rows) for table, rows in raw.items()}
    outcomes = """select source_table, row_status, reason, row_count from marts.row_accounting
                  where center_id = '{}' order by all"""
    assert query(workdir, outcomes.format(NEW_CENTER)) == query(workdir,
                                                               outcomes.format(TEMPLATE_CENTER))


def test_each_administration_center_derives_lines_with_its_own_parameters(onboarded):
    workdir, project = onboarded[0], onboarded[1]
    days = """select administration_date, first_source_row_number, is_line_start, line_number
              from intermediate.int_administration_days_lined where center_id = '{}'
              order by all"""
    template_before = query(workdir, days.format(TEMPLATE_CENTER))
    assert query(workdir, days.format(NEW_CENTER)) == template_before
    # shorter than a 21-day cycle: every cycle of center_e starts a line
    set_line_derivation(project, NEW_CENTER,
                        {"line_gap_days": 14, "line_restart_after_progression_days": 10})
    run = dbt(project, workdir, "run", "-s", "int_administration_days_lined")
    assert run.returncode == 0, run.stdout[-4000:]
    assert query(workdir, days.format(TEMPLATE_CENTER)) == template_before
    starts = """select count(*) from intermediate.int_administration_days_lined
                where center_id = '{}' and is_line_start"""
    [(template_starts,)] = query(workdir, starts.format(TEMPLATE_CENTER))
    [(new_starts,)] = query(workdir, starts.format(NEW_CENTER))
    assert new_starts > 2 * template_starts


@pytest.mark.parametrize(("line_derivation", "key", "message"), [
    ({"line_gap_dayz": 90}, "line_derivation.line_gap_dayz", "unknown parameter"),
    ({"line_gap_days": "120 days"}, "line_derivation.line_gap_days",
     "must be a whole number of days"),
])
def test_a_bad_line_derivation_stops_the_build_naming_the_mapping_and_key(
        tmp_path, line_derivation, key, message):
    project = copy_project(tmp_path / "project")
    shutil.copytree(PROJECT_DIR / "data/raw", tmp_path / "raw")
    mapping = set_line_derivation(project, TEMPLATE_CENTER, line_derivation)
    run = dbt(project, tmp_path, "compile", "-s", "int_administration_days_lined")
    assert run.returncode != 0
    relative = str(mapping.relative_to(project))
    assert f"{relative}, key '{key}': {message}" in run.stdout


@pytest.mark.parametrize(("centers", "message"), [
    ({"center_a": "line_records", "center_b": "spreadsheets", "center_c": "line_records"},
     "dbt_project.yml vars 'centers', key 'center_b': unknown shape 'spreadsheets'"),
    ({"center_a": "line_records", "center_c": "line_records"},
     "No center registered in dbt_project.yml vars 'centers' yields staging models of kind"),
])
def test_a_bad_registration_stops_dbt_when_it_parses(tmp_path, centers, message):
    run = subprocess.run([str(DBT), "parse", "--target-path", str(tmp_path / "target"),
                          "--log-path", str(tmp_path / "logs"),
                          "--vars", yaml.safe_dump({"centers": centers})],
                         cwd=PROJECT_DIR, env=dbt_env(tmp_path / "warehouse.duckdb"),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    assert message in run.stdout

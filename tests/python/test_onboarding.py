"""Onboarding writes only a mapping and seed rows: profile, draft, pre-check.

The export contracts and date layouts are read from the project through
``dbt run-operation print_onboarding_reference`` once per module. The drafts
of the three demo centers are compared with their committed mappings; the
pre-check of the demo exports is compared with the generator's list of
deliberately broken rows (data/raw/manifest.json), and of hand-broken
exports with the file, row and column broken; center_e (a second
administration-level center, tests/python/onboarding/center_e.py) is drafted,
completed and pre-checked as a new center would be.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from onboarding.center_e import FILES, SEED_ROWS, build_center_e

from dbt_harness import DBT, PROJECT_DIR, dbt_env
from rwe_onboard import __main__ as cli
from rwe_onboard.contract import OnboardingError, load_reference
from rwe_onboard.draft import HEADER_WORDS, TODO, draft_center
from rwe_onboard.precheck import precheck

RAW = PROJECT_DIR / "data" / "raw"
DEMO = {"center_a": "line_records", "center_b": "administrations", "center_c": "line_records"}
#: What the pre-check reads of a row; duplicates and date order are the warehouse's.
VALUE_REASONS = {"missing_required_value", "unparseable_date", "unknown_code", "unknown_drug"}


@pytest.fixture(scope="module")
def reference():
    return load_reference(PROJECT_DIR)


def committed_mapping(center: str) -> dict:
    path = PROJECT_DIR / "models" / "staging" / center / f"_{center}__mapping.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def tables_of(document: dict) -> dict[str, dict]:
    """Kind (the source table's name) -> meta."""
    return {t["name"]: t["config"]["meta"] for t in document["sources"][0]["tables"]}


def identifiers(document: dict) -> dict[str, str]:
    """Kind -> file name."""
    return {t["name"]: t.get("identifier", t["name"]) for t in document["sources"][0]["tables"]}


def entry_of(entry: object) -> dict:
    """A column's entry as {'field': ..., options} ({} for ~ and TODO)."""
    if entry is None or entry == TODO:
        return {}
    return {"field": entry} if isinstance(entry, str) else dict(entry)


def skeleton(tmp_path: Path) -> Path:
    """What drafting reads and writes of a project: its seeds and staging folder."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR / "seeds" / "terminology", project / "seeds" / "terminology")
    (project / "models" / "staging").mkdir(parents=True)
    return project


# ---------------------------------------------------------------------------
# one source: the contract and the layouts come from dbt
# ---------------------------------------------------------------------------


def test_reference_is_the_projects_contract_and_layouts(reference):
    assert set(DEMO.values()) <= set(reference.shapes)
    for shape in set(DEMO.values()):  # the shapes a draft writes; omop_cdm's kinds are assembled
        assert set(reference.shapes[shape]) <= set(reference.contracts)
    assert {"YYYY-MM-DD", "DD/MM/YYYY", "YYYYMMDD"} <= {lay.name for lay in reference.layouts}
    layout = reference.layout("DD.MM.YYYY")
    assert layout.read(" 1.2.2021 ").isoformat() == "2021-02-01"
    assert layout.read("30.02.2021") is None and layout.read("01.02.21") is None


def test_header_words_only_name_contract_fields(reference):
    fields = {f for kind in reference.contracts for f in reference.fields(kind)}
    assert set(HEADER_WORDS) <= fields


# ---------------------------------------------------------------------------
# draft: the demo centers' samples give their committed mappings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("center", sorted(DEMO))
def test_draft_of_a_demo_center_equals_its_committed_mapping(center, reference, tmp_path):
    project = skeleton(tmp_path)
    samples = sorted((RAW / center).glob("*.csv"))
    path = draft_center(project, "center_new", DEMO[center], samples, echo=lambda _: None,
                        reference=reference)
    drafted_file, committed_file = yaml.safe_load(path.read_text()), committed_mapping(center)
    drafted, committed = tables_of(drafted_file), tables_of(committed_file)
    assert set(drafted) == set(committed)
    mismatches, todos, compared = [], 0, 0
    for name, meta in committed.items():
        assert identifiers(drafted_file)[name] == identifiers(committed_file)[name]
        assert list(drafted[name]["columns"]) == list(meta["columns"])  # header order
        for column, entry in meta["columns"].items():
            guess = drafted[name]["columns"][column]
            if guess == TODO:
                todos += 1
                continue
            compared += 1
            # field, layout, delimiter, strip, unit, scheme, scale: all as committed
            # (`required: true` on an optional field is the center's policy, not in a sample)
            want = {k: v for k, v in entry_of(entry).items() if k != "required"}
            if want != entry_of(guess):
                mismatches.append((name, column, entry, guess))
    assert mismatches == []
    assert todos <= 0.1 * (todos + compared)  # measured: 0 TODO columns at every demo center


def test_draft_lists_the_seed_rows_of_unknown_spellings_and_writes_nothing_else(
        reference, tmp_path):
    project = skeleton(tmp_path)
    exports = build_center_e(RAW / "center_b", tmp_path / "samples")
    before = {p for p in project.rglob("*") if p.is_file()}
    printed: list[str] = []
    path = draft_center(project, "center_e", "administrations", list(exports.values()),
                        echo=printed.append, reference=reference)
    folder = project / "models" / "staging" / "center_e"
    assert path == folder / "_center_e__mapping.yml"
    models = {folder / f"stg_center_e__{kind}.sql": kind
              for kind in reference.shapes["administrations"]}
    assert {p for p in project.rglob("*") if p.is_file()} - before == {path, *models}
    for model, kind in models.items():  # one line each: dbt renders staging from the mapping
        assert model.read_text() == f"{{{{ stage_export('center_e', '{kind}') }}}}\n"
    out = "\n".join(printed)
    for seed, spellings in SEED_ROWS.items():
        assert f"seeds/terminology/{seed}.csv" in out
        for spelling in spellings:  # a row with its meaning to fill in (no seed has a
            assert f"\n  {spelling},TODO" in out  # center_id column today: per_center, none)
    with pytest.raises(OnboardingError, match="exists"):
        draft_center(project, "center_e", "administrations", list(exports.values()),
                     echo=lambda _: None, reference=reference)


# ---------------------------------------------------------------------------
# precheck
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("center", sorted(DEMO))
def test_precheck_of_the_demo_exports_finds_the_generators_broken_rows(center, reference):
    problems = precheck(PROJECT_DIR, center, sorted((RAW / center).glob("*.csv")), reference)
    found = {(Path(p.file).stem, p.row, p.column) for p in problems}
    manifest = json.loads((RAW / "manifest.json").read_text(encoding="utf-8"))
    broken = {(d["table"], d["source_row_number"], d["column"]) for d in manifest["dirty_rows"]
              if d["center_id"] == center and d["reason"] in VALUE_REASONS}
    assert broken and found == broken
    assert all(p.center == center for p in problems)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def test_precheck_names_center_file_row_column_and_never_a_value(reference, tmp_path):
    with (RAW / "center_b" / "patients.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[:6]
    header = rows[0]
    dropped = [[cell for i, cell in enumerate(r) if i != header.index("kps")] for r in rows]
    other = write_csv(tmp_path / "other" / "patients.csv", dropped)  # a column missing
    rows[2][header.index("dob")] = "1967-06-12"  # another layout than DD/MM/YYYY
    rows[3][header.index("gender")] = "secret-spelling-9"  # a spelling no seed knows
    patients = write_csv(tmp_path / "patients.csv", rows)
    problems = precheck(PROJECT_DIR, "center_b", [patients, other], reference)
    assert [(p.file, p.row, p.column) for p in problems] == [
        (str(other), 0, "kps"), (str(patients), 2, "dob"), (str(patients), 3, "gender")]
    text = "\n".join(map(str, problems))
    assert f"center_b: {patients}:2:dob: not a date in layout DD/MM/YYYY" in text
    assert f"center_b: {patients}:3:gender: spelling not in terminology__sex_codes" in text
    assert f"center_b: {other}:0:kps: column missing" in text
    for value in ("1967-06-12", "secret-spelling-9", rows[2][0], rows[3][0]):
        assert value not in text


def test_precheck_refuses_a_mapping_with_todos(reference, tmp_path):
    project = skeleton(tmp_path)
    exports = build_center_e(RAW / "center_b", tmp_path / "samples")
    draft_center(project, "center_e", "administrations", list(exports.values()),
                 echo=lambda _: None, reference=reference)
    with pytest.raises(OnboardingError, match=r"still has TODO at: .*description"):
        precheck(project, "center_e", list(exports.values()), reference)


def complete(mapping: Path) -> None:
    """Resolve the draft's TODOs as the person onboarding center_e would."""
    document = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    source = document["sources"][0]
    source["description"] = "center_e: a second administration-level center (test)."
    for table in source["tables"]:
        table["description"] = f"center_e's {table['name']}."
        columns = table["config"]["meta"]["columns"]
        for column, entry in columns.items():
            if entry == TODO:
                assert column == "dosis_mg"  # the one column the draft cannot guess
                columns[column] = "dose"
    mapping.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                       encoding="utf-8")


def append_seed_rows(project: Path, center: str) -> None:
    for seed, meanings in SEED_ROWS.items():
        path = project / "seeds" / "terminology" / f"{seed}.csv"
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        with path.open("a", encoding="utf-8", newline="") as handle:
            value = next(c for c in header[1:] if c != "center_id")
            for spelling, meaning in meanings.items():
                row = {header[0]: spelling, value: meaning, "center_id": center}
                csv.writer(handle, lineterminator="\n").writerow(
                    [row.get(column, "") for column in header])


def test_a_new_administration_center_from_draft_to_a_clean_precheck(reference, tmp_path):
    project = skeleton(tmp_path)
    exports = build_center_e(RAW / "center_b", tmp_path / "samples")
    mapping = draft_center(project, "center_e", "administrations", list(exports.values()),
                           echo=lambda _: None, reference=reference)
    complete(mapping)
    drafted = tables_of(yaml.safe_load(mapping.read_text(encoding="utf-8")))
    assert set(drafted) == set(reference.shapes["administrations"])
    before_seeds = precheck(project, "center_e", list(exports.values()), reference)
    assert any("terminology__sex_codes" in p.message for p in before_seeds)
    append_seed_rows(project, "center_e")
    problems = precheck(project, "center_e", list(exports.values()), reference)
    # the same broken rows as center_b's (same rows rewritten), under center_e's names
    expected = {(table, row) for table, row, _c in _broken("center_b")}
    names = {Path(path).stem: table for table, path in exports.items()}
    assert {(names[Path(p.file).stem], p.row) for p in problems} == expected


#: Top-level entries of the repository a project copy leaves out.
NOT_COPIED = {".venv", ".venv-spark", ".git", "target", "warehouse", "logs", ".pytest_cache",
              ".ruff_cache", ".secrets", "portability"}
#: Staging columns that name the center or its files (pseudonyms are keyed by center).
CENTER_NAMED = {"patient_id", "folded_patient_id", "center_id", "source_file_name",
                "source_table"}


@pytest.mark.slow
def test_the_completed_center_e_builds_as_center_b(reference, tmp_path):
    """Draft, complete, seed rows, one registration (--vars): center_e's staging models
    build, and equal center_b's row for row (center_e is center_b's export renamed)."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=lambda d, names: set(names) & NOT_COPIED
                    if Path(d) == PROJECT_DIR else set())
    exports = build_center_e(RAW / "center_b", project / "data" / "raw" / "center_e")
    mapping = draft_center(project, "center_e", "administrations", list(exports.values()),
                           echo=lambda _: None, reference=reference)
    complete(mapping)
    append_seed_rows(project, "center_e")
    kinds = reference.shapes["administrations"]
    centers = {**DEMO, "center_e": "administrations"}
    models = [f"stg_{c}__{k}" for c in ("center_b", "center_e") for k in kinds]
    warehouse = tmp_path / "warehouse.duckdb"
    build = subprocess.run(
        [str(DBT), "build", "--select", "path:seeds/terminology", *models,
         "--indirect-selection", "cautious",
         "--vars", json.dumps({"centers": centers}), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        cwd=project, env=dbt_env(warehouse), capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for kind in kinds:
            center_b, center_e = (
                connection.sql(f"select * from staging.stg_{c}__{kind} order by "
                               "source_row_number").df().drop(columns=CENTER_NAMED,
                                                              errors="ignore")
                for c in ("center_b", "center_e"))
            renamed = {new: old for old, new in FILES[kind][1].items()}
            for column in center_e.columns:  # raw column names, for messages
                if column == "failing_column" or column.endswith("_source_column"):
                    center_e[column] = center_e[column].replace(renamed)
            assert len(center_b) > 0 and center_b["quarantine_reason"].notna().any()
            pd.testing.assert_frame_equal(center_b, center_e, check_dtype=False)


def _broken(center: str) -> set[tuple[str, int, str]]:
    manifest = json.loads((RAW / "manifest.json").read_text(encoding="utf-8"))
    return {(d["table"], d["source_row_number"], d["column"]) for d in manifest["dirty_rows"]
            if d["center_id"] == center and d["reason"] in VALUE_REASONS}


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------


def run_cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_command_line_exit_codes(tmp_path):
    code, out, _ = run_cli("--project-dir", PROJECT_DIR, "precheck", "--center", "center_b",
                           *sorted((RAW / "center_b").glob("*.csv")))
    assert code == 1 and "center_b: " in out
    code, _, err = run_cli("--project-dir", PROJECT_DIR, "precheck", "--center", "center_zz",
                           RAW / "center_b" / "patients.csv")
    assert code == 2 and "no mapping" in err
    code, out, _ = run_cli("--project-dir", PROJECT_DIR, "profile",
                           RAW / "center_a" / "treatment_lines.csv")
    assert code == 0 and "YYYY-MM-DD" in out and "(identifier: withheld)" in out

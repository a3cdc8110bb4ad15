"""Bad center mappings fail early and say where (issue 19, item 7).

Each test breaks one thing in a copy of the project (a mapping file, a seed,
the registration) and checks that dbt stops at parse or compile time, or at
the raw-export gate before any model runs, with a message naming the mapping
file and key (or center, table, file and column for what only the files can
tell). One parse is shared: later commands partially re-parse the changed
file only, so the module stays quick.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from dbt_harness import DBT, PROJECT_DIR, copy_project, dbt_env

MAPPING_B = Path("models/staging/center_b/_center_b__mapping.yml")

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project (raw data linked), parsed once."""
    root = tmp_path_factory.mktemp("mapping_project")
    copy_project(root)
    (root / "data").symlink_to(PROJECT_DIR / "data")
    result = _dbt(root, ["parse"])
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _dbt(root: Path, args: list[str], extra_vars: dict | None = None):
    command = [str(DBT), *args, "--target-path", str(root / "target"), "--log-path",
               str(root / "logs")]
    if extra_vars:
        command += ["--vars", json.dumps(extra_vars)]
    env = dbt_env(root / "warehouse.duckdb", partial_parse=True)
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


class Edited:
    """Change a file of the project copy for one test, then put it back."""

    def __init__(self, root: Path, relative: Path, change):
        self.path = root / relative
        self.change = change

    def __enter__(self):
        self.original = self.path.read_text(encoding="utf-8") if self.path.exists() else None
        self.change(self.path)
        return self.path

    def __exit__(self, *exc):
        if self.original is None:
            self.path.unlink()
        else:
            self.path.write_text(self.original, encoding="utf-8")


def _edit_mapping(change):
    """A file change that loads the mapping YAML, applies change(document)
    and writes it back."""
    def apply(path: Path):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(document)
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
    return apply


def _center(document):
    return document["sources"][0]


def _table(document, name):
    return next(table for table in _center(document)["tables"] if table["name"] == name)


def _compile_fails(project, model, *needles):
    result = _dbt(project, ["compile", "-s", model])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for needle in needles:
        assert needle in output, output
    return output


def test_unknown_shape_fails_naming_file_and_key(project):
    def change(document):
        _center(document)["config"]["meta"]["shape"] = "line_level"
    with Edited(project, MAPPING_B, _edit_mapping(change)):
        _compile_fails(project, "stg_center_b__patients", str(MAPPING_B),
                       "sources.center_b.config.meta.shape", "unknown shape 'line_level'")


def test_required_field_unmapped_fails_naming_file_and_key(project):
    def change(document):
        _table(document, "patients")["config"]["meta"]["columns"]["gender"] = None
    with Edited(project, MAPPING_B, _edit_mapping(change)):
        _compile_fails(project, "stg_center_b__patients", str(MAPPING_B),
                       "sources.center_b.tables.patients.config.meta.columns",
                       "required field 'sex' is not mapped")


def test_unknown_layout_fails_at_compile_naming_the_column(project):
    def change(document):
        columns = _table(document, "assessments")["config"]["meta"]["columns"]
        columns["assessment_date"]["layout"] = "MM/DD/YY"
    with Edited(project, MAPPING_B, _edit_mapping(change)):
        _compile_fails(project, "stg_center_b__assessments", str(MAPPING_B),
                       "columns.assessment_date.layout", "unknown date layout 'MM/DD/YY'")


def test_layout_that_reads_no_value_stops_the_gate_naming_file_and_column(project):
    def change(document):
        columns = _table(document, "assessments")["config"]["meta"]["columns"]
        columns["assessment_date"]["layout"] = "YYYY-MM-DD"
    with Edited(project, MAPPING_B, _edit_mapping(change)):
        result = _dbt(project, ["run", "-s", "stg_center_b__assessments"])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Raw export check failed for center 'center_b', table 'assessments'" in output, output
    assert "center_b/assessments.csv" in output, output
    assert "column 'assessment_date' is unreadable as a date in its declared layout YYYY-MM-DD" \
        in output, output


def test_column_the_export_lacks_stops_the_gate_naming_file_and_column(project):
    def change(document):
        _table(document, "drug_administrations")["config"]["meta"]["columns"]["route"] = None
    with Edited(project, MAPPING_B, _edit_mapping(change)):
        result = _dbt(project, ["run", "-s", "stg_center_b__drug_administrations"])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert ("Raw export check failed for center 'center_b', table 'drug_administrations' (file "
            in output), output
    assert "center_b/drug_administrations.csv): missing required column(s) route" in output, output


def test_two_mapping_files_with_one_center_id_fail_at_parse(project):
    duplicate = Path("models/staging/center_e/_center_e__mapping.yml")
    (project / duplicate.parent).mkdir(exist_ok=True)

    def copy_b(path: Path):
        path.write_text((project / MAPPING_B).read_text(encoding="utf-8"), encoding="utf-8")
    with Edited(project, duplicate, copy_b):
        result = _dbt(project, ["parse"])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "center_b" in output and str(duplicate) in output and str(MAPPING_B) in output, output


def test_a_spelling_with_two_meanings_fails_the_seed_test(project):
    seed = Path("seeds/terminology/terminology__sex_codes.csv")

    def add_row(path: Path):
        path.write_text(path.read_text(encoding="utf-8") + "M,female\n", encoding="utf-8")
    with Edited(project, seed, add_row):
        result = _dbt(project, ["build", "-s", "terminology__sex_codes"])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "one_meaning_per_spelling_terminology__sex_codes" in output, output


def test_appending_a_seed_row_passes_the_seed_tests(project):
    seed = Path("seeds/terminology/terminology__sex_codes.csv")

    def add_row(path: Path):
        path.write_text(path.read_text(encoding="utf-8") + "mann,male\n", encoding="utf-8")
    with Edited(project, seed, add_row):
        result = _dbt(project, ["build", "-s", "terminology__sex_codes"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unregistered_center_is_not_read(project):
    """center_c left out of the registration: its sources, staging models
    and their unit tests are disabled."""
    registered = {"center_a": "line_records", "center_b": "administrations"}
    result = _dbt(project, ["ls", "--resource-type", "source", "model", "unit_test",
                            "-s", "staging", "--output", "name"],
                  extra_vars={"centers": registered})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "stg_center_a__line_records" in output and "stg_center_b__patients" in output, output
    assert "center_c" not in output, output


def test_print_export_contracts_prints_the_one_contract_as_json(project):
    """rwe_onboard reads the contract from this output: every kind of every
    shape has a contract, and every field the three mappings name is in it."""
    result = _dbt(project, ["run-operation", "print_export_contracts", "--quiet"])
    assert result.returncode == 0, result.stdout + result.stderr
    printed = json.loads(result.stdout)
    kinds = {kind for shape_kinds in printed["shapes"].values() for kind in shape_kinds}
    # attribute_rows: the raw rows of an omop_cdm center that no exported kind
    # stands for, assembled from its CDM tables, never mapped (macros/staging/omop_cdm.sql)
    assert kinds - {"attribute_rows"} == set(printed["contracts"])
    assert "DD/MM/YYYY" in printed["date_layouts"]
    for mapping_file in sorted((project / "models" / "staging").glob("*/_*__mapping.yml")):
        mapping = yaml.safe_load(mapping_file.read_text(encoding="utf-8"))
        if mapping["sources"][0]["config"]["meta"]["shape"] == "omop_cdm":
            continue  # CDM tables, checked against omop_cdm_tables (test_four_centers)
        for table in mapping["sources"][0]["tables"]:
            fields = {field["name"] for field in printed["contracts"][table["name"]]["fields"]}
            for column, spec in table["config"]["meta"]["columns"].items():
                field = spec["field"] if isinstance(spec, dict) else spec
                assert field is None or field in fields, (mapping_file.name, column, field)

"""Study specs (studies/<study_id>.yml, macros/study_specs.sql): a bad spec stops dbt
before any model with the file and the key named; a third study added as one file, in a
copy of the project, gets its rows in every study table with no code edit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml
from study_harness import REFERENCE_STUDY

from dbt_harness import DBT, PROJECT_DIR, dbt_env

pytestmark = pytest.mark.slow

#: Top-level entries of the repository a project copy leaves out.
NOT_COPIED = {".venv", ".venv-spark", ".venv-bi-clients", ".git", "target", "warehouse", "logs",
              ".pytest_cache", ".ruff_cache", ".secrets", "portability"}
STUDY_TABLES = ["analysis_cohort", "adverse_events", "ps_scores", "matched_pairs",
                "matched_cohort", "covariate_balance", "km_estimates", "survival_summary",
                "cox_results", "response_summary", "safety_summary", "subgroup_hr",
                "study_diagnostics", "rmst_estimates", "evalues", "weighting_estimates",
                "weighted_balance", "weighted_km_estimates", "subgroup_balance",
                "center_heterogeneity", "censoring_reasons", "study_specs"]


def copy_project(destination: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        return set(names) & NOT_COPIED if Path(directory) == PROJECT_DIR else set()

    shutil.copytree(PROJECT_DIR, destination, ignore=ignore)
    return destination


def dbt(project: Path, args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    """``dbt <args>`` in ``project`` into ``workdir`` (partial parse: the cases
    below differ by one file)."""
    return subprocess.run([str(DBT), *args, "--target-path", str(workdir / "target"),
                           "--log-path", str(workdir / "logs")],
                          cwd=project, env=dbt_env(workdir / "warehouse.duckdb",
                                                   partial_parse=True),
                          capture_output=True, text=True, timeout=900)


def reference_document() -> dict:
    return yaml.safe_load((PROJECT_DIR / "studies" / f"{REFERENCE_STUDY}.yml").read_text(
        encoding="utf-8"))


def write_study(project: Path, study_id: str, change) -> Path:
    """studies/<study_id>.yml: the reference spec renamed, then ``change(spec)``."""
    document = reference_document()
    exposure = document["exposures"][0]
    exposure["name"] = study_id
    change(exposure["meta"]["study"])
    path = project / "studies" / f"{study_id}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("study_specs") / "project")


def _set(path: str, value):
    """A change that sets the spec key at dotted ``path`` to ``value``."""
    def change(spec: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            spec = spec[key]
        spec[last] = value
    return change


BAD_SPECS = [
    # (case, change, key named, problem named)
    ("unknown_column", _set("baseline_covariates", ["age_years", "tumour_size_mm"]),
     "meta.study.baseline_covariates", 'unknown analysis_cohort column "tumour_size_mm"'),
    ("unknown_subgroup_column", _set("subgroups", {"male": "is_man"}),
     "meta.study.subgroups", 'unknown analysis_cohort column "is_man"'),
    ("empty_arm", _set("exposure.index_line", {}),
     "meta.study.exposure.index_line", "empty arm"),
    ("contradictory_rule", _set("eligibility.prior_line",
                                {"requires_progression": True, "all_of": ["platinum"],
                                 "none_of": ["platinum", "taxane"]}),
     "meta.study.eligibility.prior_line", "contradictory rules: platinum"),
    ("overlapping_arms", _set("comparator.index_line", {"none_of": ["taxane"]}),
     "meta.study.comparator.index_line", "contradictory rules: a line can be in both arms"),
    ("reversed_window", _set("eligibility.study_window_start_date", "2024-01-01"),
     "meta.study.eligibility.study_window_end_date", "the window ends before it starts"),
    ("unknown_drug_class", _set("exposure.index_line", {"any_of": ["pd1_inhibitor"]}),
     "meta.study.exposure.index_line.any_of", 'unknown drug class "pd1_inhibitor"'),
    ("unknown_key", _set("subgroup_labels", {}),
     "meta.study.subgroup_labels", "unknown key"),
]


@pytest.mark.parametrize(("case", "change", "key", "problem"), BAD_SPECS,
                         ids=[case[0] for case in BAD_SPECS])
def test_a_bad_spec_fails_naming_its_file_and_key(project, tmp_path, case, change, key,
                                                  problem):
    path = write_study(project, f"bad_{case}", change)
    try:
        result = dbt(project, ["run-operation", "validate_study_specs"], tmp_path)
    finally:
        path.unlink()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"Study spec studies/bad_{case}.yml, key {key}: " in output, output[-3000:]
    assert problem in output, output[-3000:]


def test_a_bad_spec_stops_the_build_before_any_model(project, tmp_path):
    path = write_study(project, "bad_build", _set("exposure.index_line", {"any_of": ["pd1"]}))
    try:
        result = dbt(project, ["build", "--select", "int_treatment_line_drug_classes"], tmp_path)
    finally:
        path.unlink()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Study spec studies/bad_build.yml, key meta.study.exposure.index_line.any_of" in output
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        built = connection.sql("select table_name from duckdb_tables() "
                               "where schema_name = 'intermediate'").fetchall()
    assert built == []


def test_the_reference_specs_are_valid(project, tmp_path):
    result = dbt(project, ["run-operation", "validate_study_specs"], tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "2 study spec(s) valid" in result.stdout


THIRD_STUDY = "center_c_second_line_ici"


@pytest.fixture(scope="module")
def third_study_build(project, tmp_path_factory):
    """The project copy with one more file: the reference study restricted to
    center_c. Nothing else is edited."""
    path = write_study(project, THIRD_STUDY, _set("eligibility.centers", ["center_c"]))
    workdir = tmp_path_factory.mktemp("third_study")
    result = dbt(project, ["build", "--exclude-resource-type", "unit_test"], workdir)
    path.unlink()
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return workdir


def test_a_third_spec_gets_every_study_table_without_code_edits(third_study_build):
    with duckdb.connect(str(third_study_build / "warehouse.duckdb"), read_only=True) as connection:
        for table in STUDY_TABLES:
            studies = {study for (study,) in connection.sql(
                f"select distinct study_id from marts.{table}").fetchall()}
            assert THIRD_STUDY in studies, table
        # the same rules on one center: the reference study's patients of that center
        third = connection.sql(
            "select * exclude (study_id) from marts.analysis_cohort "
            f"where study_id = '{THIRD_STUDY}' order by patient_id").df()
        reference = connection.sql(
            "select * exclude (study_id) from marts.analysis_cohort "
            f"where study_id = '{REFERENCE_STUDY}' and center_id = 'center_c' "
            "order by patient_id").df()
        assert len(third) > 50
        assert third.equals(reference)
    current = third_study_build / "published" / "current"
    with duckdb.connect(str(current / "rwe_results.duckdb"), read_only=True) as published:
        assert (THIRD_STUDY,) in published.sql("select study_id from run_info").fetchall()
        assert (THIRD_STUDY,) in published.sql("select study_id from study_specs").fetchall()
    assert (current / f"report_{THIRD_STUDY}.html").is_file()
    assert f'href="report_{THIRD_STUDY}.html"' in (current / "report.html").read_text(
        encoding="utf-8")

"""End to end: `dbt build` on the embedded data, then check the published tables
against the generator's manifest (what it wrote, what it broke on purpose)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from study_harness import (
    REFERENCE_STUDY,
    built_parameters,
    built_spec,
    file_parameters,
    study_ids,
    study_table,
)

from dbt_harness import DBT, PROJECT_DIR, TEST_PSEUDONYM_KEY, copy_project, dbt_env, run_dbt
from rwe_report.results_table import end_marker, results_rows, start_marker
from rwe_synth import truth_frame

COMPANION_STUDY = "ici_continuation_second_line"

RAW_DIR = PROJECT_DIR / "data" / "raw"
PROVENANCE_COLUMNS = {"second_line_source_table", "second_line_source_file_name",
                      "is_second_line_source_split", "second_line_source_row_number"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((RAW_DIR / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def build(embedded_build):
    return embedded_build


@pytest.mark.parametrize("study_id", study_ids())
def test_a_spec_file_gives_the_parameters_the_build_used(build, study_id):
    """Scripts without a warehouse (benchmarks/) read a study's parameters from its
    spec file (rwe_study.studies.file_parameters); the models from study_specs."""
    assert file_parameters(study_id) == built_parameters(build, study_id)


def test_build_runs_every_node_without_error_or_skip(build):
    done = [line for line in build.output.splitlines() if "Done. PASS=" in line][-1]
    for counter in ("WARN=0", "ERROR=0", "SKIP=0"):
        assert counter in done, done


def test_cohort_is_the_generators_eligible_patients(build, manifest):
    cohort = manifest["cohort"]
    by_center_arm = {
        (center, arm): count for center, arm, count in build.query(
            "select center_id, arm, count(*) from marts.analysis_cohort "
            f"where study_id = '{REFERENCE_STUDY}' group by all")
    }
    expected = {
        (center, arm): count
        for center, arms in cohort["per_center_per_arm"].items() for arm, count in arms.items()
    }
    assert by_center_arm == expected
    assert sum(by_center_arm.values()) == cohort["eligible_patients"] == 496


def test_every_dirty_row_is_quarantined_with_its_reason(build, manifest):
    quarantined = {
        (center, table, row): (reason, column)
        for center, table, row, reason, column in build.query(
            "select center_id, source_table, source_row_number, reason, failing_column "
            "from marts.quarantine")
    }
    expected = {
        (row["center_id"], row["table"], row["source_row_number"]): (row["reason"], row["column"])
        for row in manifest["dirty_rows"]
    }
    assert expected, "the manifest lists no dirty rows"
    missing = {key: value for key, value in expected.items() if key not in quarantined}
    assert not missing, f"dirty rows not quarantined: {missing}"
    wrong_reason = {key: (expected[key], quarantined[key]) for key in expected
                    if quarantined[key][0] != expected[key][0]}
    assert not wrong_reason, f"quarantined for another reason: {wrong_reason}"
    wrong_column = {key: (expected[key], quarantined[key]) for key in expected
                    if quarantined[key][1] != expected[key][1]}
    assert not wrong_column, f"quarantined naming another column: {wrong_column}"
    unexpected = set(quarantined) - set(expected)
    assert not unexpected, f"clean rows quarantined: {sorted(unexpected)[:20]}"


def test_every_raw_row_is_accounted_for(build, manifest):
    accounted = dict(
        ((center, table), total) for center, table, total in build.query(
            "select center_id, source_table, sum(row_count) from marts.row_accounting "
            "group by center_id, source_table"))
    for center, tables in manifest["row_counts"].items():
        for table, rows in tables.items():
            lines = (RAW_DIR / center / f"{table}.csv").read_text(encoding="utf-8").splitlines()
            assert len(lines) - 1 == rows
            assert accounted[(center, table)] == rows, (center, table)


def test_run_inputs_reads_exactly_the_declared_exports_and_counts_their_records(build,
                                                                                manifest):
    inputs = build.frame("select center_id, source_table, file_path, file_bytes, record_count "
                         "from audit.run_inputs")
    declared = {(center, table) for center, tables in manifest["row_counts"].items()
                for table in tables}
    assert set(zip(inputs["center_id"], inputs["source_table"], strict=True)) == declared
    assert "manifest.json" not in set(inputs["file_path"])
    for row in inputs.itertuples():
        assert row.file_path == f"{row.center_id}/{row.source_table}.csv"
        assert row.file_bytes == (RAW_DIR / row.file_path).stat().st_size
        assert row.record_count == manifest["row_counts"][row.center_id][row.source_table]


def test_row_balance_recounts_the_files_with_a_reader_of_its_own(build, tmp_path):
    """assert_row_accounting_balances compares row_accounting with run_inputs'
    count (Python's csv module), not with a count through the models' DuckDB
    reader, which a misread file would satisfy; and it fails when they differ."""
    compiled = (build.warehouse.parent / "target" / "compiled" / "rwe_warehouse" / "tests"
                / "dbt" / "singular" / "assert_row_accounting_balances.sql").read_text()
    assert '"audit"."run_inputs"' in compiled
    assert not {"read_csv", "read_parquet", "read_blob"} & set(compiled.replace("(", " ").split())
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(build.warehouse, copy)
    with duckdb.connect(str(copy)) as connection:
        assert connection.sql(compiled).fetchall() == []
        connection.execute("update audit.run_inputs set record_count = record_count + 1 "
                           "where file_path = 'center_b/patients.csv'")
        unbalanced = connection.sql(compiled).fetchall()
    assert [row[:2] for row in unbalanced] == [("center_b", "patients")]


def test_excluded_patients_are_excluded_for_their_reason(build, manifest):
    reasons = {row["reason"] for row in manifest["excluded_patients"]}
    found = {reason for (reason,) in build.query(
        "select distinct reason from marts.row_accounting where row_status = 'excluded'")}
    assert reasons <= found


def test_no_direct_identifier_is_stored_in_the_warehouse(build):
    columns = {name for (name,) in build.query(
        "select column_name from information_schema.columns")}
    assert not columns & {"patient_name", "name", "national_id", "id_card_no", "id_number",
                          "birth_date", "dob", "mrn", "case_no", "patient_key"}


def test_pseudonym_key_is_in_no_warehouse_artifact_or_log(build):
    """The key reaches DuckDB as a bound variable only: no compiled SQL, log
    line, dbt artifact or stored object of the build holds it."""
    workdir = build.warehouse.parent
    files = [path for path in workdir.rglob("*") if path.is_file()]
    assert build.warehouse in files and any(path.suffix == ".sql" for path in files)
    holding = [str(path) for path in files if TEST_PSEUDONYM_KEY.encode() in path.read_bytes()]
    assert not holding


def test_harmonised_cohort_equals_the_generators_truth(build, manifest):
    """Every contract column of every patient survives harmonisation exactly:
    three export formats in, the generator's clean patient table out."""
    arguments = manifest["generator"]["args"]
    truth = truth_frame(arguments["patients"], arguments["centers"], arguments["seed"])
    truth["patient_id"] = [
        hashlib.sha256(f"{TEST_PSEUDONYM_KEY}|{center}|{key}".encode()).hexdigest()[:24]
        for center, key in zip(truth["center_id"], truth["patient_key"], strict=True)
    ]
    published = study_table(build, "analysis_cohort", REFERENCE_STUDY)
    columns = [column for column in published.columns if column in truth.columns]
    # provenance columns are not the generator's: checked in the next test
    assert set(published.columns) - set(columns) == PROVENANCE_COLUMNS
    expected = truth[columns].sort_values("patient_id", ignore_index=True)
    actual = published[columns].sort_values("patient_id", ignore_index=True)
    for column in ("second_line_start_date", "pfs_end_date", "os_end_date"):
        actual[column] = pd.to_datetime(actual[column])
        expected[column] = pd.to_datetime(expected[column])
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-9, atol=1e-9)


def test_companion_cohort_read_from_the_harmonised_layer_equals_its_truth(build, manifest):
    """The companion study's rule applied to the harmonised layer (every
    patient, not only the reference study's) gives the generator's companion
    cohort: 118 / 93, same patients, arms, outcomes and responses."""
    from rwe_synth import companion_truth_frame
    from rwe_synth.companion_figures import cohort_from_warehouse

    arguments = manifest["generator"]["args"]
    truth = companion_truth_frame(arguments["patients"], arguments["centers"],
                                  arguments["seed"])
    truth["patient_id"] = [
        hashlib.sha256(f"{TEST_PSEUDONYM_KEY}|{center}|{key}".encode()).hexdigest()[:24]
        for center, key in zip(truth["center_id"], truth["patient_key"], strict=True)
    ]
    cohort = cohort_from_warehouse(build.frame)
    assert cohort["is_ici"].value_counts().to_dict() == {True: 118, False: 93}
    columns = ["patient_id", "is_ici", "age_years", "is_first_line_pfs_6_months_or_more",
               "pfs_months", "is_pfs_event", "os_months", "is_os_event",
               "is_objective_response", "is_disease_control"]
    expected = truth[columns].sort_values("patient_id", ignore_index=True)
    actual = cohort[columns].sort_values("patient_id", ignore_index=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-9, atol=1e-9)


def test_companion_cohort_built_from_its_spec_equals_its_truth(build, manifest):
    """The companion study's spec (studies/ici_continuation_second_line.yml),
    built by the warehouse's SQL, gives the generator's companion cohort
    exactly: 118 / 93, same patients, arms, covariates, outcomes at the
    companion's cut-off and responses."""
    from rwe_synth import companion_truth_frame

    arguments = manifest["generator"]["args"]
    truth = companion_truth_frame(arguments["patients"], arguments["centers"],
                                  arguments["seed"])
    truth["patient_id"] = [
        hashlib.sha256(f"{TEST_PSEUDONYM_KEY}|{center}|{key}".encode()).hexdigest()[:24]
        for center, key in zip(truth["center_id"], truth["patient_key"], strict=True)
    ]
    published = study_table(build, "analysis_cohort", COMPANION_STUDY)
    assert published["arm"].value_counts().to_dict() == {"ICI": 118, "non-ICI": 93}
    columns = [column for column in published.columns if column in truth.columns]
    assert {"is_ici", "pfs_months", "os_months", "is_objective_response",
            "has_liver_metastases"} <= set(columns)
    expected = truth[columns].sort_values("patient_id", ignore_index=True)
    actual = published[columns].sort_values("patient_id", ignore_index=True)
    for column in ("second_line_start_date", "pfs_end_date", "os_end_date"):
        if column in columns:
            actual[column] = pd.to_datetime(actual[column])
            expected[column] = pd.to_datetime(expected[column])
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-9, atol=1e-9)


def test_second_line_provenance_names_a_raw_second_line_row(build):
    """Each patient's provenance key points at a raw row of the export that
    holds second lines at its center (first administration at center B)."""
    exports = {"center_a": "treatment_lines", "center_b": "drug_administrations",
               "center_c": "lines"}
    published = build.frame("select patient_id, center_id, second_line_source_table, "
                            "second_line_source_file_name, is_second_line_source_split, "
                            "second_line_source_row_number from marts.analysis_cohort")
    assert (published["second_line_source_table"]
            == published["center_id"].map(exports)).all()
    # one file per export here: the file is the export's, and no key names it
    assert (published["second_line_source_file_name"]
            == published["center_id"].map(exports)).all()
    assert not published["is_second_line_source_split"].any()
    for center, table in exports.items():
        rows = published.loc[published["center_id"] == center, "second_line_source_row_number"]
        raw_rows = len((RAW_DIR / center / f"{table}.csv").read_text(
            encoding="utf-8").splitlines()) - 1
        assert rows.between(1, raw_rows).all() and rows.is_unique, center
    second_lines = build.frame(
        "select center_id, source_table, source_row_number from intermediate."
        "int_treatment_lines_unioned where line_number = 2")
    keys = set(second_lines.itertuples(index=False, name=None))
    assert set(published[["center_id", "second_line_source_table",
                          "second_line_source_row_number"]].itertuples(
        index=False, name=None)) <= keys


def test_descriptions_reach_the_warehouse_and_docs_generate(build, tmp_path):
    comments = dict(build.query(
        "select table_name, comment from duckdb_tables() where schema_name = 'marts'"))
    assert comments["analysis_cohort"] and "eligible patient" in comments["analysis_cohort"]
    column_comment = build.query(
        "select comment from duckdb_columns() where schema_name = 'marts' "
        "and table_name = 'analysis_cohort' and column_name = 'pfs_months'")[0][0]
    assert column_comment and "progression" in column_comment
    # the build's own parse and compiled nodes: only the catalog is new
    docs = run_dbt(["docs", "generate", "--no-compile"], build.warehouse.parent,
                   partial_parse=True)
    assert docs.returncode == 0, docs.output[-3000:]
    catalog = json.loads((build.warehouse.parent / "target" / "catalog.json").read_text())
    assert "model.rwe_warehouse.analysis_cohort" in catalog["nodes"]
    manifest = json.loads((build.warehouse.parent / "target" / "manifest.json").read_text())
    assert {"exposure.rwe_warehouse.study_report",
            "exposure.rwe_warehouse.bi_result_tables"} <= set(manifest["exposures"])


@pytest.fixture(scope="session")
def parquet_build(tmp_path_factory, manifest):
    """The same exports written as Parquet by the generator, built through
    the Parquet reader (raw_file_format: parquet), up to the published marts."""
    root = tmp_path_factory.mktemp("parquet")
    arguments = manifest["generator"]["args"]
    generated = subprocess.run(
        [sys.executable, "-m", "rwe_synth", "--patients", str(arguments["patients"]),
         "--centers", str(arguments["centers"]), "--seed", str(arguments["seed"]),
         "--format", "parquet", "--out", str(root / "raw")],
        capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stderr
    run = run_dbt(["build", "--select", "+analysis_cohort", "+adverse_events", "+quarantine",
                   "+row_accounting", "+run_inputs", "+line_derivation_agreement",
                   "--indirect-selection", "cautious"],
                  root / "work",
                  raw_data_dir=root / "raw", extra_vars={"raw_file_format": "parquet"})
    assert run.returncode == 0, run.output[-6000:]
    return run


@pytest.mark.parametrize("table", ["analysis_cohort", "adverse_events", "quarantine",
                                   "row_accounting", "line_derivation_agreement"])
def test_parquet_exports_publish_the_same_tables_as_csv(build, parquet_build, table):
    """A production loader may deliver Parquet: same rows, same values (only
    the file names in provenance columns differ)."""
    def published(run):
        frame = run.frame(f"select * from marts.{table}").drop(columns="built_at",
                                                                 errors="ignore")
        if "reason_description" in frame.columns:
            frame["reason_description"] = [
                text.replace(path, "<file>") for text, path
                in zip(frame["reason_description"], frame["source_file_name"], strict=True)]
        frame = frame.drop(columns="source_file_name", errors="ignore")
        return frame.sort_values(list(frame.columns), ignore_index=True)

    expected = published(build)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(published(parquet_build), expected)



@pytest.mark.parametrize("study_id", study_ids())
def test_readme_results_are_the_builds(build, study_id):
    """Each study's README table is exactly what rwe_report.results_table renders
    from the build's tables and the spec's published figures."""
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert text.count(start_marker(study_id)) == 1, f"README has no table for {study_id}"
    block = text[text.index(start_marker(study_id)) + len(start_marker(study_id)):
                 text.index(end_marker(study_id))]
    readme_rows = [line for line in block.splitlines() if line.startswith("|")]

    def query(sql, parameters):
        with duckdb.connect(str(build.warehouse), read_only=True) as connection:
            return connection.execute(sql, list(parameters)).df()

    assert readme_rows == results_rows(query, {"study_id": study_id,
                                               **built_spec(build, study_id)})


def test_a_null_in_one_column_fails_the_tables_not_null_columns_test(tmp_path):
    """One not_null_columns test (tests/dbt/generic) checks several columns of a
    table: a null in one of them fails the build, which names that column and
    its null-row count, never a value, on the console and in audit.run_log."""
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    seed = project / "seeds" / "terminology" / "terminology__drug_names.csv"
    lines = seed.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("generic_name")] = ""
    lines[1] = ",".join(row)
    seed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    warehouse = tmp_path / "warehouse.duckdb"
    completed = subprocess.run(
        [str(DBT), "build", "--select", "terminology__drug_names",
         "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
         "--vars", json.dumps({"raw_data_dir": str(RAW_DIR)})],
        cwd=project, env=dbt_env(warehouse), capture_output=True, text=True, timeout=900)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output[-4000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text(encoding="utf-8"))
    [test] = [result for result in results["results"]
              if result["unique_id"].startswith("test.rwe_warehouse.not_null_columns_"
                                                "terminology__drug_names_")]
    assert (test["status"], test["failures"]) == ("fail", 1), output[-4000:]
    named = "(columns with nulls: generic_name 1 row)"
    assert named in output
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(status, reason)] = connection.sql(
            "select status, failure_reason from audit.run_log").fetchall()
    assert status == "failed"
    assert f"{test['unique_id'].split('.')[2]}: Got 1 result" in reason
    assert named in reason

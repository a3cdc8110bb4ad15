"""A center may deliver one export table as several files (issue 19).

In a copy of the project, center B's drug administrations and center A's
treatment lines each arrive as two files (<export>_part1.csv,
<export>_part2.csv: the embedded export cut in two), and the mappings name
them with a glob. The build reads both, numbers rows per file (so row
numbers repeat across files and rows are told apart by file), checks and
counts each file on its own (row accounting balances per file) and
accounts for every row (row_accounting balances per file, and in total);
a broken second file stops the gate naming that file. The whole build runs,
the study included: a second line from a split export is keyed by its file
as well (analysis_cohort.second_line_source_file_name), so two files holding
second lines at one row number pass the uniqueness gate, and the study's
analysis records are those of the same data delivered as one file each.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dbt_harness import DBT, PROJECT_DIR, copy_project, dbt_env, run_dbt

MAPPING_A = Path("models/staging/center_a/_center_a__mapping.yml")
MAPPING_B = Path("models/staging/center_b/_center_b__mapping.yml")

def _split(raw: Path, center: str, export: str) -> tuple[int, int]:
    """Cut an export in two files (<export>_part1, _part2); returns their row counts."""
    path = raw / center / f"{export}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    half = len(rows) // 2
    for name, part in ((f"{export}_part1", rows[:half]), (f"{export}_part2", rows[half:])):
        with (raw / center / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(part)
    path.unlink()
    return half, len(rows) - half


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi_file_project")
    copy_project(root)
    shutil.copytree(PROJECT_DIR / "data" / "raw", root / "data" / "raw")
    shutil.copytree(PROJECT_DIR / "data" / "raw_truth", root / "data" / "raw_truth")
    counts = _split(root / "data" / "raw", "center_b", "drug_administrations")
    _split(root / "data" / "raw", "center_a", "treatment_lines")
    for mapping_file, kind, export in ((MAPPING_B, "drug_administrations", "drug_administrations"),
                                       (MAPPING_A, "line_records", "treatment_lines")):
        mapping = yaml.safe_load((root / mapping_file).read_text(encoding="utf-8"))
        table = next(table for table in mapping["sources"][0]["tables"] if table["name"] == kind)
        table["identifier"] = f"{export}_*"
        table["config"]["meta"]["export"] = export
        (root / mapping_file).write_text(
            yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root, counts


def _build(root: Path, name: str, whole: bool = False, dbt_vars: dict | None = None):
    """Build what reading and accounting the raw rows needs (staging, the
    intermediate layer, row_accounting, run_inputs) and their tests, or the
    whole project (``whole``: the study, its quality gate and statistics)."""
    warehouse = root / f"{name}" / "warehouse.duckdb"
    warehouse.parent.mkdir(exist_ok=True)
    selection = (["--exclude-resource-type", "unit_test"] if whole else
                 ["--select", "+assert_raw_rows_balance_per_file",
                  "+assert_row_accounting_balances", "resource_type:seed"])
    command = [str(DBT), "build", *selection,
               "--target-path", str(root / f"target_{name}"),
               "--log-path", str(root / f"logs_{name}")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    completed = subprocess.run(command, cwd=root, env=dbt_env(warehouse), capture_output=True,
                               text=True, timeout=900)
    return completed.returncode, completed.stdout + completed.stderr, warehouse


def _query(warehouse: Path, sql: str):
    import duckdb
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def test_a_table_in_two_files_is_read_checked_and_accounted_per_file(project):
    root, (first, second) = project
    returncode, output, warehouse = _build(root, "two_files")
    assert returncode == 0, output[-5000:]
    # each file is a declared export of its own, counted by its own reader
    files = _query(warehouse, """
        select inputs.file_path, inputs.record_count
        from audit.run_inputs as inputs
        where inputs.center_id = 'center_b' and inputs.source_table = 'drug_administrations'
        order by inputs.file_path""")
    assert files == [("center_b/drug_administrations_part1.csv", first),
                     ("center_b/drug_administrations_part2.csv", second)]
    # row numbers restart at 1 in every file
    numbers = _query(warehouse, """
        select regexp_extract(source_file_name, '[^/]+$'), min(source_row_number),
               max(source_row_number), count(*)
        from staging.stg_center_b__drug_administrations
        group by 1 order by 1""")
    assert numbers == [("drug_administrations_part1.csv", 1, first, first),
                       ("drug_administrations_part2.csv", 1, second, second)]
    # one table for the study: the rows of both files
    assert _query(warehouse, """
        select sum(row_count) from marts.row_accounting
        where center_id = 'center_b' and source_table = 'drug_administrations'""") \
        == [(first + second,)]
    # line records told apart by file: every row classified once, none lost
    assert _query(warehouse, """
        select sum(row_count) from marts.row_accounting
        where center_id = 'center_a' and source_table = 'treatment_lines'""") \
        == _query(warehouse, "select sum(record_count) from audit.run_inputs "
                             "where center_id = 'center_a' and source_table = 'treatment_lines'")
    # the balance test is the accounting's uniqueness proof (the model has no
    # unique test): a row accounted twice, in place of another, fails it
    import duckdb
    with duckdb.connect(str(warehouse)) as connection:
        changed = connection.execute("""
            update intermediate.int_raw_rows_accounted set source_row_number = 1
            where source_row_number = 2 and source_file_name like '%drug_administrations_part2%'
            """).fetchall()
    assert changed == [(1,)]
    completed = subprocess.run(
        [str(DBT), "test", "--select", "assert_raw_rows_balance_per_file",
         "--target-path", str(root / "target_two_files"),
         "--log-path", str(root / "logs_two_files")],
        cwd=root, env=dbt_env(warehouse), capture_output=True, text=True, timeout=900)
    assert completed.returncode != 0, completed.stdout[-3000:]
    assert "assert_raw_rows_balance_per_file" in completed.stdout


def test_a_broken_file_of_a_table_stops_the_gate_naming_that_file(project):
    root, _ = project
    broken = root / "data" / "raw" / "center_b" / "drug_administrations_part2.csv"
    original = broken.read_text(encoding="utf-8")
    lines = original.splitlines()
    header = lines[0].split(",")
    drop = header.index("dose_mg")
    broken.write_text("\n".join(",".join(field for index, field in enumerate(line.split(","))
                                         if index != drop) for line in lines) + "\n",
                      encoding="utf-8")
    try:
        returncode, output, _ = _build(root, "broken_file")
    finally:
        broken.write_text(original, encoding="utf-8")
    assert returncode != 0, output[-3000:]
    assert ("Raw export check failed for center 'center_b', table 'drug_administrations' (file "
            in output), output[-3000:]
    expected = "center_b/drug_administrations_part2.csv): missing required column(s) dose_mg"
    assert expected in output, \
        output[-3000:]


# the provenance columns that differ between the split and the one-file delivery
SPLIT_PROVENANCE = ("second_line_source_file_name", "is_second_line_source_split",
                    "second_line_source_row_number")


def test_a_table_in_two_files_runs_the_whole_study(project, tmp_path):
    root, _ = project
    returncode, output, warehouse = _build(root, "whole_study", whole=True)
    assert returncode == 0, output[-5000:]
    cohort = _query(warehouse, """
        select distinct center_id, second_line_source_file_name, is_second_line_source_split
        from marts.analysis_cohort""")
    # every record names its file; the mapping marks the split centers' exports
    assert set(cohort) == {
        ("center_a", "treatment_lines_part1", True),
        ("center_a", "treatment_lines_part2", True),
        ("center_b", "drug_administrations_part1", True),
        ("center_b", "drug_administrations_part2", True), ("center_c", "lines", False)}
    # the case the file in the key is for: second lines of two files at one row
    # number (center, table and row alone would repeat and stop the gate)
    assert _query(warehouse, """
        select count(*) from (
            select study_id, center_id, second_line_source_table, second_line_source_row_number
            from marts.analysis_cohort
            group by 1, 2, 3, 4 having count(*) > 1) as repeated""")[0][0] > 0
    # matching's tie-break key: the file joins it only for the split exports
    keys = [key for (key,) in _query(warehouse, "select tie_break_key from marts.ps_scores")]
    shapes = {(key.split(":")[0], key.split(":")[1], len(key.split(":"))) for key in keys}
    assert shapes == {("center_a", "treatment_lines", 4), ("center_b", "drug_administrations", 4),
                      ("center_c", "lines", 3)}
    # the study's analysis records are those of the one-file delivery
    one_file = run_dbt(["build", "--exclude-resource-type", "unit_test"], tmp_path / "one_file")
    assert one_file.returncode == 0, one_file.output[-5000:]
    columns = [name for (name,) in _query(warehouse, """
        select column_name from information_schema.columns
        where table_schema = 'marts' and table_name = 'analysis_cohort'
        order by ordinal_position""") if name not in SPLIT_PROVENANCE]
    listed = ", ".join(columns)
    split_rows = sorted(_query(warehouse, f"select {listed} from marts.analysis_cohort"), key=repr)
    one_file_rows = sorted(one_file.query(f"select {listed} from marts.analysis_cohort"), key=repr)
    assert len(split_rows) == len(one_file_rows) > 0
    assert split_rows == one_file_rows


def _as_parquet(csv_dir: Path, parquet_dir: Path) -> None:
    """Every CSV export of ``csv_dir`` as a Parquet file of text columns, as a
    production loader writes them; other files copied."""
    import duckdb

    shutil.copytree(csv_dir, parquet_dir, ignore=shutil.ignore_patterns("*.csv"))
    with duckdb.connect() as connection:
        for path in sorted(csv_dir.rglob("*.csv")):
            target = parquet_dir / path.relative_to(csv_dir).with_suffix(".parquet")
            connection.execute(f"copy (select * from read_csv('{path}', header = true, "
                               f"all_varchar = true)) to '{target}' (format parquet)")


def test_a_table_in_two_files_reads_the_same_as_csv_or_parquet(project, tmp_path):
    """The CSV reader numbers the rows of a glob's files in turn, the Parquet
    reader each file's rows itself: staging numbers them per file either way,
    and a row repeated in the second file at a smaller row number than its
    first copy is still the later copy (copies are ordered by file, then row)."""
    root, (first, _) = project
    csv_dir = tmp_path / "raw_csv"
    shutil.copytree(root / "data" / "raw", csv_dir)
    part1 = csv_dir / "center_b" / "drug_administrations_part1.csv"
    part2 = csv_dir / "center_b" / "drug_administrations_part2.csv"
    header, *rows = part1.read_text(encoding="utf-8").splitlines()
    header2, *rows2 = part2.read_text(encoding="utf-8").splitlines()
    # the last row of the first file again as the first row of the second
    part2.write_text("\n".join([header2, rows[-1], *rows2]) + "\n", encoding="utf-8")
    parquet_dir = tmp_path / "raw_parquet"
    _as_parquet(csv_dir, parquet_dir)

    staged = {}
    for reader, raw_dir in (("csv", csv_dir), ("parquet", parquet_dir)):
        returncode, output, warehouse = _build(
            root, f"split_{reader}", dbt_vars={"raw_data_dir": str(raw_dir),
                                               "raw_file_format": reader})
        assert returncode == 0, output[-5000:]
        staged[reader] = {table: sorted(_query(warehouse, f"""
            select regexp_extract(source_file_name, '([^/]+)[.][a-z]+$', 1) as file_stem,
                   * exclude (source_file_name)
            from staging.{table}"""), key=repr)
            for table in ("stg_center_b__drug_administrations", "stg_center_a__line_records")}
        # the repeated row is the second file's first row, quarantined as the copy
        assert _query(warehouse, """
            select regexp_extract(source_file_name, '[^/]+$'), source_row_number
            from staging.stg_center_b__drug_administrations
            where quarantine_reason = 'duplicate_row'
              and source_file_name like '%part2%'""") == [
            (f"drug_administrations_part2.{reader}", 1)]
        assert _query(warehouse, f"""
            select quarantine_reason from staging.stg_center_b__drug_administrations
            where source_file_name like '%part1%' and source_row_number = {first}""") == [(None,)]
    assert staged["csv"] == staged["parquet"]
    assert all(len(rows) > 0 for rows in staged["csv"].values())

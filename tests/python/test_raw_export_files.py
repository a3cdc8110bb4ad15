"""What the raw-export gate learns from the files themselves
(rwe_warehouse.raw_export_files), and the one-pass hash and record count of
run_inputs (rwe_warehouse.fingerprint.read_export). The gate's messages in a
real build are tested in test_bad_inputs.py."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rwe_warehouse.fingerprint import raw_input_fingerprints, read_export
from rwe_warehouse.raw_export_files import (
    Plugin,
    export_file_facts,
    unexpected_entries_problem,
)

HEADER_MAX_BYTES = 1000


@pytest.fixture
def raw(tmp_path):
    """raw_data_dir with center_a/lines.csv and the generator's manifest.json."""
    (tmp_path / "center_a").mkdir()
    (tmp_path / "center_a" / "lines.csv").write_bytes(b"record_no,sex\n1,F\n2,M\n")
    (tmp_path / "manifest.json").write_text("{}")
    return tmp_path


def facts(raw, file_path="center_a/lines.csv", header_max_bytes=HEADER_MAX_BYTES) -> dict:
    return export_file_facts(raw, file_path, header_max_bytes)


def write(raw, data: bytes, file_path="center_a/lines.csv"):
    (raw / file_path).write_bytes(data)


# ---- the first line

@pytest.mark.parametrize("data", [
    b"record_no,sex\n1,F\n",
    b"record_no,sex\r\n1,F\r\n",
    b"\xef\xbb\xbfrecord_no,sex\r\n1,F\r\n",
    b"record_no,sex",  # a header without a line end: header only
    b"record_no,sex\r",
], ids=["lf", "crlf", "bom-crlf", "no-line-end", "header-then-cr-at-the-end"])
def test_the_header_is_read_whatever_the_harmless_line_end(raw, data):
    write(raw, data)
    assert facts(raw) == {"problem": "", "header": ["record_no", "sex"]}


def test_a_quoted_header_name_may_hold_a_comma(raw):
    write(raw, b'record_no,"sex, as recorded"\n1,F\n')
    assert facts(raw)["header"] == ["record_no", "sex, as recorded"]


def test_carriage_returns_alone_are_refused_after_reading_the_first_line_only(raw):
    write(raw, b"record_no,sex\r1,F\r2,M\r")
    assert "carriage return alone" in facts(raw)["problem"]


def test_a_first_line_longer_than_the_limit_is_no_header(raw):
    write(raw, b"record_no," + b"x" * HEADER_MAX_BYTES + b"\n1,F\n")
    assert "longer than 1000 bytes" in facts(raw)["problem"]
    write(raw, b"x" * (HEADER_MAX_BYTES - 1) + b"\n1\n")  # just within
    assert facts(raw)["problem"] == ""


@pytest.mark.parametrize(("data", "problem"), [
    (b"\x1f\x8b\x08\x00rest", "gzip-compressed"),
    ("record_no,sex\n".encode("utf-16"), "UTF-16"),
    (b"record_no,s\xe9x\n1,F\n", "line 1 (the header) is not UTF-8"),
    (b'record_no,"sex\n1,F\n', "quote that is never closed"),
    (b"", "the export is empty"),
])
def test_unreadable_first_bytes_give_a_sentence_without_content(raw, data, problem):
    write(raw, data)
    assert problem in facts(raw)["problem"]


# ---- where the file is

def test_a_link_to_a_file_is_refused_without_reading_it(raw, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.csv"
    outside.write_text("record_no,sex\n1,F\n")
    (raw / "center_a" / "lines.csv").unlink()
    (raw / "center_a" / "lines.csv").symlink_to(outside)
    assert facts(raw) == {"problem": "the file is a symbolic link: the gate reads exports only "
                                     "from files inside raw_data_dir, never through a link; "
                                     "copy the file in"}
    (raw / "center_a" / "lines.csv").unlink()
    (raw / "center_a" / "lines.csv").symlink_to(raw / "manifest.json")  # inside raw_data_dir
    assert "symbolic link" in facts(raw)["problem"]


def test_a_linked_center_folder_is_refused(raw, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (raw / "center_a").rename(elsewhere / "center_a")
    (raw / "center_a").symlink_to(elsewhere / "center_a", target_is_directory=True)
    assert "the center's folder is a symbolic link" in facts(raw)["problem"]


@pytest.mark.parametrize(("make", "problem"), [
    (lambda path: path.unlink(), "the file does not exist"),
    (lambda path: (path.unlink(), path.mkdir()), "the file does not exist: the path is a folder"),
])
def test_a_missing_file_or_a_folder_is_named(raw, make, problem):
    make(raw / "center_a" / "lines.csv")
    assert facts(raw)["problem"] == problem


def test_a_path_leaving_raw_data_dir_is_refused(raw):
    assert "not <center>/<file>" in facts(raw, "../center_a/lines.csv")["problem"]


# ---- files no source declares

def test_only_declared_exports_may_lie_in_a_center_folder(raw):
    assert unexpected_entries_problem(raw, ["center_a/lines.csv"]) == ""
    (raw / "center_a" / "lines_batch2.csv").write_text("record_no,sex\n3,F\n")
    problem = unexpected_entries_problem(raw, ["center_a/lines.csv"])
    assert problem.startswith(f"center 'center_a' (folder {raw / 'center_a'}): the folder "
                              "holds 'lines_batch2.csv', which no source")


def test_a_folder_or_loose_export_at_the_top_is_named_other_files_are_not(raw):
    declared = ["center_a/lines.csv"]
    (raw / ".cache").mkdir()
    (raw / "README.txt").write_text("notes")
    assert unexpected_entries_problem(raw, declared) == ""
    (raw / "center_x").mkdir()
    assert "it holds 'center_x'" in unexpected_entries_problem(raw, declared)
    (raw / "center_x").rmdir()
    (raw / "lines.csv").write_text("record_no\n1\n")
    assert "it holds 'lines.csv'" in unexpected_entries_problem(raw, declared)


def test_a_strange_file_name_is_printed_escaped(raw):
    (raw / "center_a" / "new\nline.csv").write_text("x")
    assert '"new\\nline.csv"' in unexpected_entries_problem(raw, ["center_a/lines.csv"])


# ---- Parquet

def test_a_parquet_export_reports_its_column_types(raw):
    pq.write_table(pa.table({"record_no": pa.array(["1"]), "ecog": pa.array([1], pa.int64())}),
                   raw / "center_a" / "lines.parquet")
    assert facts(raw, "center_a/lines.parquet") == {
        "problem": "", "header": ["record_no", "ecog"], "types": ["string", "int64"]}
    write(raw, b"record_no,sex\n1,F\n", "center_a/lines.parquet")
    assert facts(raw, "center_a/lines.parquet") == {
        "problem": "the file is not a readable Parquet file"}


# ---- the DuckDB functions

def test_the_plugin_registers_both_functions_on_a_connection(raw):
    connection = duckdb.connect()
    Plugin.__new__(Plugin).configure_connection(connection)
    row = connection.execute(
        "select rwe_raw_export_unexpected(?, ?), rwe_raw_export_file(?, ?, ?)",
        [str(raw), json.dumps(["center_a/lines.csv"]), str(raw), "center_a/lines.csv",
         HEADER_MAX_BYTES]).fetchone()
    assert row[0] == ""
    assert json.loads(row[1]) == {"problem": "", "header": ["record_no", "sex"]}


# ---- run_inputs: hash and records in one pass

@pytest.mark.parametrize(("data", "records"), [
    (b"a,b\n1,2\n3,4\n", 2),
    (b"a,b\r\n1,2\r\n3,4", 2),  # CRLF, no line end after the last record
    (b"\xef\xbb\xbfa,b\n1,2\n", 1),
    (b'a,b\n1,"two\nlines"\n3,"a ""quoted"", comma"\n', 2),  # records, not lines
    (b"a,b\n1,2\n\n3,4\n\n", 2),  # blank lines are no record (DuckDB skips them)
    (b"a,b\n", 0),
    (b"a,b\n1," + b"x" * 500_000 + b"\n", 1),  # a field beyond the csv module's default limit
])
def test_read_export_counts_csv_records_and_hashes_the_bytes(tmp_path, data, records):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    assert read_export(path) == {"file_bytes": len(data),
                                 "file_sha256": hashlib.sha256(data).hexdigest(),
                                 "record_count": records}


def test_read_export_counts_parquet_rows_from_the_footer(tmp_path):
    path = tmp_path / "export.parquet"
    pq.write_table(pa.table({"a": pa.array([str(n) for n in range(1234)])}), path,
                   row_group_size=500)
    data = path.read_bytes()
    assert read_export(path) == {"file_bytes": len(data),
                                 "file_sha256": hashlib.sha256(data).hexdigest(),
                                 "record_count": 1234}


def test_run_inputs_fingerprints_the_declared_exports_only(raw):
    exports = pd.DataFrame([{"center_id": "center_a", "source_table": "lines",
                             "file_path": "center_a/lines.csv"}])
    before = raw_input_fingerprints(raw, exports)
    (raw / "center_a" / "lines_batch2.csv").write_text("record_no,sex\n3,F\n")
    after = raw_input_fingerprints(raw, exports)
    assert list(after["file_path"]) == ["center_a/lines.csv"]
    assert list(after["record_count"]) == [2]
    assert after["input_fingerprint"].iloc[0] == before["input_fingerprint"].iloc[0]
    write(raw, b"record_no,sex\n1,F\n")
    assert raw_input_fingerprints(raw, exports)["input_fingerprint"].iloc[0] != (
        before["input_fingerprint"].iloc[0])

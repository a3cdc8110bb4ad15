"""rwe_study.inputs: the one reader of the Python models' inputs.

What ``dbt.ref`` returns differs by adapter: a DuckDB relation (real here), a
pyspark DataFrame (pyspark is not installed: a fake with Spark's two methods,
``select`` and ``toPandas``, and Spark's reading of a name in ``select``), or a
pandas frame. Each must come back as pandas with only the named columns,
projected in the engine before anything is converted.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from rwe_study import diagnostics, tables
from rwe_study import inputs as inputs_module
from rwe_study.inputs import (
    read_batches,
    read_columns,
    read_compact_columns,
    read_every_column,
    repeated_keys,
)
from rwe_study.studies import (
    STUDY_COLUMN,
    WEIGHT_COLUMNS,
    file_parameters,
    read_cohorts,
    spec_from_file,
    study_rows,
    study_table,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
#: A value that must never appear in an error message.
SECRET = "PATIENT-SECRET-4711"
FRAME = pd.DataFrame({
    "patient_id": [SECRET, "p2", "p3"],
    "pfs_months": [1.5, 2.25, 7.0],
    "weight (kg)": [60.0, 71.5, 80.25],
    "arm.label": ["ICI", "non-ICI", "ICI"],
    "is_ici": [True, False, True],
})


class WholeTableConverted(AssertionError):
    pass


class RecordingRelation:
    """A real DuckDB relation that fails if converted before a projection."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self.relation = relation
        self.projections: list[str] = []
        self.filters: list[str] = []

    @property
    def columns(self) -> list[str]:
        return self.relation.columns

    def project(self, expressions: str) -> duckdb.DuckDBPyRelation:
        self.projections.append(expressions)
        return self.relation.project(expressions)

    def filter(self, condition: str) -> RecordingRelation:
        """The filtered relation, recording into the same lists."""
        self.filters.append(condition)
        filtered = RecordingRelation(self.relation.filter(condition))
        filtered.projections, filtered.filters = self.projections, self.filters
        return filtered

    @property
    def types(self) -> list:
        return self.relation.types

    def df(self) -> pd.DataFrame:
        raise WholeTableConverted("the whole relation was converted to pandas")

    def to_arrow_reader(self, *args):
        raise WholeTableConverted("the whole relation was converted to Arrow")


class FakeSparkFrame:
    """What dbt-spark's ``dbt.ref`` returns, as far as the reader uses it.

    ``select`` reads each name as Spark does: a backtick-quoted name is the
    column of that name; a bare one is an expression, where ``a.b`` is field
    ``b`` of a struct ``a`` (so a column named ``a.b`` must be quoted).
    ``toPandas`` of the unprojected frame fails the test.
    """

    def __init__(self, frame: pd.DataFrame, projected: bool = False) -> None:
        self.frame = frame
        self.projected = projected
        self.selects: list[tuple[str, ...]] = []

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def select(self, *names: str) -> FakeSparkFrame:
        self.selects.append(names)
        resolved = []
        for name in names:
            if name.startswith("`") and name.endswith("`"):
                resolved.append(name[1:-1].replace("``", "`"))
            elif "." in name or name not in self.frame.columns:
                raise LookupError(f"cannot resolve {name!r}")  # Spark's AnalysisException
            else:
                resolved.append(name)
        return FakeSparkFrame(self.frame[resolved], projected=True)

    def filter(self, condition: str) -> FakeSparkFrame:
        """Spark's filter on a SQL condition, here only `column` = 'value'."""
        column, value = condition.split(" = ")
        assert column.startswith("`") and value.startswith("'"), condition
        column, value = column[1:-1].replace("``", "`"), value[1:-1]
        return FakeSparkFrame(self.frame.loc[self.frame[column] == value].reset_index(drop=True),
                              projected=self.projected)

    def toPandas(self) -> pd.DataFrame:  # noqa: N802 (pyspark's name)
        if not self.projected:
            raise WholeTableConverted("the whole Spark DataFrame was collected")
        return self.frame.copy()


@pytest.fixture
def connection():
    with duckdb.connect() as con:
        con.register("frame", FRAME)
        con.execute("create table cohort as select * from frame")
        yield con


def duckdb_table(con) -> RecordingRelation:
    return RecordingRelation(con.table("cohort"))


WANTED = ["arm.label", "weight (kg)", "pfs_months"]


def test_duckdb_relation_is_projected_in_duckdb_then_converted(connection):
    relation = duckdb_table(connection)
    frame = read_columns("km_estimates", "analysis_cohort", relation, WANTED)
    assert len(relation.projections) == 1
    pd.testing.assert_frame_equal(frame, FRAME[WANTED])


def test_pandas_frame_gives_the_columns_in_order_without_touching_the_input():
    table = FRAME.copy()
    frame = read_columns("km_estimates", "analysis_cohort", table, WANTED)
    pd.testing.assert_frame_equal(frame, FRAME[WANTED])
    frame.loc[0, "pfs_months"] = -1.0
    pd.testing.assert_frame_equal(table, FRAME)


def test_spark_frame_is_selected_in_spark_then_collected():
    table = FakeSparkFrame(FRAME)
    frame = read_columns("km_estimates", "analysis_cohort", table, WANTED)
    assert len(table.selects) == 1
    pd.testing.assert_frame_equal(frame, FRAME[WANTED])


@pytest.mark.parametrize("kind", ["duckdb", "pandas", "spark"])
def test_a_column_asked_for_twice_comes_once(connection, kind):
    table = {"duckdb": lambda: duckdb_table(connection), "pandas": FRAME.copy,
             "spark": lambda: FakeSparkFrame(FRAME)}[kind]()
    frame = read_columns("m", "t", table, ["is_ici", "patient_id", "is_ici"])
    assert list(frame.columns) == ["is_ici", "patient_id"]
    assert frame["patient_id"].tolist() == FRAME["patient_id"].tolist()


@pytest.mark.parametrize("kind", ["duckdb", "pandas", "spark"])
def test_a_missing_column_names_model_table_and_columns_never_values(connection, kind):
    table = {"duckdb": lambda: duckdb_table(connection), "pandas": FRAME.copy,
             "spark": lambda: FakeSparkFrame(FRAME)}[kind]()
    with pytest.raises(ValueError) as raised:
        read_columns("subgroup_hr", "analysis_cohort", table,
                     ["patient_id", "ecog_ps", "pfs_months", "is_smoker"])
    message = str(raised.value)
    for name in ("subgroup_hr", "analysis_cohort", "ecog_ps", "is_smoker"):
        assert name in message
    assert SECRET not in message
    for value in ("p2", "1.5", "71.5", "non-ICI"):
        assert value not in message


@pytest.mark.parametrize("kind", ["duckdb", "pandas", "spark"])
def test_every_column_reads_the_whole_table(connection, kind):
    table = {"duckdb": lambda: RecordingRelation(connection.table("cohort")),
             "pandas": FRAME.copy, "spark": lambda: FakeSparkFrame(FRAME)}[kind]()
    pd.testing.assert_frame_equal(read_every_column("dq_results", "analysis_cohort", table),
                                  FRAME)


def _gappy_frame() -> pd.DataFrame:
    """Seven rows; the integer and flag columns have their only gap in the last row."""
    return pd.DataFrame({
        "patient_id": [SECRET, "p2", "p3", "p4", "p2", "p6", "p7"],
        "center_id": ["a", "a", "b", "b", "a", None, None],
        "ecog_ps": pd.array([0, 1, 2, 3, 1, 4, None], dtype="Int32"),
        "is_ici": pd.array([True, False, True, False, False, True, None], dtype="boolean"),
        "pfs_months": [1.5, 2.25, 7.0, 0.5, 2.25, 3.0, 4.0],
    })


@pytest.mark.parametrize("kind", ["duckdb", "pandas", "spark"])
def test_batches_are_the_table_in_order_with_the_whole_columns_dtypes(kind):
    frame = _gappy_frame()
    with duckdb.connect() as con:
        con.register("frame", frame)
        con.execute("create table cohort as select * from frame")
        table = {"duckdb": lambda: RecordingRelation(con.table("cohort")),
                 "pandas": frame.copy, "spark": lambda: FakeSparkFrame(frame)}[kind]()
        wanted = ["is_ici", "patient_id", "ecog_ps", "pfs_months"]
        batches = list(read_batches("dq_results", "analysis_cohort", table, wanted, 3))
        whole = read_columns("dq_results", "analysis_cohort", table, wanted)
    assert [len(batch) for batch in batches] == ([3, 3, 1] if kind != "spark" else [7])
    # the first two batches hold no gap, yet keep the nullable dtypes the whole read has
    for batch in batches:
        assert batch.dtypes.to_dict() == whole.dtypes.to_dict()
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)


@pytest.mark.parametrize("kind", ["duckdb", "pandas"])
def test_an_empty_table_is_one_empty_batch(kind):
    frame = _gappy_frame().iloc[0:0]
    with duckdb.connect() as con:
        con.register("frame", frame)
        table = con.sql("select * from frame") if kind == "duckdb" else frame
        [batch] = read_batches("dq_results", "analysis_cohort", table, ["patient_id"], 3)
    assert list(batch.columns) == ["patient_id"] and batch.empty


@pytest.mark.parametrize("kind", ["duckdb", "pandas"])
def test_repeated_keys_are_the_keys_of_more_than_one_row(kind):
    frame = _gappy_frame()
    with duckdb.connect() as con:
        con.register("frame", frame)
        con.execute("create table cohort as select * from frame")
        table = con.table("cohort") if kind == "duckdb" else frame
        keys = repeated_keys("dq_results", "analysis_cohort", table, ["patient_id", "center_id"])
        missing_grouped = repeated_keys("dq_results", "analysis_cohort", table, ["center_id"])
    assert keys.astype(object).to_dict("records") == [{"patient_id": "p2", "center_id": "a"}]
    # two rows without a center share the missing key, as pandas' duplicated reads them
    assert {None if pd.isna(value) else value
            for value in missing_grouped["center_id"]} == {"a", "b", None}
    assert len(missing_grouped) == 3


def test_no_column_asked_for_is_an_error():
    with pytest.raises(ValueError, match="ps_scores asks for no column of analysis_cohort"):
        read_columns("ps_scores", "analysis_cohort", FRAME, [])


def test_an_unknown_kind_of_table_names_model_table_and_type():
    with pytest.raises(TypeError, match=r"ps_scores cannot read analysis_cohort: .* a list"):
        read_columns("ps_scores", "analysis_cohort", [FRAME], ["patient_id"])


MODELS = sorted((PROJECT_DIR / "python_models").rglob("*.py"))


@pytest.mark.parametrize("path", MODELS, ids=lambda path: path.stem)
def test_no_python_model_converts_a_table_itself(path):
    """Every model's inputs go through rwe_study.inputs, so every adapter's
    tables reach it the same way, each model only the columns it uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    converts = [node.func.attr for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("df", "toPandas", "to_pandas", "select", "project",
                                       "fetchdf", "arrow")]
    assert not converts, f"{path.name} converts a table itself: {converts}"


# --------------------------------------------------------------------------- read_cohorts

STUDIES = ("ici_continuation_second_line", "zhang2025_second_line_ici")


def spec_table() -> pd.DataFrame:
    return pd.DataFrame({STUDY_COLUMN: list(STUDIES),
                         "spec_json": [json.dumps(spec_from_file(PROJECT_DIR, study_id))
                                       for study_id in STUDIES]})


def wide_table(columns: list[str], rows: int = 4) -> pd.DataFrame:
    """A table with ``columns`` and two more that no model reads, one row per study and more."""
    frame = pd.DataFrame({column: [f"{column}-{row}" for row in range(rows)]
                          for column in columns})
    frame[STUDY_COLUMN] = [STUDIES[row % 2] for row in range(rows)]
    return frame.assign(never_read_1=1.0, never_read_2="x")


def union_of_reads(columns_read, table: str, *source: str) -> list[str]:
    columns = [STUDY_COLUMN]
    for study_id in STUDIES:
        columns.extend(columns_read(table, file_parameters(PROJECT_DIR, study_id), *source))
    return list(dict.fromkeys(columns))


@pytest.mark.parametrize(("columns_read", "table"), [
    (tables.columns_read, "cox_results"), (tables.columns_read, "subgroup_hr"),
    (diagnostics.columns_read, "weighting_estimates"), (diagnostics.columns_read, "evalues"),
])
def test_read_cohorts_projects_each_cohort_to_what_any_study_reads(columns_read, table):
    cohort_columns = union_of_reads(columns_read, table)
    matched_columns = union_of_reads(columns_read, table, "matched_cohort")
    with duckdb.connect() as con:
        for name, columns in (("cohort", cohort_columns), ("matched", matched_columns),
                              ("weights", list(WEIGHT_COLUMNS))):
            frame = wide_table(columns)  # noqa: F841 (read by DuckDB's replacement scan)
            con.execute(f"create table {name} as select * from frame")
        relations = {name: RecordingRelation(con.table(name))
                     for name in ("cohort", "matched", "weights")}
        inputs = read_cohorts("weighting_estimates", spec_table(), columns_read, table,
                              **relations)
        assert sorted(inputs.params) == sorted(STUDIES)
        assert all(not relation.projections for relation in relations.values())  # nothing yet
        for study_id in STUDIES:
            # one study's rows, read when the model comes to that study
            read = {name: study_rows(getattr(inputs, name), study_id)
                    for name in ("cohort", "matched", "weights")}
            for name, columns in (("cohort", cohort_columns), ("matched", matched_columns),
                                  ("weights", list(WEIGHT_COLUMNS))):
                expected = wide_table(columns)
                expected = expected.loc[expected[STUDY_COLUMN] == study_id, columns].drop(
                    columns=STUDY_COLUMN).reset_index(drop=True)
                pd.testing.assert_frame_equal(read[name], first_seen_categories(expected))
    # filtered and projected in the engine (numbers and text apart), per table and study
    for relation, columns in zip(relations.values(),
                                 (cohort_columns, matched_columns, WEIGHT_COLUMNS), strict=True):
        assert relation.filters == [f"\"{STUDY_COLUMN}\" = '{study_id}'" for study_id in STUDIES]
        assert 2 <= len(relation.projections) <= 4
        named = {name.strip().strip('"') for projection in relation.projections
                 for name in projection.split(",")}
        assert named <= set(columns) - {STUDY_COLUMN}


def first_seen_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Each text column but ``patient_id`` as a categorical of its values in order of first
    appearance (what read_compact_columns returns), built independently of it."""
    def encoded(values: pd.Series) -> pd.Series:
        if values.name == "patient_id" or values.dtype != object or values.isna().all():
            return values  # a column without any text value is not encoded
        return pd.Series(pd.Categorical(values, categories=pd.unique(values.dropna())),
                         name=values.name)

    return frame.apply(encoded)


def text_table(rows: int) -> pd.DataFrame:
    """Text with repeats and missing values, numbers, flags, an all-missing text column."""
    return pd.DataFrame({
        "patient_id": [f"p{row:05d}" for row in range(rows)],
        "arm": [None if row % 7 == 3 else ("non-ICI", "ICI")[(row // 3) % 2]
                for row in range(rows)],
        "center_id": [f"center_{'cba'[(row * 5 // rows) % 3]}" for row in range(rows)],
        "age_years": [40 + row % 50 for row in range(rows)],
        "is_ici": [row % 2 == 0 for row in range(rows)],
        "pfs_months": [row / 7 for row in range(rows)],
        "nothing": [None] * rows,
    })


@pytest.mark.parametrize("batch_rows", [3, 1000])
def test_read_compact_columns_encodes_text_in_order_of_first_appearance(monkeypatch, batch_rows):
    """Across Arrow batches (3 rows each, or one batch) the categories are the values in order
    of first appearance, missing stays missing, and every other column is as read_columns
    reads it; a table without any text value keeps its column as read_columns gives it."""
    monkeypatch.setattr(inputs_module, "ENCODE_BATCH_ROWS", batch_rows)
    frame = text_table(40)  # noqa: F841 (read by DuckDB's replacement scan)
    columns = ["arm", "patient_id", "age_years", "center_id", "is_ici", "pfs_months", "nothing"]
    with duckdb.connect() as con:
        con.execute("create table cohort as select * exclude (nothing), "
                    "cast(nothing as varchar) as nothing from frame")
        compact = read_compact_columns("m", "analysis_cohort", con.table("cohort"), columns)
        plain = read_columns("m", "analysis_cohort", con.table("cohort"), columns)
    assert isinstance(compact["arm"].dtype, pd.CategoricalDtype)
    assert compact["patient_id"].dtype == object
    pd.testing.assert_frame_equal(compact, first_seen_categories(plain))
    # the same frame from pandas (tests, and Spark after toPandas)
    pd.testing.assert_frame_equal(read_compact_columns("m", "analysis_cohort", plain, columns),
                                  compact)



def test_read_compact_columns_encodes_patient_ids_only_when_asked(monkeypatch):
    """encode_patients: patient_id comes as a categorical too (in order of first appearance,
    across batches), from DuckDB and from pandas alike."""
    monkeypatch.setattr(inputs_module, "ENCODE_BATCH_ROWS", 3)
    frame = text_table(40)[["patient_id", "arm", "age_years"]]
    frame["patient_id"] = [f"p{(row * 3) % 11}" for row in range(40)]  # repeats, not sorted
    columns = ["arm", "patient_id", "age_years"]
    with duckdb.connect() as con:
        con.execute("create table events as select * from frame")
        compact = read_compact_columns("m", "adverse_events", con.table("events"), columns,
                                       encode_patients=True)
        plain = read_columns("m", "adverse_events", con.table("events"), columns)
    patients = plain["patient_id"]
    expected = first_seen_categories(plain).assign(
        patient_id=pd.Categorical(patients, categories=pd.unique(patients)))
    pd.testing.assert_frame_equal(compact, expected)
    pd.testing.assert_frame_equal(read_compact_columns("m", "adverse_events", plain, columns,
                                                       encode_patients=True), compact)
    assert read_compact_columns("m", "adverse_events", plain, columns)["patient_id"].dtype == object

def test_study_rows_keeps_only_a_studys_own_categories_in_their_order():
    frame = pd.DataFrame({STUDY_COLUMN: ["s1", "s2", "s2", "s1", "s2"],
                          "arm": ["a", "b", "c", None, "b"]})
    compact = read_compact_columns("m", "t", frame, [STUDY_COLUMN, "arm"])
    rows = study_rows(compact, "s2")
    assert list(rows.columns) == ["arm"]
    assert list(rows["arm"].cat.categories) == ["b", "c"]
    assert rows["arm"].tolist() == ["b", "c", "b"]
    assert study_rows(compact, "s1")["arm"].isna().tolist() == [False, True]


def test_read_cohorts_reads_only_the_tables_it_is_given():
    columns = union_of_reads(tables.columns_read, "km_estimates")
    spark = FakeSparkFrame(wide_table(columns))
    inputs = read_cohorts("km_estimates", spec_table(), tables.columns_read, "km_estimates",
                          cohort=spark)
    assert inputs.matched is None and inputs.weights is None
    rows = study_rows(inputs.cohort, STUDIES[1])
    assert list(rows.columns) == columns[1:]  # without study_id, from a Spark frame too
    assert len(rows) == 2  # (the fake collects a frame only once it is projected)


def test_a_study_is_read_alone_and_only_a_plain_study_id_filters():
    """study_rows of a study table reads one study's rows from DuckDB, Spark or pandas
    alike; a study id that is not a plain word never reaches the engine's filter."""
    columns = union_of_reads(tables.columns_read, "km_estimates")
    frame = wide_table(columns, rows=6)
    with duckdb.connect() as con:
        con.execute("create table cohort as select * from frame")
        read = [study_rows(read_cohorts("km_estimates", spec_table(), tables.columns_read,
                                        "km_estimates", cohort=table).cohort, STUDIES[0])
                for table in (con.table("cohort"), FakeSparkFrame(frame), frame)]
        with pytest.raises(ValueError, match="not a plain word"):
            study_rows(read_cohorts("km_estimates", spec_table(), tables.columns_read,
                                    "km_estimates", cohort=con.table("cohort")).cohort,
                       "x' or '1' = '1")
    expected = first_seen_categories(frame.loc[frame[STUDY_COLUMN] == STUDIES[0], columns].drop(
        columns=STUDY_COLUMN).reset_index(drop=True))
    for rows in read:
        pd.testing.assert_frame_equal(rows, expected)


def test_a_study_table_read_plainly_gives_one_studys_text_as_strings():
    """study_table(..., read=read_columns), for a model that writes text back (matched_pairs,
    ps_weights): one study's rows from DuckDB, Spark or pandas, the text as str objects,
    the same rows as the whole table read and split."""
    frame = wide_table(["patient_id", "tie_break_key"], rows=6).assign(logit_ps=0.5)
    columns = ["patient_id", "logit_ps", "tie_break_key"]
    expected = frame.loc[frame[STUDY_COLUMN] == STUDIES[1], columns].reset_index(drop=True)
    with duckdb.connect() as con:
        con.execute("create table scores as select * from frame")
        for table in (con.table("scores"), FakeSparkFrame(frame), frame):
            rows = study_rows(study_table("matched_pairs", "ps_scores", table, columns,
                                          read=read_columns), STUDIES[1])
            pd.testing.assert_frame_equal(rows, expected)
            assert rows["tie_break_key"].dtype == object
        # the default read encodes text: the estimators' frames
        compact = study_rows(study_table("m", "ps_scores", con.table("scores"), columns),
                             STUDIES[1])
        assert isinstance(compact["tie_break_key"].dtype, pd.CategoricalDtype)


def test_a_study_table_checks_its_columns_when_made():
    frame = wide_table(["patient_id"]).assign(patient_id=SECRET)
    with pytest.raises(ValueError) as raised:
        study_table("ps_weights", "ps_scores", frame, ["patient_id", "propensity_score"],
                    read=read_columns)
    message = str(raised.value)
    assert "ps_weights" in message and "ps_scores" in message and "propensity_score" in message
    assert SECRET not in message


def test_read_cohorts_names_the_model_and_the_table_that_lacks_a_column():
    columns = union_of_reads(tables.columns_read, "km_estimates", "matched_cohort")
    matched = wide_table(columns).drop(columns="arm").assign(patient_id=SECRET)
    with pytest.raises(ValueError) as raised:
        read_cohorts("km_estimates", spec_table(), tables.columns_read, "km_estimates",
                     matched=matched)
    message = str(raised.value)
    assert "km_estimates" in message and "matched_cohort" in message and "arm" in message
    assert SECRET not in message


#: read_cohorts' keyword per table: a model must hand each its own table
COHORT_KEYWORDS = {"cohort": "analysis_cohort", "matched": "matched_cohort",
                   "weights": "ps_weights"}
READERS = [path for path in MODELS if "read_cohorts(" in path.read_text(encoding="utf-8")]


def test_the_statistics_models_read_their_cohorts_through_read_cohorts():
    assert len(READERS) >= 15


@pytest.mark.parametrize("path", READERS, ids=lambda path: path.stem)
def test_a_model_hands_read_cohorts_literal_refs_of_the_right_tables(path):
    """dbt orders a Python model after the tables of the literal ``dbt.ref`` calls in its own
    file: each table read_cohorts reads must be a ``dbt.ref`` of that table, written there."""
    calls = [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "read_cohorts"]
    assert len(calls) == 1
    arguments = {keyword.arg: keyword.value for keyword in calls[0].keywords}
    arguments["specs"] = calls[0].args[1]
    expected = {**COHORT_KEYWORDS, "specs": "study_specs"}
    for keyword, value in arguments.items():
        assert ast.unparse(value) == f"dbt.ref('{expected[keyword]}')", (path.name, keyword)

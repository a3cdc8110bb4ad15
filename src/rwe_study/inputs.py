"""The one way a Python model reads a table: what ``dbt.ref(...)`` returns, as pandas.

``dbt.ref`` hands a Python model a different object on each adapter: a DuckDB
relation on dbt-duckdb, a pyspark DataFrame on dbt-spark and dbt-databricks
(a pandas DataFrame in tests). :func:`read_columns` takes any of them, keeps
only the columns the model uses *in the engine* (a projection, before any row
crosses into Python: converting a whole cohort costs more memory and time
than some tables' estimates) and returns a pandas DataFrame. The engines are
told apart by what they can do, not by importing them: pyspark need not be
installed where DuckDB runs, nor duckdb where Spark does. A model that can
work on a batch of rows at a time (the quality gate) reads with
:func:`read_batches` instead, and asks the engine which keys repeat with
:func:`repeated_keys`, so a DuckDB table need not be whole in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd


def read_columns(model: str, table_name: str, table: Any, columns: Iterable[str]) -> pd.DataFrame:
    """``columns`` of ``table`` (in that order, each once) as a pandas DataFrame.

    Parameters
    ----------
    model : str
        The reading model's name (``dbt.this.identifier``), for the error.
    table_name : str
        The name ``table`` was read by (``dbt.ref(table_name)``), for the error.
    table : duckdb.DuckDBPyRelation, pyspark.sql.DataFrame or pandas.DataFrame
        What ``dbt.ref(table_name)`` returned.
    columns : iterable of str
        The columns the model uses.

    Raises
    ------
    ValueError
        When ``table`` lacks any of ``columns``: the message names the model,
        the table and every missing column (never a value), or when no column
        is asked for.
    TypeError
        When ``table`` is none of the three kinds.
    """
    wanted = checked_columns(model, table_name, table, columns)
    if isinstance(table, pd.DataFrame):
        return table.loc[:, wanted].reset_index(drop=True)
    if _is_spark(table):
        return table.select(*[_quoted(column, "`") for column in wanted]).toPandas()
    return table.project(", ".join(_quoted(column, '"') for column in wanted)).df()


def rows_where(model: str, table_name: str, table: Any, column: str, value: str) -> Any:
    """The rows of ``table`` whose ``column`` equals the text ``value``, filtered in the engine.

    The same kind of table back (a DuckDB relation, a Spark DataFrame, a
    pandas DataFrame), so a model reads one part of a table (one study's
    rows) with :func:`read_columns` or :func:`read_compact_columns` and
    never holds the rest. ``value`` is a plain word (letters, digits, ``_``:
    a study id): it is written into the engine's filter.
    """
    checked_columns(model, table_name, table, [column])
    if not value or not value.replace("_", "").isalnum() or not value.isascii():
        raise ValueError(f"{model} filters {table_name} on {column} with a value that is not "
                         "a plain word (letters, digits, _)")
    if isinstance(table, pd.DataFrame):
        return table.loc[(table[column] == value).to_numpy()].reset_index(drop=True)
    quote = "`" if _is_spark(table) else '"'
    return table.filter(f"{_quoted(column, quote)} = '{value}'")


#: the one string column :func:`read_compact_columns` leaves as strings (unless asked with
#: ``encode_patients``): a million distinct patient ids encode to nothing smaller, and
#: estimators index by them
PATIENT_COLUMN = "patient_id"
#: rows per Arrow batch while encoding strings: the strings of one batch are in memory at a time
ENCODE_BATCH_ROWS = 131_072


def read_compact_columns(model: str, table_name: str, table: Any, columns: Iterable[str], *,
                         encode_patients: bool = False) -> pd.DataFrame:
    """:func:`read_columns`, with every text column but ``patient_id`` as a categorical.

    The categories are the column's values in order of first appearance
    (a missing value stays missing, code -1): exactly what the estimators'
    tie-break ordering (:func:`rwe_study.tables._canonical`) makes of a
    column of strings, so the tables are the same. On DuckDB the strings are
    encoded batch by batch from Arrow and never become one Python object per
    row: a cohort's study, center, export, arm and pair columns as objects
    were most of a statistics model's memory. Only for frames that reach the
    estimators through that ordering (the cohorts, ``ps_weights``); a model
    that writes a text column back must not read it so (it would be stored as
    an enumeration).

    ``encode_patients`` encodes ``patient_id`` too: for a table with several
    rows per patient whose estimator only matches and counts patients
    (``adverse_events``), so each distinct id is one string, not one per row.
    """
    wanted = list(dict.fromkeys(columns))
    kept_text = () if encode_patients else (PATIENT_COLUMN,)
    frame_or_none = _duckdb_compact(model, table_name, table, wanted, kept_text)
    if frame_or_none is not None:
        return frame_or_none
    frame = read_columns(model, table_name, table, wanted)
    return pd.DataFrame({column: frame[column] if column in kept_text
                         else _encoded(frame[column]) for column in wanted}, columns=wanted)


def _encoded(values: pd.Series) -> pd.Series:
    """A column of strings as a categorical in order of first appearance; others as they are."""
    if values.dtype != object:
        return values
    codes, strings = pd.factorize(values)  # categories as they come: no sort
    if pd.api.types.infer_dtype(strings, skipna=False) != "string":
        return values
    return pd.Series(pd.Categorical.from_codes(codes, categories=strings), name=values.name)


def _duckdb_compact(model: str, table_name: str, table: Any, wanted: list[str],
                    kept_text: tuple[str, ...]) -> pd.DataFrame | None:
    """The DuckDB path of :func:`read_compact_columns` (None for any other kind of table)."""
    if isinstance(table, pd.DataFrame) or _is_spark(table) or not hasattr(table, "types"):
        return None
    wanted = checked_columns(model, table_name, table, wanted)
    types = dict(zip(table.columns, (str(kind) for kind in table.types), strict=True))
    text = [column for column in wanted if types[column] == "VARCHAR" and column not in kept_text]
    rest = [column for column in wanted if column not in text]
    frame = read_columns(model, table_name, table, rest) if rest else None
    encoded = _encoded_strings(table.project(", ".join(_quoted(column, '"') for column in text)),
                               text) if text else {}
    rows = len(frame) if frame is not None else len(next(iter(encoded.values()))[0])
    columns = {}
    for column in wanted:
        if column in encoded:
            codes, strings = encoded[column]
            if len(codes) != rows:
                raise ValueError(f"{model} read {table_name} twice and got different row counts")
            columns[column] = (pd.Categorical.from_codes(codes, categories=pd.Index(
                strings, dtype=object)) if strings else _as_read(model, table_name, table, column))
        else:
            columns[column] = frame[column]
    return pd.DataFrame(columns, columns=wanted)


def _as_read(model: str, table_name: str, table: Any, column: str) -> pd.Series:
    """A text column with no value at all, as :func:`read_columns` gives it."""
    return read_columns(model, table_name, table, [column])[column]


def _encoded_strings(relation: Any, columns: list[str]) -> dict[str, tuple[np.ndarray, list]]:
    """Each column's codes (-1 for missing) and values in order of first appearance."""
    reader = (relation.to_arrow_reader(ENCODE_BATCH_ROWS) if hasattr(relation, "to_arrow_reader")
              else relation.fetch_record_batch(ENCODE_BATCH_ROWS))
    seen: list[dict[str, int]] = [{} for _ in columns]
    chunks: list[list[np.ndarray]] = [[] for _ in columns]
    for batch in reader:
        for position in range(len(columns)):
            local = batch.column(position).dictionary_encode()
            # the batch's dictionary is in order of first appearance in the batch, so values
            # new to the whole column get their codes in order of first appearance overall
            codes_of = seen[position]
            mapping = np.array([codes_of.setdefault(value, len(codes_of))
                                for value in local.dictionary.to_pylist()] or [0],
                               dtype=np.int64)
            indices = local.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(
                np.int64, copy=False)
            chunks[position].append(np.where(indices >= 0, mapping[np.maximum(indices, 0)],
                                             -1).astype(np.int32))
    return {column: (np.concatenate(chunks[position]) if chunks[position]
                     else np.empty(0, dtype=np.int32), list(seen[position]))
            for position, column in enumerate(columns)}


def read_every_column(model: str, table_name: str, table: Any) -> pd.DataFrame:
    """Every column of ``table`` as a pandas DataFrame.

    Only for a model whose job needs the whole table (validating it); every
    other model names its columns with :func:`read_columns`.
    """
    return read_columns(model, table_name, table, column_names(model, table_name, table))


def read_batches(model: str, table_name: str, table: Any, columns: Iterable[str],
                 batch_rows: int) -> Iterator[pd.DataFrame]:
    """``columns`` of ``table`` as consecutive pandas frames of at most ``batch_rows`` rows.

    The frames, concatenated, are :func:`read_columns` of the same columns:
    the same rows in the same order, and every column with the dtype it has
    there (on DuckDB a column read whole is nullable, ``Int64`` or ``boolean``,
    as soon as it holds one missing value anywhere, so a batch without one
    gets that dtype too). For a model that can do its work one batch at a
    time (row-wise checks): only one batch is in memory at a time on DuckDB
    and for a pandas table. A Spark DataFrame arrives in one batch (``toPandas``):
    a bounded reader for Spark is not written yet. An empty table gives one
    empty frame, so a consumer always sees the columns.
    """
    if batch_rows < 1:
        raise ValueError(f"{model} asks for batches of {batch_rows} rows of {table_name}")
    wanted = checked_columns(model, table_name, table, columns)
    if isinstance(table, pd.DataFrame):
        frame = table.loc[:, wanted]
        for start in range(0, max(len(frame), 1), batch_rows):
            yield frame.iloc[start:start + batch_rows].reset_index(drop=True)
        return
    if _is_spark(table):
        yield read_columns(model, table_name, table, wanted)
        return
    yield from _duckdb_batches(table.project(", ".join(_quoted(column, '"') for column in wanted)),
                               wanted, batch_rows)


def _duckdb_batches(relation: Any, columns: list[str], batch_rows: int) -> Iterator[pd.DataFrame]:
    """DuckDB's own conversion (``.df()``) of each Arrow batch, with the whole column's dtype."""
    import duckdb  # only where the table is a DuckDB relation

    quoted = [_quoted(column, '"') for column in columns]
    counts = relation.aggregate(", ".join(["count(*)"] + [f"count({name})" for name in quoted])
                                ).fetchall()[0]
    has_missing = {column: count < counts[0] for column, count in zip(columns, counts[1:],
                                                                      strict=True)}
    reader = (relation.to_arrow_reader(batch_rows) if hasattr(relation, "to_arrow_reader")
              else relation.fetch_record_batch(batch_rows))
    converter = duckdb.connect()  # private and in memory: converts, stores nothing
    try:
        empty = True
        for batch in reader:
            empty = False
            yield _nullable_where_missing(converter.from_arrow(batch).df(), has_missing)
        if empty:
            yield relation.limit(0).df()
    finally:
        converter.close()


def _nullable_where_missing(frame: pd.DataFrame, has_missing: dict[str, bool]) -> pd.DataFrame:
    """Bool and integer columns as pandas' nullable dtypes where the whole column has a gap."""
    for column, dtype in frame.dtypes.items():
        if not has_missing[column] or not isinstance(dtype, np.dtype) or dtype.kind not in "biu":
            continue
        nullable = ("boolean" if dtype.kind == "b" else
                    f"{'U' if dtype.kind == 'u' else ''}Int{dtype.itemsize * 8}")
        frame[column] = frame[column].astype(nullable)
    return frame


def repeated_keys(model: str, table_name: str, table: Any, columns: Iterable[str],
                  ) -> pd.DataFrame:
    """The combinations of ``columns`` that more than one row of ``table`` holds, as pandas.

    Counted in the engine (a group-by), so only the repeated keys cross into
    Python: none for a table whose key is unique. Missing values group
    together, as pandas' ``duplicated`` treats them.
    """
    wanted = checked_columns(model, table_name, table, columns)
    if isinstance(table, pd.DataFrame):
        sizes = table.groupby(wanted, dropna=False, sort=False).size()
        return sizes[sizes > 1].index.to_frame(index=False)
    if _is_spark(table):
        quoted = [_quoted(column, "`") for column in wanted]
        counted = table.groupBy(*quoted).count()
        return counted.filter(counted["count"] > 1).select(*quoted).toPandas()
    # DuckDB: first the repeated 64-bit hashes of the key (a hash table of integers, not of
    # the key's strings), then the exact count over only the rows holding one of them
    quoted = ", ".join(_quoted(column, '"') for column in wanted)
    hashed = table.project(f"{quoted}, hash({quoted}) as rwe_key_hash").set_alias("rwe_keyed")
    repeated_hashes = (hashed.aggregate("rwe_key_hash as rwe_repeated_hash, count(*) > 1 as "
                                        "is_repeated", "rwe_key_hash")
                       .filter("is_repeated").project("rwe_repeated_hash")
                       .set_alias("rwe_repeated"))
    candidates = hashed.join(repeated_hashes, "rwe_key_hash = rwe_repeated_hash")
    return (candidates.aggregate(f"{quoted}, count(*) > 1 as is_repeated_key", quoted)
            .filter("is_repeated_key").project(quoted).df())


def checked_columns(model: str, table_name: str, table: Any, columns: Iterable[str]) -> list[str]:
    """``columns`` once each, in order, after checking that ``table`` has them all."""
    wanted = list(dict.fromkeys(columns))
    if not wanted:
        raise ValueError(f"{model} asks for no column of {table_name}")
    present = set(column_names(model, table_name, table))
    missing = [column for column in wanted if column not in present]
    if missing:
        raise ValueError(f"{model} reads column(s) {missing} of {table_name}, which has no such "
                         "column(s)")
    return wanted


def column_names(model: str, table_name: str, table: Any) -> list[str]:
    """The names of ``table``'s columns, in order (see :func:`read_columns` for ``table``)."""
    if isinstance(table, pd.DataFrame):
        return [str(column) for column in table.columns]
    if _is_spark(table) or (callable(getattr(table, "project", None))
                            and callable(getattr(table, "df", None))):
        return list(table.columns)
    raise TypeError(f"{model} cannot read {table_name}: dbt.ref returned a "
                    f"{type(table).__name__}, not a DuckDB relation, a Spark DataFrame or a "
                    "pandas DataFrame")


def _is_spark(table: Any) -> bool:
    """A pyspark (or Databricks Connect) DataFrame: ``select`` then ``toPandas``."""
    return callable(getattr(table, "toPandas", None)) and callable(getattr(table, "select", None))


def _quoted(column: str, quote: str) -> str:
    """``column`` as an identifier, so a name is never read as an expression."""
    return quote + column.replace(quote, quote * 2) + quote

"""The one way a Python model reads a table: what ``dbt.ref(...)`` returns, as pandas.

``dbt.ref`` hands a Python model a different object on each adapter: a DuckDB
relation on dbt-duckdb, a pyspark DataFrame on dbt-spark and dbt-databricks
(a pandas DataFrame in tests). :func:`read_columns` takes any of them, keeps
only the columns the model uses *in the engine* (a projection, before any row
crosses into Python: converting a whole cohort costs more memory and time
than some tables' estimates) and returns a pandas DataFrame. The engines are
told apart by what they can do, not by importing them: pyspark need not be
installed where DuckDB runs, nor duckdb where Spark does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    wanted = list(dict.fromkeys(columns))
    if not wanted:
        raise ValueError(f"{model} asks for no column of {table_name}")
    present = set(_column_names(model, table_name, table))
    missing = [column for column in wanted if column not in present]
    if missing:
        raise ValueError(f"{model} reads column(s) {missing} of {table_name}, which has no such "
                         "column(s)")
    if isinstance(table, pd.DataFrame):
        return table.loc[:, wanted].reset_index(drop=True)
    if _is_spark(table):
        return table.select(*[_quoted(column, "`") for column in wanted]).toPandas()
    return table.project(", ".join(_quoted(column, '"') for column in wanted)).df()


def read_every_column(model: str, table_name: str, table: Any) -> pd.DataFrame:
    """Every column of ``table`` as a pandas DataFrame.

    Only for a model whose job needs the whole table (validating it,
    carrying all its columns into its own output); every other model names
    its columns with :func:`read_columns`.
    """
    return read_columns(model, table_name, table, _column_names(model, table_name, table))


def _column_names(model: str, table_name: str, table: Any) -> list[str]:
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

"""Every study's tables in one table: the statistics models loop over the study specs.

A study is a spec, ``studies/<study_id>.yml`` (validated by dbt, macros/study_specs.sql,
and published whole as JSON in the ``study_specs`` table). Each statistics model reads
that table, computes its estimates for each study on that study's rows, with that study's
parameters, and stacks the results with ``study_id`` as the first column. The
estimators themselves know nothing of studies: a study's rows come out exactly as they
would from a warehouse holding that study alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import yaml

from rwe_study.inputs import checked_columns, read_columns, read_compact_columns, rows_where

STUDY_COLUMN = "study_id"
SPEC_COLUMNS = (STUDY_COLUMN, "spec_json")
#: the columns of ``ps_weights`` the weighting tables read
WEIGHT_COLUMNS = (STUDY_COLUMN, "patient_id", "weighting", "weight")


def study_parameters(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The statistics parameters of one spec, under the names the estimators read.

    ``diagnostics.primary_endpoint`` is the spec's ``endpoints.primary``
    (one primary endpoint per study: the diagnostics judge it).
    """
    return {
        "propensity_covariates": list(spec["baseline_covariates"]),
        "matching_caliper_sd": spec["matching"]["caliper_sd"],
        "random_seed": spec["matching"]["random_seed"],
        "alpha": spec["alpha"],
        "landmark_months": list(spec["landmark_months"]),
        "cox_terms": list(spec["cox_terms"]),
        "subgroups": dict(spec["subgroups"]),
        "min_cell_count": spec["min_cell_count"],
        "diagnostics": {**spec["diagnostics"], "primary_endpoint": spec["endpoints"]["primary"]},
        "data_cutoff_date": spec["eligibility"]["data_cutoff_date"],
    }


def spec_from_file(project_dir: Path, study_id: str) -> dict[str, Any]:
    """A study's spec read from ``studies/<study_id>.yml``, without a build.

    For scripts and tests that have no warehouse; the models read the spec
    the build validated (``study_specs``). ``{{ var('name') }}``, the only
    Jinja a spec uses, becomes the project's var (``dbt_project.yml``), as
    dbt renders it; the file is not validated here (macros/study_specs.sql is).
    """
    variables = yaml.safe_load((project_dir / "dbt_project.yml").read_text(
        encoding="utf-8"))["vars"]
    document = yaml.safe_load((project_dir / "studies" / f"{study_id}.yml").read_text(
        encoding="utf-8"))
    (exposure,) = [item for item in document["exposures"] if item["name"] == study_id]
    return _rendered(exposure["meta"]["study"], variables)


def file_parameters(project_dir: Path, study_id: str) -> dict[str, Any]:
    """A study's statistics parameters from its spec file (:func:`spec_from_file`)."""
    return study_parameters(spec_from_file(project_dir, study_id))


def _rendered(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {key: _rendered(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_rendered(item, variables) for item in value]
    if isinstance(value, str):
        match = re.fullmatch(r"\{\{\s*var\(['\"](\w+)['\"]\)\s*\}\}", value)
        if match:
            return variables[match.group(1)]
    return value


def parameters_by_study(specs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """study_id -> parameters, from the ``study_specs`` table (``study_id``, ``spec_json``)."""
    if specs.empty:
        raise ValueError("study_specs is empty: add studies/<study_id>.yml")
    return {str(study_id): study_parameters(json.loads(spec_json))
            for study_id, spec_json in sorted(zip(specs[STUDY_COLUMN], specs["spec_json"],
                                                  strict=True))}


def read_parameters(model: str, specs: Any) -> dict[str, dict[str, Any]]:
    """Every study's parameters, inside the dbt Python model ``model``.

    ``specs`` is ``dbt.ref("study_specs")``, called in the model itself: dbt
    orders a model after the tables it finds in literal ``dbt.ref`` calls
    of the model's own file.
    """
    return parameters_by_study(read_columns(model, "study_specs", specs, SPEC_COLUMNS))


def columns_for_every_study(columns_read: Callable[..., list[str]], table: str,
                            params: Mapping[str, Mapping[str, Any]], *args: Any) -> list[str]:
    """``study_id`` and every column one table reads for any study (the union of theirs)."""
    columns = [STUDY_COLUMN]
    for study_params in params.values():
        columns.extend(columns_read(table, study_params, *args))
    return list(dict.fromkeys(columns))


class StudyTable(NamedTuple):
    """A table a statistics model reads one study at a time: :func:`study_rows` reads a
    study's rows of ``table`` (what ``dbt.ref`` returned for ``name``), its ``columns``
    only, with ``read``, when the model comes to that study, so the model never holds
    every study's rows. Made by :func:`study_table`."""

    model: str
    name: str
    table: Any
    columns: list[str]
    read: Callable[..., pd.DataFrame] = read_compact_columns


def study_table(model: str, name: str, table: Any, columns: Iterable[str], *,
                read: Callable[..., pd.DataFrame] = read_compact_columns) -> StudyTable:
    """``table`` (what ``dbt.ref(name)`` returned in ``model``) to be read one study at a time.

    The columns are checked now (an error names the model, the table and the
    missing columns); ``study_id`` is the filter, not one of the columns read.
    ``read`` is :func:`rwe_study.inputs.read_compact_columns` (text as
    categoricals: frames the estimators put in tie-break order) or
    :func:`rwe_study.inputs.read_columns` (text as strings: a model that writes
    the text back, as a categorical would be stored as an enumeration).
    """
    return StudyTable(model, name, table, [
        column for column in checked_columns(model, name, table, [STUDY_COLUMN, *columns])
        if column != STUDY_COLUMN], read)


class StudyInputs(NamedTuple):
    """What :func:`read_cohorts` prepared for one model: every study's parameters and, for
    each table the model passed, a :class:`StudyTable` (``None`` for one it did not)."""

    params: dict[str, dict[str, Any]]
    cohort: StudyTable | None
    matched: StudyTable | None
    weights: StudyTable | None


def read_cohorts(model: str, specs: Any, columns_read: Callable[..., list[str]], table: str, *,
                 cohort: Any = None, matched: Any = None, weights: Any = None) -> StudyInputs:
    """The study parameters and the cohorts a statistics model reads, inside the model ``model``.

    ``specs``, ``cohort``, ``matched`` and ``weights`` are what ``dbt.ref`` returned for
    ``study_specs``, ``analysis_cohort``, ``matched_cohort`` and ``ps_weights``, each
    ``dbt.ref`` written in the model's own file (dbt finds a model's inputs by reading its
    literal ``dbt.ref`` calls). Of the two cohorts only the columns that ``columns_read``
    names for ``table`` in any study are read (:func:`columns_for_every_study`, the matched
    cohort as ``source="matched_cohort"``); of ``ps_weights``, :data:`WEIGHT_COLUMNS`.
    The columns are checked here (an error names the model, the table and the missing
    columns); the rows are read per study, by :func:`study_rows`, with text columns but
    ``patient_id`` as categoricals (:func:`rwe_study.inputs.read_compact_columns`): every
    estimator puts these frames in tie-break order first, which encodes strings the same way.
    """
    params = read_parameters(model, specs)

    def optional(name: str, relation: Any, columns: list[str]) -> StudyTable | None:
        return None if relation is None else study_table(model, name, relation, columns)

    return StudyInputs(
        params=params,
        cohort=optional("analysis_cohort", cohort,
                        columns_for_every_study(columns_read, table, params)),
        matched=optional("matched_cohort", matched, columns_for_every_study(
            columns_read, table, params, "matched_cohort")),
        weights=optional("ps_weights", weights, list(WEIGHT_COLUMNS)),
    )


def study_rows(frame: pd.DataFrame | StudyTable, study_id: str) -> pd.DataFrame:
    """One study's rows of ``frame``, without ``study_id``, as a warehouse of that study alone.

    A :class:`StudyTable` is read now, that study's rows only, filtered in
    the engine (:func:`rwe_study.inputs.rows_where`), by its ``read``. Of a pandas frame, a
    categorical column keeps only the study's values, in order of first
    appearance among its rows, as if that warehouse had been read alone --
    which is what the engine's read of those rows gives.
    """
    if isinstance(frame, StudyTable):
        return frame.read(
            frame.model, frame.name,
            rows_where(frame.model, frame.name, frame.table, STUDY_COLUMN, study_id),
            frame.columns)
    rows = frame.loc[(frame[STUDY_COLUMN] == study_id).to_numpy()].drop(columns=STUDY_COLUMN)
    rows = rows.reset_index(drop=True)
    for column in rows.columns:
        if isinstance(rows[column].dtype, pd.CategoricalDtype):
            rows[column] = _as_first_seen(rows[column])
    return rows


def _as_first_seen(values: pd.Series) -> pd.Series:
    """A categorical's present values as its categories, in order of first appearance."""
    codes = values.cat.codes.to_numpy()
    present = codes >= 0
    used, first = np.unique(codes[present], return_index=True)
    kept = used[np.argsort(first, kind="stable")]  # category codes in order of first appearance
    renumbered = np.full(len(values.cat.categories), -1, dtype=np.int64)
    renumbered[kept] = np.arange(len(kept))
    new_codes = np.where(present, renumbered[np.maximum(codes, 0)], -1)
    return pd.Series(pd.Categorical.from_codes(new_codes, categories=values.cat.categories[kept]),
                     name=values.name)


def per_study(params: Mapping[str, Mapping[str, Any]],
              build: Callable[[str, Mapping[str, Any]], pd.DataFrame]) -> pd.DataFrame:
    """``build(study_id, parameters)`` for every study, stacked, ``study_id`` first."""
    tables = [_with_study(build(study_id, study_params), study_id)
              for study_id, study_params in params.items()]
    return _stacked(tables)


def _with_study(table: pd.DataFrame, study_id: str) -> pd.DataFrame:
    return table.reset_index(drop=True).assign(**{STUDY_COLUMN: study_id})[
        [STUDY_COLUMN, *[column for column in table.columns if column != STUDY_COLUMN]]]


def _stacked(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    tables = list(tables)
    non_empty = [table for table in tables if not table.empty]
    if not non_empty:
        return tables[0]
    return pd.concat(non_empty, ignore_index=True)

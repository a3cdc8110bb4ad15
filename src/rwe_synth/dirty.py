"""Dirty rows added on top of the clean cohort, each with one known defect.

Every recipe adds rows that no eligible patient's data depends on: exact
copies placed after their original, copies of a row with one field broken,
or an extra third-line record of an eligible patient who has no third line.
They are drawn from the reference population's rows only (as before the
companion population existed); the companion population's rows are clean.
Staging quarantines each of them, so the clean cohort stays exactly N
patients with exact arm sizes. The reason codes and the failing column are
the ones the staging models report (``quarantine_reason``,
``failing_column``), so the manifest can be compared with the quarantine
mart row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from rwe_synth.exports import ROW_KEY_STRIDE, CenterContext, ExportTable
from rwe_synth.model import POPULATION_REFERENCE
from rwe_synth.parameters import DAYS_PER_MONTH, ModelParameters
from rwe_synth.vocabulary import CENTER_D_CODES, DRUG_INDEX, DRUGS, RESPONSES

REASONS: tuple[str, ...] = (
    "duplicate_row",
    "unparseable_date",
    "date_order_violation",
    "unknown_drug",
    "missing_required_value",
    "unknown_code",
)


@dataclass(frozen=True)
class Recipe:
    """A kind of dirty row: where it goes and what is wrong with it."""

    center_id: str
    table: str
    reason: str
    column: str
    build: Callable[..., list[tuple[dict[str, str | None], int]]]
    minimum: int | None = None
    #: A column that gets an unused patient key (a row of an unknown patient).
    ghost_key_column: str | None = None


def _row(table: ExportTable, index: int) -> dict[str, str | None]:
    return {name: table.data.column(name)[index].as_py() for name in table.data.column_names}


def _pick(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    if len(pool) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False))


def _duplicates(table: ExportTable, rng: np.random.Generator, count: int,
                context: CenterContext, **_):
    rows = []
    for index in _pick(rng, _reference_rows(table, context), count):
        rows.append((_row(table, int(index)), int(table.sort_key[index]) + 1))
    return rows


def _reference_rows(table: ExportTable, context: CenterContext) -> np.ndarray:
    """Rows not of the companion population (whose rows are all clean)."""
    companion = context.patients.loc[context.patients["population"] != POPULATION_REFERENCE,
                                     "patient_index"]
    return np.flatnonzero(~np.isin(table.patient_index, companion.to_numpy()))


def _eligible_rows(table: ExportTable, context: CenterContext) -> np.ndarray:
    eligible = context.patients.loc[context.patients["status"] == "eligible", "patient_index"]
    return np.flatnonzero(np.isin(table.patient_index, eligible.to_numpy()))


def _copy_with(changes: Callable[[dict, int], dict]):
    """A recipe that copies rows of eligible patients and changes fields."""

    def build(table: ExportTable, rng: np.random.Generator, count: int,
              context: CenterContext, **_):
        rows = []
        for index in _pick(rng, _eligible_rows(table, context), count):
            row = _row(table, int(index))
            row.update(changes(row, int(index)))
            rows.append((row, int(table.sort_key[index]) + 1))
        return rows

    return build


def _omop_copy(id_column: str, changes: Callable[[dict], dict],
               where: tuple[str, str] | None = None):
    """An OMOP recipe: copy rows of eligible patients (optionally only rows
    whose column ``where[0]`` equals ``where[1]``), change fields and give
    each copy a new, unused primary key."""

    def build(table: ExportTable, rng: np.random.Generator, count: int,
              context: CenterContext, **_):
        pool = _eligible_rows(table, context)
        if where is not None:
            matches = pc.fill_null(pc.equal(table.data.column(where[0]), where[1]), False)
            pool = pool[matches.to_numpy(zero_copy_only=False)[pool]]
        # clean ids are 1..n unless the context says where they end
        first_new_id = context.new_id_floor.get(table.name, table.data.num_rows) + len(
            table.dirty) + 1
        rows = []
        for j, index in enumerate(_pick(rng, pool, count)):
            row = _row(table, int(index))
            row.update(changes(row))
            row[id_column] = str(first_new_id + j)
            rows.append((row, int(table.sort_key[index]) + 1))
        return rows

    return build


def _impossible_date(text: str | None, layout: str) -> str:
    """30 or 31 February of the year of a valid date text, in a layout."""
    if layout == "YYYY-MM-DD":
        return f"{text[:4]}-02-30"
    if layout == "DD/MM/YYYY":
        return f"31/02/{text[-4:]}"
    return f"{text[:4]}0230"  # YYYYMMDD


def _extra_third_line(changes: Callable[[dict, dict], dict]):
    """A recipe adding a broken third-line record for eligible patients who
    have a second line and no third line (so nothing depends on it)."""

    def build(table: ExportTable, rng: np.random.Generator, count: int,
              context: CenterContext, taken: set[int], **_):
        patients = context.patients
        pool = patients.loc[(patients["status"] == "eligible") & patients["has_second_line"]
                            & ~patients["has_third_line"], "patient_index"].to_numpy()
        pool = np.setdiff1d(pool, np.fromiter(taken, dtype=np.int64, count=len(taken)))
        rows = []
        is_second = np.asarray(table.sort_key) % ROW_KEY_STRIDE == 8  # line 2 rows
        second_rows = pd.Series(np.flatnonzero(is_second),
                                index=table.patient_index[is_second])
        for patient in _pick(rng, pool, count):
            taken.add(int(patient))
            row = _row(table, int(second_rows[patient]))
            start2 = int(patients.at[patient, "second_line_start_day"])
            vital = int(patients.at[patient, "vital_end_day"])
            start3 = start2 + max(1, (vital - start2) // 2)
            facts = {"start3": start3, "vital": vital}
            row.update(changes(row, facts))
            key = int(context.rank[patient]) * ROW_KEY_STRIDE + ROW_KEY_STRIDE // 2
            rows.append((row, key))
        return rows

    return build


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _ymd(day: int) -> str:
    return _iso(day).replace("-", "")


def _center_a_third_line(row: dict, facts: dict) -> dict:
    return {
        "line_no": "3",
        "regimen": DRUGS[DRUG_INDEX["anlotinib"]].center_a,
        "line_start_date": _iso(facts["start3"]),
        "progression_date": None,
        "best_response": "NE",
    }


def _center_c_third_line(row: dict, facts: dict) -> dict:
    days = facts["vital"] - facts["start3"]
    return {
        "line_number": "3L",
        "regimen_pinyin": DRUGS[DRUG_INDEX["anlotinib"]].center_c,
        "start_date": _ymd(facts["start3"]),
        "pfs_days": str(days),
        "progressed": "0",
        "os_months": f"{days / DAYS_PER_MONTH:.2f}",
        "response": RESPONSES["SD"][2],
    }


def _a3(extra: Callable[[dict, dict], dict]):
    return _extra_third_line(lambda row, facts: {**_center_a_third_line(row, facts),
                                                 **extra(row, facts)})


def _c3(extra: Callable[[dict, dict], dict]):
    return _extra_third_line(lambda row, facts: {**_center_c_third_line(row, facts),
                                                 **extra(row, facts)})


def recipes(params: ModelParameters) -> tuple[Recipe, ...]:
    """Every dirty-row recipe, in the order they are applied."""
    unknown = params.dirty_rows.unknown_drug_name
    anlotinib_a = DRUGS[DRUG_INDEX["anlotinib"]].center_a
    anlotinib_c = DRUGS[DRUG_INDEX["anlotinib"]].center_c
    return (
        # center_a: one row per line
        Recipe("center_a", "treatment_lines", "duplicate_row", "record_no", _duplicates),
        Recipe("center_a", "treatment_lines", "unparseable_date", "line_start_date",
               _a3(lambda r, f: {"line_start_date": _impossible_date(_iso(f["start3"]),
                                                                     "YYYY-MM-DD")})),
        Recipe("center_a", "treatment_lines", "date_order_violation", "progression_date",
               _a3(lambda r, f: {"progression_date": _iso(f["start3"] - 10)}),
               minimum=params.dirty_rows.minimum_date_order_violation),
        Recipe("center_a", "treatment_lines", "unknown_drug", "regimen",
               _a3(lambda r, f: {"regimen": f"{anlotinib_a} + {unknown}"})),
        Recipe("center_a", "treatment_lines", "unknown_code", "sex",
               _a3(lambda r, f: {"sex": "X"})),
        Recipe("center_a", "treatment_lines", "missing_required_value", "mrn",
               _a3(lambda r, f: {"mrn": None})),
        Recipe("center_a", "treatment_lines", "missing_required_value", "line_start_date",
               _a3(lambda r, f: {"line_start_date": None})),
        Recipe("center_a", "adverse_events", "duplicate_row", "record_no", _duplicates),
        Recipe("center_a", "adverse_events", "unknown_code", "ae_term",
               _copy_with(lambda r, i: {"ae_term": "Hiccups"})),
        # center_b: one row per administration
        Recipe("center_b", "patients", "duplicate_row", "patient_key", _duplicates),
        Recipe("center_b", "patients", "unknown_code", "gender",
               _copy_with(lambda r, i: {"gender": "X", "patient_key": None}),
               ghost_key_column="patient_key"),
        Recipe("center_b", "patients", "missing_required_value", "patient_key",
               _copy_with(lambda r, i: {"patient_key": None})),
        Recipe("center_b", "drug_administrations", "duplicate_row", "admin_id", _duplicates),
        Recipe("center_b", "drug_administrations", "unknown_drug", "drug_name",
               _copy_with(lambda r, i: {"drug_name": unknown, "dose_mg": "100"})),
        Recipe("center_b", "drug_administrations", "unparseable_date", "admin_date",
               _copy_with(lambda r, i: {"admin_date": _impossible_date(r["admin_date"],
                                                                       "DD/MM/YYYY")})),
        Recipe("center_b", "drug_administrations", "missing_required_value", "patient_key",
               _copy_with(lambda r, i: {"patient_key": None})),
        Recipe("center_b", "assessments", "duplicate_row", "assessment_id", _duplicates),
        Recipe("center_b", "assessments", "unknown_code", "response",
               _copy_with(lambda r, i: {"response": "improved"})),
        Recipe("center_b", "assessments", "unparseable_date", "assessment_date",
               _copy_with(lambda r, i: {"assessment_date": _impossible_date(
                   r["assessment_date"], "DD/MM/YYYY")})),
        Recipe("center_b", "adverse_events", "duplicate_row", "ae_id", _duplicates),
        Recipe("center_b", "adverse_events", "unknown_code", "grade",
               _copy_with(lambda r, i: {"grade": "G6"})),
        # center_c: one row per line, Chinese codes
        Recipe("center_c", "lines", "duplicate_row", "case_no", _duplicates),
        Recipe("center_c", "lines", "unparseable_date", "start_date",
               _c3(lambda r, f: {"start_date": _impossible_date(_ymd(f["start3"]),
                                                                "YYYYMMDD")})),
        Recipe("center_c", "lines", "unknown_code", "response",
               _c3(lambda r, f: {"response": "好转"})),
        Recipe("center_c", "lines", "unknown_drug", "regimen_pinyin",
               _c3(lambda r, f: {"regimen_pinyin": f"{anlotinib_c}+{unknown}"})),
        Recipe("center_c", "lines", "missing_required_value", "case_no",
               _c3(lambda r, f: {"case_no": None})),
        Recipe("center_c", "lines", "date_order_violation", "pfs_days",
               _c3(lambda r, f: {"pfs_days": "-5"})),
        Recipe("center_c", "adverse_events", "duplicate_row", "ae_no", _duplicates),
        Recipe("center_c", "adverse_events", "unknown_code", "ae_name",
               _copy_with(lambda r, i: {"ae_name": "呃逆"})),
        *_center_d_recipes(params),
    )


def _center_d_recipes(params: ModelParameters) -> tuple[Recipe, ...]:
    """center_d (OMOP CDM): exact copies (same primary key) and copies with
    one field broken under a new primary key."""
    center = params.fourth_center.center_id
    unknown = params.dirty_rows.unknown_drug_name

    def iso_minus(text: str, days: int) -> str:
        return _iso(int(np.datetime64(text, "D").astype(np.int64)) - days)

    return (
        Recipe(center, "person", "duplicate_row", "person_id", _duplicates),
        Recipe(center, "person", "unknown_code", "gender_source_value",
               _omop_copy("person_id", lambda r: {"gender_source_value": "X",
                                                  "gender_concept_id": "0"}),
               ghost_key_column="person_source_value"),
        Recipe(center, "person", "missing_required_value", "person_source_value",
               _omop_copy("person_id", lambda r: {"person_source_value": None})),
        Recipe(center, "observation_period", "duplicate_row", "observation_period_id",
               _duplicates),
        Recipe(center, "drug_exposure", "duplicate_row", "drug_exposure_id", _duplicates),
        Recipe(center, "drug_exposure", "unknown_drug", "drug_source_value",
               _omop_copy("drug_exposure_id", lambda r: {"drug_source_value": unknown,
                                                         "drug_concept_id": "0"})),
        Recipe(center, "drug_exposure", "unparseable_date", "drug_exposure_start_date",
               _omop_copy("drug_exposure_id", lambda r: {"drug_exposure_start_date":
                                                         _impossible_date(
                                                             r["drug_exposure_start_date"],
                                                             "YYYY-MM-DD")})),
        Recipe(center, "drug_exposure", "missing_required_value", "person_id",
               _omop_copy("drug_exposure_id", lambda r: {"person_id": None})),
        Recipe(center, "drug_exposure", "date_order_violation", "drug_exposure_end_date",
               _omop_copy("drug_exposure_id", lambda r: {"drug_exposure_end_date": iso_minus(
                   r["drug_exposure_start_date"], 3)})),
        Recipe(center, "condition_occurrence", "duplicate_row", "condition_occurrence_id",
               _duplicates),
        Recipe(center, "condition_occurrence", "unparseable_date", "condition_start_date",
               _omop_copy("condition_occurrence_id", lambda r: {
                   "condition_start_date": _impossible_date(r["condition_start_date"],
                                                            "YYYY-MM-DD")})),
        Recipe(center, "measurement", "duplicate_row", "measurement_id", _duplicates),
        Recipe(center, "measurement", "unknown_code", "value_source_value",
               _omop_copy("measurement_id", lambda r: {"value_source_value": "improved"},
                          where=("measurement_source_value", CENTER_D_CODES["recist"]))),
        Recipe(center, "measurement", "unknown_code", "value_as_number",
               _omop_copy("measurement_id", lambda r: {"value_as_number": "7",
                                                       "value_source_value": "7"},
                          where=("measurement_source_value", CENTER_D_CODES["ecog"]))),
        Recipe(center, "measurement", "unparseable_date", "measurement_date",
               _omop_copy("measurement_id", lambda r: {
                   "measurement_date": _impossible_date(r["measurement_date"],
                                                        "YYYY-MM-DD")})),
        Recipe(center, "observation", "duplicate_row", "observation_id", _duplicates),
        Recipe(center, "observation", "unknown_code", "value_as_number",
               _omop_copy("observation_id", lambda r: {"value_as_number": "6",
                                                       "value_source_value": "Grade 6"},
                          where=("observation_source_value", CENTER_D_CODES["ctcae_grade"]))),
        Recipe(center, "procedure_occurrence", "duplicate_row", "procedure_occurrence_id",
               _duplicates),
        Recipe(center, "death", "duplicate_row", "person_id", _duplicates),
    )


def recipe_count(params: ModelParameters, n_eligible: int, minimum: int | None = None
                 ) -> int:
    """Rows per recipe: ``max(minimum, round(rate * eligible patients))``."""
    model = params.dirty_rows
    return max(model.minimum if minimum is None else minimum,
               int(round(model.rate * n_eligible)))


def add_dirty_rows(tables: dict[str, ExportTable], context: CenterContext,
                   rng: np.random.Generator, params: ModelParameters) -> int:
    """Append every recipe's dirty rows for one center to its tables.

    The number of rows per recipe is ``max(minimum, round(rate * eligible
    patients of the center))``; a recipe whose pool is empty (a center
    without eligible patients) adds none. Returns how many of
    ``context.ghost_keys`` (from the first) the rows of unknown patients took.
    """
    n_eligible = int((context.patients["status"] == "eligible").sum())
    taken: set[int] = set()
    ghosts_used = 0
    for recipe in recipes(params):
        if recipe.center_id != context.center_id:
            continue
        count = recipe_count(params, n_eligible, recipe.minimum)
        table = tables[recipe.table]
        built = recipe.build(table, rng, count, context=context, taken=taken)
        if recipe.ghost_key_column is not None:
            if len(built) > len(context.ghost_keys):
                # each block draws its own unused keys, twice the rows it needs
                raise ValueError(
                    f"{context.center_id}: {len(built)} rows of unknown patients need unused "
                    f"patient keys, only {len(context.ghost_keys)} were drawn.")
            # a patient row under an unused key, so it is not a duplicate key
            for (row, _key), ghost in zip(built, context.ghost_keys, strict=False):
                row[recipe.ghost_key_column] = ghost
            ghosts_used = max(ghosts_used, len(built))
        for row, key in built:
            table.dirty.append((row, key, recipe.reason, recipe.column))
    return ghosts_used

"""Generate the raw center exports and their manifest.

:func:`generate` simulates the cohort block by block (:mod:`rwe_synth.blocks`,
:mod:`rwe_synth.model`), expands it
into event tables (:mod:`rwe_synth.histories`), writes each center's files
in its own format (:mod:`rwe_synth.exports`), adds the recorded dirty rows
(:mod:`rwe_synth.dirty`) and writes ``manifest.json``. Same arguments give
byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rwe_synth import __version__
from rwe_synth.blocks import block_count, patients_bound, plan_blocks, simulate_blocks
from rwe_synth.dirty import add_dirty_rows
from rwe_synth.exports import (
    CenterContext,
    ExportTable,
    center_a_tables,
    center_b_tables,
    center_c_tables,
    center_ranks,
    date_text,
    integer_text,
    text,
)
from rwe_synth.histories import (
    build_administrations,
    build_adverse_events,
    build_assessments,
    build_lines,
)
from rwe_synth.line_history import (
    TRUE_LINE_COLUMNS,
    harden_administrations,
    rechallenge_third_lines,
    true_lines,
)
from rwe_synth.model import (
    COMPANION_ELIGIBLE,
    COMPANION_EXCLUSION_REASONS,
    DEFAULT_PARAMETERS,
    POPULATION_COMPANION,
    POPULATION_NAMES,
    STATUS_ELIGIBLE,
    population_parts,
    rng_for,
    validate_arguments,
)
from rwe_synth.omop import center_d_tables, expand_administrations
from rwe_synth.parameters import (
    AGE_CENTRE_YEARS,
    COMPANION_TARGETS,
    DAYS_PER_MONTH,
    MODEL_TERMS,
    TARGETS,
    ModelParameters,
)
from rwe_synth.vocabulary import SEEDS_DIR, require_seed_coverage

FORMATS = ("csv", "parquet")
#: ``--chunk-patients``: eligible patients per block, about (docs/generator.md,
#: "Large cohorts: blocks").
DEFAULT_CHUNK_PATIENTS = 1_000_000
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": False, "store_schema": False}


def truth_dir_for(out_dir: Path | str) -> Path:
    """``<out_dir>_truth``: what the generator knows and no center exports
    (``true_lines`` of the administration-level centers).

    A sibling of the export folder, not inside it: the raw-export gate stops
    on anything in ``raw_data_dir`` that no source declares, and true lines
    are validation data, never a delivery (``data/raw`` -> ``data/raw_truth``).
    """
    out = Path(out_dir)
    return out.with_name(f"{out.name}_truth")


def generate(
    n_patients: int,
    n_centers: int,
    seed: int,
    out_dir: Path | str,
    file_format: str = "csv",
    params: ModelParameters = DEFAULT_PARAMETERS,
    line_history: str = "default",
    seeds_dir: Path | str = SEEDS_DIR,
    chunk_patients: int = DEFAULT_CHUNK_PATIENTS,
) -> dict[str, Any]:
    """Write ``<out_dir>/<center_id>/<table>.<format>``, the true lines
    ``<out_dir>_truth/true_lines.<format>`` (:func:`truth_dir_for`) and ``manifest.json``.

    Parameters
    ----------
    n_patients : int
        Eligible patients (``round(N * 200 / 496)`` ICI, the rest non-ICI).
    n_centers : int
        1 to 4 (center_a, center_b, center_c, center_d in that order).
    seed : int
        Seed of every random stream.
    out_dir : path
        Output folder (created; existing files of the same names are replaced).
    file_format : {'csv', 'parquet'}
        CSV (UTF-8, no BOM, comma separated, header row, empty = missing) or
        Parquet with the same columns, every column a string.
    params : ModelParameters
        The true parameters.
    line_history : {'default', 'hard'}
        ``hard``: harder administration histories for validating line
        derivation (:mod:`rwe_synth.line_history`).
    seeds_dir : path
        The terminology seeds; every spelling the generated centers write
        must be a seed row with the generator's meaning (else ``ValueError``).
    chunk_patients : int
        Eligible patients per block: each block's patients are simulated on
        their own (:mod:`rwe_synth.blocks`), their histories and exports
        built and appended to the files, so memory grows with the block, not
        the cohort. A cohort of at most one block is written exactly as
        without blocks (docs/generator.md, "Large cohorts: blocks").

    Returns
    -------
    dict
        The manifest that was written.
    """
    validate_arguments(n_patients, n_centers, seed, line_history)
    n_blocks = block_count(n_patients, chunk_patients)
    if file_format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {file_format!r}.")
    center_ids = params.center_ids(n_centers)
    require_seed_coverage(center_ids, Path(seeds_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hard = line_history == "hard"
    # a dirty copy of a person gets a new person_id after every person of
    # the center: known in one block; in several, after the most the blocks
    # can hold (the companion population's size depends on draws)
    person_floor = (patients_bound(plan_blocks(n_patients, n_centers, seed, chunk_patients,
                                               params), n_centers, params)
                    if n_blocks > 1 else None)
    dirty_rng = rng_for(seed, "dirty_rows")

    written: dict[str, dict[str, int]] = {center_id: {} for center_id in center_ids}
    persons_before = dict.fromkeys(center_ids, 0)
    dirty_rows: list[dict[str, Any]] = []
    figures = CohortFigures(center_ids)
    truth_dir = truth_dir_for(out)
    truth_dir.mkdir(parents=True, exist_ok=True)
    with _Appender(file_format) as appender:
        for block, patients, ghosts in simulate_blocks(n_patients, n_centers, seed, params,
                                                        chunk_patients):
            figures.add(patients)
            lines = build_lines(patients, block.seed, params)
            if hard:
                lines = rechallenge_third_lines(lines, block.seed, params)
            events = build_adverse_events(patients, lines, block.seed, params)
            ici_patients = patients.loc[(patients["status"] == STATUS_ELIGIBLE)
                                        & patients["is_ici"], "patient_index"]
            figures.grade_3_rash_ici += int(
                ((events["term"] == "rash") & (events["grade"] >= 3) & (events["line_number"] == 2)
                 & events["patient_index"].isin(ici_patients)).sum())
            before = {center_id: dict(counts) for center_id, counts in written.items()}
            position = pd.Series(np.arange(len(patients)),
                                 index=patients["patient_index"].to_numpy())
            truth_lines: list[pd.DataFrame] = []
            for center_index, center_id in enumerate(center_ids):
                # file order of the block's patients of the center; ranks (and
                # so center_d's person_id) continue after the earlier blocks'
                rank = center_ranks(patients, center_id) + persons_before[center_id]
                floor = (len(rank) if person_floor is None
                         else person_floor[center_id] + before[center_id].get("person", 0))
                context = CenterContext(
                    center_id,
                    patients.iloc[position.reindex(rank.index).to_numpy()].set_index(
                        "patient_index", drop=False),
                    ghosts[center_id], rank, {"person": floor})
                persons_before[center_id] += len(rank)
                tables = _center_tables(context, center_index, lines, events, block.seed,
                                        params, hard, truth_lines)
                add_dirty_rows(tables, context, dirty_rng, params)
                (out / center_id).mkdir(parents=True, exist_ok=True)
                for name, table in tables.items():
                    first_row = before[center_id].get(name, 0)
                    final, dirty = finalise(table, first_row)
                    if block.index:
                        final = _continue_ids(final, center_id, name, before[center_id])
                    appender.write(final, out / center_id / f"{name}.{file_format}")
                    written[center_id][name] = first_row + final.num_rows
                    dirty_rows.extend(dirty)
                    del final
                del tables, context
            appender.write(_true_lines_table(truth_lines),
                           truth_dir / f"true_lines.{file_format}")
            del lines, events, patients, position, truth_lines

    files = [{"path": f"{center_id}/{name}.{file_format}", "rows": rows,
              "sha256": _sha256(out / center_id / f"{name}.{file_format}")}
             for center_id, counts in written.items() for name, rows in counts.items()]
    manifest = build_manifest(n_patients, n_centers, seed, file_format, params, figures,
                              written, dirty_rows, files, line_history,
                              chunk_patients if n_blocks > 1 else None)
    with (out / "manifest.json").open("w", encoding="utf-8", newline="\n") as handle:
        write_json(manifest, handle)
    return manifest


def _center_tables(context: CenterContext, center_index: int, lines: pd.DataFrame,
                   events: pd.DataFrame, seed: int, params: ModelParameters, hard: bool,
                   truth_lines: list[pd.DataFrame]) -> dict[str, ExportTable]:
    """One center's export tables of the patients in ``context`` (appends the
    true lines of the administration-level centers to ``truth_lines``)."""
    center_id = context.center_id
    if center_id == "center_a":
        return center_a_tables(context, lines, events)
    if center_id == "center_c":
        return center_c_tables(context, lines, events)
    center_lines = lines.loc[lines["patient_index"].isin(context.rank.index)]
    administrations = build_administrations(
        center_lines, context.patients, seed, params,
        stream="administrations" if center_id == "center_b" else "omop_center")
    applied = None
    if hard:
        administrations, applied = _harden(administrations, center_lines, seed, center_index,
                                           params)
    if center_id == "center_d":
        administrations = expand_administrations(administrations, center_lines, params)
    truth_lines.append(_true_line_rows(context, administrations, applied))
    assessments = build_assessments(center_lines, params)
    center_events = events.loc[events["patient_index"].isin(context.rank.index)]
    if center_id == "center_b":
        return center_b_tables(context, administrations, assessments, center_events)
    return center_d_tables(context, center_lines, administrations, assessments, center_events,
                           seed, params)


#: center_d's ids numbered 1..n per file (:mod:`rwe_synth.omop`): in a later
#: block they continue after the rows the earlier blocks wrote to the file
#: named on the right (``observation_event_id`` points at a condition).
CONTINUED_IDS: dict[str, dict[str, str]] = {
    "drug_exposure": {"drug_exposure_id": "drug_exposure"},
    "condition_occurrence": {"condition_occurrence_id": "condition_occurrence"},
    "measurement": {"measurement_id": "measurement"},
    "observation": {"observation_id": "observation",
                    "observation_event_id": "condition_occurrence"},
    "procedure_occurrence": {"procedure_occurrence_id": "procedure_occurrence"},
}


def _continue_ids(table: pa.Table, center_id: str, name: str, before: dict[str, int]
                  ) -> pa.Table:
    """A later block's center_d ids shifted past the rows already written
    (a block's ids, dirty copies' new ids included, are 1..its rows)."""
    if center_id != "center_d":
        return table
    for column, counted in CONTINUED_IDS.get(name, {}).items():
        shifted = pc.add(table.column(column).cast(pa.int64()), before.get(counted, 0))
        table = table.set_column(table.schema.get_field_index(column), column,
                                 shifted.cast(pa.string()))
    return table


class _Appender:
    """One file per path, each table appended to it (Parquet row groups
    through one ``ParquetWriter``; CSV rows after one header line), so a
    block's rows leave memory once written."""

    def __init__(self, file_format: str) -> None:
        self.file_format = file_format
        self.parquet: dict[Path, pq.ParquetWriter] = {}
        self.csv_started: set[Path] = set()

    def __enter__(self) -> _Appender:
        return self

    def __exit__(self, *_exc) -> None:
        for writer in self.parquet.values():
            writer.close()

    def write(self, table: pa.Table, path: Path) -> None:
        if self.file_format == "csv":
            with path.open("ab" if path in self.csv_started else "wb") as handle:
                if path not in self.csv_started:
                    handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
                    self.csv_started.add(path)
                pa_csv.write_csv(table, handle, pa_csv.WriteOptions(
                    include_header=False, quoting_style="none", batch_size=65536))
            return
        writer = self.parquet.get(path)
        if writer is None:
            writer = self.parquet[path] = pq.ParquetWriter(path, table.schema, **PARQUET_OPTIONS)
        elif table.num_rows == 0:
            return
        # a column empty in one block is typed null, not string
        writer.write_table(table.cast(writer.schema))


def _harden(administrations: pd.DataFrame, lines: pd.DataFrame, seed: int,
            center_index: int, params: ModelParameters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`harden_administrations` on each population, from its own stream."""
    outputs, applied = [], []
    for population, rows in population_parts(lines):
        own = administrations if rows is lines else administrations.loc[
            administrations["patient_index"].isin(rows["patient_index"].to_numpy())]
        out, features = harden_administrations(
            own, rows, rng_for(seed, "line_history", center_index + 1, population=population),
            params)
        outputs.append(out)
        applied.append(features)
    if len(outputs) == 1:
        return outputs[0], applied[0]
    return pd.concat(outputs, ignore_index=True), pd.concat(applied, ignore_index=True)


def _true_line_rows(context, administrations: pd.DataFrame,
                    applied: pd.DataFrame | None) -> pd.DataFrame:
    """A center's true lines with its center id and patient keys."""
    lines = true_lines(administrations, applied)
    keys = context.patients["patient_key"].reindex(lines["patient_index"].to_numpy())
    return lines.assign(center_id=context.center_id, patient_key=keys.to_numpy())


def _true_lines_table(frames: list[pd.DataFrame]) -> pa.Table:
    """``true_lines`` (:func:`truth_dir_for`): text columns, ISO dates, by center, key, line."""
    columns = {name: pa.array([], pa.string()) for name in TRUE_LINE_COLUMNS}
    if not frames:
        return pa.table(columns)
    lines = pd.concat(frames, ignore_index=True).sort_values(
        ["center_id", "patient_key", "line_number"], ignore_index=True)
    return pa.table({
        "center_id": text(lines["center_id"]),
        "patient_key": text(lines["patient_key"]),
        "line_number": integer_text(lines["line_number"]),
        "start_date": date_text(lines["start_day"], "YYYY-MM-DD"),
        "end_date": date_text(lines["end_day"], "YYYY-MM-DD"),
        "regimen": text(lines["regimen"]),
        "features": text(lines["features"], mask=lines["features"].to_numpy() == ""),
    })


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def finalise(table: ExportTable, first_row: int = 0) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Insert the dirty rows, order the rows, number the row ids.

    ``first_row``: rows of the same file already written (earlier blocks);
    row ids and the dirty rows' row numbers continue after them.

    Returns
    -------
    (pyarrow.Table, list of dict)
        The table in file order with its columns in the documented order,
        and one manifest entry per dirty row with its 1-based data row number.
    """
    n_clean = table.data.num_rows
    if table.dirty:
        dirty = pa.Table.from_pylist([row for row, _, _, _ in table.dirty],
                                     schema=table.data.schema)
        data = pa.concat_tables([table.data, dirty])
        keys = np.concatenate([table.sort_key,
                               np.asarray([key for _, key, _, _ in table.dirty])])
    else:
        data, keys = table.data, table.sort_key
    secondary = np.arange(data.num_rows)
    order = np.lexsort((secondary, keys))
    data = data.take(pa.array(order))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    if table.row_id_column is not None:
        data = data.append_column(table.row_id_column,
                                  integer_text(np.arange(first_row + 1,
                                                         first_row + data.num_rows + 1)))
    data = data.select(list(table.columns))
    entries = [
        {"center_id": table.center_id, "table": table.name,
         "source_row_number": first_row + int(position[n_clean + j]) + 1, "column": column,
         "reason": reason}
        for j, (_, _, reason, column) in enumerate(table.dirty)
    ]
    return data, sorted(entries, key=lambda entry: entry["source_row_number"])


def kaplan_meier_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median (smallest time with S(t) <= 0.5; NaN if not reached)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    frame = pd.DataFrame({"time": time, "event": event})
    grouped = frame.groupby("time")["event"].agg(["sum", "count"]).sort_index()
    return _median_of_counts(grouped.index.to_numpy(dtype=float), grouped["sum"].to_numpy(),
                             grouped["count"].to_numpy())


def _median_of_counts(time: np.ndarray, events: np.ndarray, counts: np.ndarray) -> float:
    """:func:`kaplan_meier_median` from the distinct times (ascending), the
    events and the patients at each."""
    at_risk = counts.sum() - np.concatenate([[0], np.cumsum(counts)[:-1]])
    survival = np.cumprod(1.0 - events / at_risk)
    reached = np.flatnonzero(survival <= 0.5)
    return float(time[reached[0]]) if len(reached) else float("nan")


class _ArmFigures:
    """What :func:`measured_summary` reports of one arm, added up block by
    block: patients, events and responses counted, PFS and OS as counts of
    patients and events per whole day (the Kaplan-Meier median needs no
    more), so the whole cohort's figures never need its rows at once."""

    def __init__(self) -> None:
        self.patients = self.objective = self.control = 0
        self.days = {"pfs": np.zeros(0, np.int64), "os": np.zeros(0, np.int64)}
        self.events = {"pfs": np.zeros(0, np.int64), "os": np.zeros(0, np.int64)}

    def add(self, pfs_days: np.ndarray, is_pfs_event: np.ndarray, os_days: np.ndarray,
            is_os_event: np.ndarray, response: np.ndarray) -> None:
        self.patients += len(pfs_days)
        self.objective += int(np.isin(response, ("CR", "PR")).sum())
        self.control += int(np.isin(response, ("CR", "PR", "SD")).sum())
        for name, days, event in (("pfs", pfs_days, is_pfs_event), ("os", os_days, is_os_event)):
            days = np.asarray(days, dtype=np.int64)
            size = max(len(self.days[name]), int(days.max()) + 1 if len(days) else 0)
            self.days[name] = _padded(self.days[name], size) + np.bincount(days, minlength=size)
            self.events[name] = _padded(self.events[name], size) + np.bincount(
                days, weights=np.asarray(event, dtype=bool), minlength=size).astype(np.int64)

    def summary(self) -> dict[str, Any]:
        def median(name: str) -> float:
            present = np.flatnonzero(self.days[name])
            # months as the truth frame computes them: days / DAYS_PER_MONTH
            return _median_of_counts(present / DAYS_PER_MONTH, self.events[name][present],
                                     self.days[name][present])

        return {
            "patients": int(self.patients),
            "median_pfs_months": round(median("pfs"), 3),
            "median_os_months": round(median("os"), 3),
            "objective_response_rate": round(self.objective / self.patients, 4),
            "disease_control_rate": round(self.control / self.patients, 4),
            "pfs_events": int(self.events["pfs"].sum()),
            "os_events": int(self.events["os"].sum()),
        }


def _padded(counts: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([counts, np.zeros(size - len(counts), np.int64)])


class _StudyFigures:
    """One study's cohort figures of the manifest, added up block by block."""

    def __init__(self) -> None:
        self.arms: dict[str, _ArmFigures] = {}
        self.per_center_arm: dict[tuple[str, str], int] = {}
        self.per_population: dict[str, int] = {}
        self.thresholds: list[float | None] = []

    def add(self, patients: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
        """Add the rows of ``mask``; returns their arms."""
        rows = _rows(patients, mask, ["center_id", "is_ici", "pfs_days", "is_pfs_event",
                                      "os_days", "is_os_event", "best_response",
                                      "population"])
        arm = np.where(rows["is_ici"].to_numpy(), "ICI", "non-ICI")
        for name in sorted(set(arm)):
            own = arm == name
            self.arms.setdefault(name, _ArmFigures()).add(
                rows["pfs_days"].to_numpy()[own], rows["is_pfs_event"].to_numpy()[own],
                rows["os_days"].to_numpy()[own], rows["is_os_event"].to_numpy()[own],
                rows["best_response"].to_numpy()[own])
        pairs = pd.DataFrame({"center": rows["center_id"].to_numpy(), "arm": arm})
        for (center, name), count in pairs.value_counts().items():
            self.per_center_arm[(center, name)] = (self.per_center_arm.get((center, name), 0)
                                                   + int(count))
        population = rows["population"].to_numpy(dtype=np.int64)
        for code, count in zip(*np.unique(population, return_counts=True), strict=True):
            name = POPULATION_NAMES[code]
            self.per_population[name] = self.per_population.get(name, 0) + int(count)
        return arm

    @property
    def patients(self) -> int:
        return sum(arm.patients for arm in self.arms.values())

    def per_arm(self, arms: tuple[str, ...]) -> dict[str, int]:
        return {name: self.arms[name].patients if name in self.arms else 0 for name in arms}

    def center_arms(self, center_id: str) -> dict[str, int]:
        return {name: count for (center, name), count in sorted(self.per_center_arm.items())
                if center == center_id}

    def measured(self) -> dict[str, Any]:
        return {name: self.arms[name].summary() for name in sorted(self.arms)}

    def intercepts(self) -> float | list[float | None] | None:
        """``-threshold`` of the ICI assignment: one value, or one per block."""
        values = [None if t is None else round(-t, 6) for t in self.thresholds]
        return values[0] if len(values) == 1 else values


class ExcludedPatients:
    """The manifest's list of excluded patients (``center_id``,
    ``patient_key``, ``reason``), sorted by center and key: held as Arrow
    text columns block by block (at 10,000,000 patients some 4,500,000
    entries, GBs as Python dicts) and written one entry at a time."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def add(self, center_id: np.ndarray, patient_key: np.ndarray, reason: np.ndarray) -> None:
        self.parts.append(pa.table({
            "center_id": pa.array(center_id, pa.string()).dictionary_encode(),
            "patient_key": pa.array(patient_key, pa.string()),
            "reason": pa.array(reason, pa.string()).dictionary_encode(),
        }))

    def __len__(self) -> int:
        return sum(part.num_rows for part in self.parts)

    def __iter__(self):
        if not self.parts:
            return
        table = pa.concat_tables(self.parts, promote_options="permissive").unify_dictionaries()
        centers = table.column("center_id").combine_chunks().dictionary_decode()
        for center_id in sorted(set(centers.unique().to_pylist())):
            rows = table.filter(pc.equal(centers, center_id))
            rows = rows.take(pc.sort_indices(rows.column("patient_key")))
            for start in range(0, rows.num_rows, 65536):
                batch = rows.slice(start, 65536)
                for key, reason in zip(batch.column("patient_key").to_pylist(),
                                       batch.column("reason").to_pylist(), strict=True):
                    yield {"center_id": center_id, "patient_key": key, "reason": reason}


class CohortFigures:
    """Everything the manifest says about the cohorts, added up over the
    blocks of a run (:func:`build_manifest`)."""

    def __init__(self, center_ids: list[str]) -> None:
        self.center_ids = center_ids
        self.reference = _StudyFigures()
        self.companion = _StudyFigures()
        self.excluded = ExcludedPatients()
        self.companion_excluded = ExcludedPatients()
        self.present: set[str] = set()
        self.in_reference_cohort = 0
        self.grade_3_rash_ici = 0

    def add(self, patients: pd.DataFrame) -> None:
        """Add one block's patients (:func:`rwe_synth.model.simulate_patients`,
        with identifiers)."""
        status = patients["status"].to_numpy()
        eligible = status == STATUS_ELIGIBLE
        self.reference.add(patients, eligible)
        self.reference.thresholds.append(float(patients["assignment_threshold"].iloc[0]))
        excluded = _rows(patients, ~eligible, ["center_id", "patient_key", "status"])
        self.excluded.add(excluded["center_id"].to_numpy(), excluded["patient_key"].to_numpy(),
                          excluded["status"].to_numpy())
        companion_status = patients["companion_status"].to_numpy()
        in_companion = companion_status == COMPANION_ELIGIBLE
        self.companion.add(patients, in_companion)
        self.in_reference_cohort += int((in_companion & eligible).sum())
        self.present |= set(pd.unique(patients["center_id"].to_numpy()))
        is_added = patients["population"].to_numpy() == POPULATION_COMPANION
        rows = _rows(patients, is_added & ~in_companion,
                     ["center_id", "patient_key", "companion_status"])
        self.companion_excluded.add(rows["center_id"].to_numpy(),
                                    rows["patient_key"].to_numpy(),
                                    rows["companion_status"].to_numpy())
        thresholds = patients["assignment_threshold"].to_numpy()[is_added]
        self.companion.thresholds.append(float(thresholds[0]) if len(thresholds) else None)


def measured_summary(truth: pd.DataFrame) -> dict[str, Any]:
    """Headline figures of a truth frame (for the manifest and the docs)."""
    summary: dict[str, Any] = {}
    for arm, group in truth.groupby("arm"):
        summary[arm] = {
            "patients": int(len(group)),
            "median_pfs_months": round(kaplan_meier_median(group["pfs_months"],
                                                           group["is_pfs_event"]), 3),
            "median_os_months": round(kaplan_meier_median(group["os_months"],
                                                          group["is_os_event"]), 3),
            "objective_response_rate": round(float(group["is_objective_response"].mean()), 4),
            "disease_control_rate": round(float(group["is_disease_control"].mean()), 4),
            "pfs_events": int(group["is_pfs_event"].sum()),
            "os_events": int(group["is_os_event"].sum()),
        }
    return summary


def build_manifest(n_patients: int, n_centers: int, seed: int, file_format: str,
                   params: ModelParameters, figures: CohortFigures,
                   row_counts: dict[str, dict[str, int]], dirty_rows: list[dict[str, Any]],
                   files: list[dict[str, Any]], line_history: str = "default",
                   chunk_patients: int | None = None) -> dict[str, Any]:
    """The manifest: arguments, cohort, row counts, dirty rows, truth, targets.

    ``--line-history`` appears in the command and arguments only when it is
    not the default, and ``--chunk-patients`` only when it cut the cohort
    into several blocks (which changes the files), so a default run's
    manifest is what it always was. Of several blocks, the realised
    assignment intercepts are listed one per block (each block assigns its
    own ICI patients); every other figure is the whole cohort's.
    """
    reference = figures.reference
    design = params.design
    dirty_sorted = sorted(dirty_rows, key=lambda d: (d["center_id"], d["table"],
                                                      d["source_row_number"]))
    command = (f"python -m rwe_synth --patients {n_patients} --centers {n_centers} "
               f"--seed {seed} --format {file_format}")
    args: dict[str, Any] = {"patients": n_patients, "centers": n_centers, "seed": seed,
                            "format": file_format}
    if line_history != "default":
        command += f" --line-history {line_history}"
        args["line_history"] = line_history
    if chunk_patients is not None:
        command += f" --chunk-patients {chunk_patients}"
        args["chunk_patients"] = chunk_patients
    measured = reference.measured()
    measured["grade_3_rash_ici"] = figures.grade_3_rash_ici
    return {
        "generator": {
            "name": "rwe_synth",
            "version": __version__,
            "command": command,
            "args": args,
        },
        "data_cutoff_date": design.data_cutoff_date,
        "study_window": {"start_date": design.study_window_start_date,
                         "end_date": design.study_window_end_date},
        "cohort": {
            "eligible_patients": reference.patients,
            "per_arm": reference.per_arm(("ICI", "non-ICI")),
            "per_center_per_arm": {center: reference.center_arms(center)
                                   for center in params.center_ids(n_centers)},
        },
        "row_counts": row_counts,
        "files": files,
        "dirty_rows": dirty_sorted,
        "excluded_patients": figures.excluded,
        "truth": {
            "description": (
                "Every true parameter of the model (rwe_synth.parameters). Times in months of "
                f"{DAYS_PER_MONTH} days; age_years enters linear predictors centred at "
                f"{AGE_CENTRE_YEARS}."),
            "model_terms": list(MODEL_TERMS),
            "assignment_intercept_realised": reference.intercepts(),
            "parameters": params.to_dict(n_centers, line_history),
        },
        "targets": TARGETS,
        "measured": measured,
        "companion": companion_manifest(figures, params),
    }


def _rows(patients: pd.DataFrame, mask: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``patients.loc[mask, columns]`` taken column by column (``.loc`` on
    the whole frame copies the selected rows of every column first)."""
    return pd.DataFrame({name: patients[name].to_numpy()[mask] for name in columns})


def companion_manifest(figures: CohortFigures, params: ModelParameters) -> dict[str, Any]:
    """The companion study's part of the manifest: its design as the
    generator draws it, its cohort, the overlap with the reference cohort,
    the companion population's excluded patients, targets and measured
    figures (its true parameters are under ``truth.parameters.companion``)."""
    companion = params.companion
    cohort = figures.companion
    per_center = {center: cohort.center_arms(center)
                  for center in companion.center_ids if center in figures.present}
    return {
        "study_id": companion.study_id,
        "source": companion.source,
        "study_window": {"start_date": companion.study_window_start_date,
                         "end_date": companion.study_window_end_date},
        "data_cutoff_date": companion.data_cutoff_date,
        "center_ids": [c for c in companion.center_ids if c in per_center],
        "rule": {
            "first_line": "platinum + etoposide + an ICI (drug classes platinum, etoposide, "
                          "pd_1_inhibitor or pd_l1_inhibitor; first line ended in a "
                          "documented progression)",
            "index": "start of the second line, inside the study window",
            "exposure": "the second line contains an ICI (is_ici: continuation beyond "
                        "progression)",
            "comparator": "no ICI in the second line (discontinuation)",
            "exclusion_reasons_in_order": list(COMPANION_EXCLUSION_REASONS),
        },
        "cohort": {
            "eligible_patients": cohort.patients,
            "per_arm": cohort.per_arm(("ICI", "non-ICI")),
            "per_center_per_arm": per_center,
            "per_population": dict(sorted(cohort.per_population.items())),
            "in_reference_cohort": figures.in_reference_cohort,
        },
        "excluded_patients": figures.companion_excluded,
        "assignment_intercept_realised": cohort.intercepts(),
        "targets": COMPANION_TARGETS,
        "measured": cohort.measured(),
    }


def write_json(manifest: dict[str, Any], handle) -> None:
    """``json.dump(manifest, handle, indent=2, ensure_ascii=False)`` and a
    newline, the excluded-patient lists (:class:`ExcludedPatients`) written
    entry by entry as they are read, not built as one list first."""
    streams: dict[str, ExcludedPatients] = {}

    def placeholder(value):
        if isinstance(value, ExcludedPatients):
            marker = f"@@rwe_synth excluded patients {len(streams)}@@"
            streams[json.dumps(marker)] = value
            return marker
        if isinstance(value, dict):
            return {key: placeholder(item) for key, item in value.items()}
        return value

    text = json.dumps(placeholder(manifest), indent=2, ensure_ascii=False)
    for line in text.split("\n"):
        marker = line.strip().removesuffix(",").rpartition(": ")[2]
        if marker in streams:
            indent = " " * (len(line) - len(line.lstrip(" ")))
            handle.write(line[: line.index(marker)])
            _write_entries(streams[marker], indent, handle)
            line = line[line.index(marker) + len(marker):]
        handle.write(line + "\n")


def _write_entries(entries: ExcludedPatients, indent: str, handle) -> None:
    """A list of flat dicts as ``json.dump(..., indent=2)`` writes it at ``indent``."""
    if not len(entries):
        handle.write("[]")
        return
    item, field = indent + "  ", indent + "    "
    handle.write("[")
    separator = "\n"
    for entry in entries:
        fields = ",\n".join(f"{field}{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
                            for key, value in entry.items())
        handle.write(f"{separator}{item}{{\n{fields}\n{item}}}")
        separator = ",\n"
    handle.write(f"\n{indent}]")

"""Generate the raw center exports and their manifest.

:func:`generate` simulates the cohort (:mod:`rwe_synth.model`), expands it
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
from rwe_synth.dirty import add_dirty_rows
from rwe_synth.exports import (
    CenterContext,
    ExportTable,
    assign_identifiers,
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
    share_strings,
    simulate_patients,
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
        Eligible patients per block: the event histories and exports are
        built one block at a time and appended to the files, so memory grows
        with the block, not the cohort. A cohort of at most one block is
        written exactly as without blocks (docs/generator.md, "Large
        cohorts: blocks").

    Returns
    -------
    dict
        The manifest that was written.
    """
    validate_arguments(n_patients, n_centers, seed, line_history)
    block_count(n_patients, chunk_patients)
    if file_format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {file_format!r}.")
    center_ids = params.center_ids(n_centers)
    require_seed_coverage(center_ids, Path(seeds_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hard = line_history == "hard"

    patients = simulate_patients(n_patients, n_centers, seed, params)
    threshold = float(patients["assignment_threshold"].iloc[0])
    patients, ghosts = assign_identifiers(patients, seed, n_centers, params)
    n_blocks = block_count(n_patients, chunk_patients)
    # each center's patients in file order (patient_index -> rank), cut into
    # n_blocks consecutive runs: appending the blocks keeps the key order
    ranks = {center_id: center_ranks(patients, center_id) for center_id in center_ids}
    runs = {center_id: np.array_split(np.arange(len(rank)), n_blocks)
            for center_id, rank in ranks.items()}
    position = pd.Series(np.arange(len(patients)), index=patients["patient_index"].to_numpy())
    dirty_rng = rng_for(seed, "dirty_rows")

    written: dict[str, dict[str, int]] = {center_id: {} for center_id in center_ids}
    ghosts_used = dict.fromkeys(center_ids, 0)
    dirty_rows: list[dict[str, Any]] = []
    grade_3_rash_ici = 0
    truth_dir = truth_dir_for(out)
    truth_dir.mkdir(parents=True, exist_ok=True)
    with _Appender(file_format) as appender:
        for block in range(n_blocks):
            block_seed = seed if n_blocks == 1 else _block_seed(seed, block)
            block_ranks = {center_id: ranks[center_id].iloc[runs[center_id][block]]
                           for center_id in center_ids}
            members = patients if n_blocks == 1 else _members(patients, position, block_ranks)
            lines = build_lines(members, block_seed, params)
            if hard:
                lines = rechallenge_third_lines(lines, block_seed, params)
            events = build_adverse_events(members, lines, block_seed, params)
            ici_patients = members.loc[(members["status"] == STATUS_ELIGIBLE)
                                       & members["is_ici"], "patient_index"]
            grade_3_rash_ici += int(
                ((events["term"] == "rash") & (events["grade"] >= 3) & (events["line_number"] == 2)
                 & events["patient_index"].isin(ici_patients)).sum())
            before = {center_id: dict(counts) for center_id, counts in written.items()}
            truth_lines: list[pd.DataFrame] = []
            for center_index, center_id in enumerate(center_ids):
                rank = block_ranks[center_id]
                context = CenterContext(
                    center_id,
                    patients.iloc[position.reindex(rank.index).to_numpy()].set_index(
                        "patient_index", drop=False),
                    ghosts[center_id][ghosts_used[center_id]:], rank,
                    # person ids are ranks in the whole center; new ones go after
                    # them and after the rows earlier blocks wrote
                    {"person": len(ranks[center_id]) + before[center_id].get("person", 0)})
                tables = _center_tables(context, center_index, lines, events, block_seed,
                                        params, hard, truth_lines)
                ghosts_used[center_id] += add_dirty_rows(tables, context, dirty_rng, params)
                (out / center_id).mkdir(parents=True, exist_ok=True)
                for name, table in tables.items():
                    first_row = before[center_id].get(name, 0)
                    final, dirty = finalise(table, first_row)
                    if block:
                        final = _continue_ids(final, center_id, name, before[center_id])
                    appender.write(final, out / center_id / f"{name}.{file_format}")
                    written[center_id][name] = first_row + final.num_rows
                    dirty_rows.extend(dirty)
                    del final
                del tables, context
            appender.write(_true_lines_table(truth_lines),
                           truth_dir / f"true_lines.{file_format}")
            del lines, events, members, truth_lines

    files = [{"path": f"{center_id}/{name}.{file_format}", "rows": rows,
              "sha256": _sha256(out / center_id / f"{name}.{file_format}")}
             for center_id, counts in written.items() for name, rows in counts.items()]
    manifest = build_manifest(n_patients, n_centers, seed, file_format, params, patients,
                              threshold, written, dirty_rows, files, line_history,
                              chunk_patients if n_blocks > 1 else None)
    manifest["measured"]["grade_3_rash_ici"] = grade_3_rash_ici
    del patients, position, ranks
    # streamed: json.dumps would hold the text and its millions of pieces
    # (one per value of the excluded patients' list) at once
    with (out / "manifest.json").open("w", encoding="utf-8", newline="\n") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    return manifest


def block_count(n_patients: int, chunk_patients: int) -> int:
    """``ceil(n_patients / chunk_patients)``: blocks of about ``chunk_patients``
    eligible patients, each with its share of the excluded and companion
    patients (the cut is by patient, not by status, so a block's count of
    eligible patients varies a little around the mean)."""
    if chunk_patients < 1:
        raise ValueError(f"--chunk-patients must be a positive integer, got {chunk_patients}.")
    return -(-n_patients // chunk_patients)


def _members(patients: pd.DataFrame, position: pd.Series,
             block_ranks: dict[str, pd.Series]) -> pd.DataFrame:
    """A block's patients in the order of ``patients`` (the histories' draws
    go down the rows in that order)."""
    mask = np.zeros(len(patients), dtype=bool)
    for rank in block_ranks.values():
        mask[position.reindex(rank.index).to_numpy()] = True
    return patients.loc[mask]


def _block_seed(seed: int, block: int) -> int:
    """The seed of one block's event histories in a run of several blocks: a
    block drawing from ``seed`` itself would repeat the first block's draws
    row for row (the draws are per row of the block)."""
    return int(np.random.SeedSequence([int(seed), block]).generate_state(1)[0])


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
    at_risk = len(time) - grouped["count"].cumsum().shift(fill_value=0)
    survival = np.cumprod(1.0 - grouped["sum"].to_numpy() / at_risk.to_numpy())
    reached = np.flatnonzero(survival <= 0.5)
    return float(grouped.index[reached[0]]) if len(reached) else float("nan")


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
                   params: ModelParameters, patients: pd.DataFrame, threshold: float,
                   row_counts: dict[str, dict[str, int]], dirty_rows: list[dict[str, Any]],
                   files: list[dict[str, Any]], line_history: str = "default",
                   chunk_patients: int | None = None) -> dict[str, Any]:
    """The manifest: arguments, cohort, row counts, dirty rows, truth, targets.

    ``--line-history`` appears in the command and arguments only when it is
    not the default, and ``--chunk-patients`` only when it cut the cohort
    into several blocks (which changes the files), so a default run's
    manifest is what it always was.
    """
    # the few columns the manifest needs, not copies of whole patient rows
    # (GBs at 10,000,000 patients)
    truth = _outcomes(patients, patients["status"].to_numpy() == STATUS_ELIGIBLE)
    arm = truth["arm"].to_numpy()
    eligible_center = truth["center_id"].to_numpy()
    per_center = {
        center: {name: int(count) for name, count in
                 pd.Series(arm[eligible_center == center]).value_counts()
                 .sort_index().items()}
        for center in params.center_ids(n_centers)
    }
    excluded = _rows(patients, patients["status"].to_numpy() != STATUS_ELIGIBLE,
                     ["center_id", "patient_key", "status"])
    excluded = excluded.sort_values(["center_id", "patient_key"])
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
            "eligible_patients": int(len(truth)),
            "per_arm": {name: int((arm == name).sum()) for name in ("ICI", "non-ICI")},
            "per_center_per_arm": per_center,
        },
        "row_counts": row_counts,
        "files": files,
        "dirty_rows": dirty_sorted,
        "excluded_patients": [
            {"center_id": row.center_id, "patient_key": row.patient_key, "reason": row.status}
            for row in excluded.itertuples(index=False)
        ],
        "truth": {
            "description": (
                "Every true parameter of the model (rwe_synth.parameters). Times in months of "
                f"{DAYS_PER_MONTH} days; age_years enters linear predictors centred at "
                f"{AGE_CENTRE_YEARS}."),
            "model_terms": list(MODEL_TERMS),
            "assignment_intercept_realised": round(-threshold, 6),
            "parameters": params.to_dict(n_centers, line_history),
        },
        "targets": TARGETS,
        "measured": measured_summary(truth),
        "companion": companion_manifest(patients, params, truth),
    }


def _rows(patients: pd.DataFrame, mask: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``patients.loc[mask, columns]`` taken column by column (``.loc`` on
    the whole frame copies the selected rows of every column first)."""
    return pd.DataFrame({name: patients[name].to_numpy()[mask] for name in columns})


def _outcomes(patients: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """The columns of :func:`rwe_synth.model.cohort_truth` that the manifest
    reads (its arm, outcome and response columns computed the same way), for
    the rows of ``mask``."""
    rows = _rows(patients, mask, ["patient_index", "center_id", "is_ici", "pfs_days",
                                  "is_pfs_event", "os_days", "is_os_event", "best_response",
                                  "population"])
    response = rows["best_response"].to_numpy()
    return pd.DataFrame({
        "patient_index": rows["patient_index"].to_numpy(),
        "center_id": rows["center_id"].to_numpy(),
        "arm": share_strings(np.where(rows["is_ici"], "ICI", "non-ICI")),
        "pfs_months": rows["pfs_days"].to_numpy() / DAYS_PER_MONTH,
        "is_pfs_event": rows["is_pfs_event"].to_numpy(),
        "os_months": rows["os_days"].to_numpy() / DAYS_PER_MONTH,
        "is_os_event": rows["is_os_event"].to_numpy(),
        "is_objective_response": np.isin(response, ("CR", "PR")),
        "is_disease_control": np.isin(response, ("CR", "PR", "SD")),
        "population": np.asarray(POPULATION_NAMES, dtype=object)[
            rows["population"].to_numpy(dtype=np.int64)],
    })


def companion_manifest(patients: pd.DataFrame, params: ModelParameters,
                       reference_truth: pd.DataFrame) -> dict[str, Any]:
    """The companion study's part of the manifest: its design as the
    generator draws it, its cohort, the overlap with the reference cohort,
    the companion population's excluded patients, targets and measured
    figures (its true parameters are under ``truth.parameters.companion``)."""
    companion = params.companion
    truth = _outcomes(patients, patients["companion_status"].to_numpy() == COMPANION_ELIGIBLE)
    present = set(patients["center_id"].unique())
    per_center = {
        center: {arm: int(count) for arm, count in
                 truth.loc[truth["center_id"] == center, "arm"].value_counts().sort_index()
                 .items()}
        for center in companion.center_ids if center in present
    }
    is_added = patients["population"].to_numpy() == POPULATION_COMPANION
    excluded = _rows(patients, is_added & (patients["companion_status"].to_numpy()
                                           != COMPANION_ELIGIBLE),
                     ["center_id", "patient_key", "companion_status"])
    excluded = excluded.sort_values(["center_id", "patient_key"])
    thresholds = patients["assignment_threshold"].to_numpy()[is_added]
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
            "eligible_patients": int(len(truth)),
            "per_arm": {arm: int((truth["arm"] == arm).sum()) for arm in ("ICI", "non-ICI")},
            "per_center_per_arm": per_center,
            "per_population": {name: int(count) for name, count in
                               truth["population"].value_counts().sort_index().items()},
            "in_reference_cohort": int(truth["patient_index"].isin(
                reference_truth["patient_index"]).sum()),
        },
        "excluded_patients": [
            {"center_id": row.center_id, "patient_key": row.patient_key,
             "reason": row.companion_status}
            for row in excluded.itertuples(index=False)
        ],
        "assignment_intercept_realised": (round(-float(thresholds[0]), 6)
                                          if len(thresholds) else None),
        "targets": COMPANION_TARGETS,
        "measured": measured_summary(truth),
    }

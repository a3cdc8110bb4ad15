"""Patient histories as event tables: lines, administrations, assessments, AEs.

Built vectorised from the patient-level frame of
:func:`rwe_synth.model.simulate_patients` (no per-patient Python loops), in
center-neutral form (day numbers, drug codes, RECIST codes). The center
formats are applied later by :mod:`rwe_synth.exports`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rwe_synth.model import population_parts, rng_for
from rwe_synth.parameters import ModelParameters
from rwe_synth.vocabulary import AE_INDEX, DRUG_INDEX, DRUGS, SITE_NAMES

_IS_CYTOTOXIC = np.asarray([drug.is_cytotoxic for drug in DRUGS] + [False])
_IS_FLAT_DOSE = np.asarray([not drug.body_size_dose for drug in DRUGS])
_NOMINAL_DOSE = np.asarray([drug.dose_mg for drug in DRUGS])


def _repeat_ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts c_i: (owner index of each of sum(c) items, 0-based position)."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(counts.sum(), dtype=np.int64) - np.repeat(starts, counts)
    return owner, position


def _by_population(frame: pd.DataFrame, build) -> pd.DataFrame:
    """``build(rows, population)`` for each population of ``frame``, concatenated
    (each population draws from its own streams)."""
    parts = [build(rows, population) for population, rows in population_parts(frame)]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def build_lines(patients: pd.DataFrame, seed: int, params: ModelParameters) -> pd.DataFrame:
    """One row per patient and treatment line (1, 2 and, if given, 3).

    Columns: ``patient_index``, ``line_number``, ``start_day``, drug codes
    ``drug_1..drug_3`` (-1 = none; in the order a regimen is written),
    ``chemo_cycles``, ``admin_end_offset`` (administrations strictly before
    it), ``progression_offset`` (-1 = none documented), ``best_response``,
    ``first_assessment_offset``, ``assessment_end_offset`` (assessments
    strictly before it), ``only_not_evaluable`` (pre-progression assessments
    are all "not evaluable"), ``not_evaluable_offset`` (-1 = none),
    ``ecog_ps``, site flags ``site_<name>`` at the line start,
    ``had_thoracic_radiotherapy``, ``had_prophylactic_cranial_irradiation``,
    ``vital_offset`` (days from line start to death or last contact),
    ``is_dead``, ``population``.
    """
    return _by_population(patients, lambda rows, population: _build_lines(
        rows, seed, population))


def _build_lines(patients: pd.DataFrame, seed: int, population: int) -> pd.DataFrame:
    rng = rng_for(seed, "lines", population=population)
    n = len(patients)
    sites = np.column_stack([
        patients[f"has_{site}_metastases" if site in ("liver", "brain", "bone")
                 else f"site_{site}"].to_numpy(dtype=bool)
        for site in SITE_NAMES
    ])
    ecog = patients["ecog_ps"].to_numpy()
    vital_end = patients["vital_end_day"].to_numpy()
    is_dead = patients["is_dead"].to_numpy()
    trt = patients["had_thoracic_radiotherapy"].to_numpy()
    pci = patients["had_prophylactic_cranial_irradiation"].to_numpy()
    empty = np.full(n, -1, dtype=np.int64)
    frames = []

    # first line: platinum + etoposide (+ ICI); ICI maintenance to progression
    pfs1 = patients["first_line_pfs_days"].to_numpy()
    start1 = patients["first_line_start_day"].to_numpy()
    drop = rng.random(sites.shape) < 0.2
    frames.append(_line_frame(
        patients, 1, start1,
        patients["first_line_backbone_drug"].to_numpy(), patients["first_line_platinum"].to_numpy(),
        patients["first_line_ici_drug"].to_numpy(),
        patients["first_line_chemo_cycles"].to_numpy(), pfs1, pfs1,
        patients["first_line_best_response"].to_numpy(),
        patients["first_line_first_assessment_offset"].to_numpy(), pfs1,
        np.zeros(n, dtype=bool), empty,
        np.maximum(0, ecog - (rng.random(n) < 0.3)), sites & ~drop,
        np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), vital_end - start1, is_dead,
    ))

    # second line
    has2 = patients["has_second_line"].to_numpy()
    start2 = patients["second_line_start_day"].to_numpy()
    end2 = np.minimum(patients["pfs_latent_days"].to_numpy(),
                      patients["censor_days"].to_numpy() + 1)
    progression2 = np.where(patients["is_progression_observed"],
                            patients["pfs_latent_days"], -1)
    # written order: partners (chemotherapy) first, then the ICI
    frames.append(_line_frame(
        patients, 2, start2,
        patients["second_line_drug_3"].to_numpy(), patients["second_line_drug_2"].to_numpy(),
        patients["second_line_drug_1"].to_numpy(),
        patients["second_line_chemo_cycles"].to_numpy(), end2, progression2,
        patients["best_response"].to_numpy(),
        patients["second_line_first_assessment_offset"].to_numpy(), end2,
        patients["has_only_not_evaluable_assessments"].to_numpy(),
        patients["not_evaluable_assessment_offset"].to_numpy(),
        ecog, sites, trt, pci, vital_end - start2, is_dead,
    ).loc[has2])

    # third line
    has3 = patients["has_third_line"].to_numpy()
    offset3 = patients["third_line_start_offset"].to_numpy()
    start3 = start2 + offset3
    t3 = patients["third_line_pfs_latent_days"].to_numpy()
    progression3 = patients["is_third_line_progression_observed"].to_numpy()
    os_latent = patients["os_latent_days"].to_numpy()
    censor = patients["censor_days"].to_numpy()
    end3 = np.where(progression3, t3,
                    np.where(os_latent <= censor, os_latent - offset3, censor - offset3 + 1))
    new_sites = sites | (rng.random(sites.shape) < 0.05)
    frames.append(_line_frame(
        patients, 3, start3, patients["third_line_drug"].to_numpy(), empty, empty,
        patients["third_line_chemo_cycles"].to_numpy(), end3,
        np.where(progression3, t3, -1),
        patients["third_line_best_response"].to_numpy(),
        patients["third_line_first_assessment_offset"].to_numpy(), end3,
        np.zeros(n, dtype=bool), empty,
        np.minimum(3, ecog + (rng.random(n) < 0.3)), new_sites, trt, pci,
        vital_end - start3, is_dead,
    ).loc[has3])
    lines = pd.concat(frames, ignore_index=True)
    lines["population"] = np.int8(population)
    return lines.sort_values(["patient_index", "line_number"], kind="stable",
                             ignore_index=True)


def _line_frame(patients, line_number, start, drug_1, drug_2, drug_3, chemo_cycles,
                admin_end, progression, best, first_assessment, assessment_end,
                only_not_evaluable, not_evaluable_offset, ecog, sites, trt, pci,
                vital_offset, is_dead) -> pd.DataFrame:
    n = len(patients)
    frame = pd.DataFrame({
        "patient_index": patients["patient_index"].to_numpy(),
        "line_number": np.full(n, line_number, dtype=np.int64),
        "start_day": np.asarray(start, dtype=np.int64),
        "drug_1": np.asarray(drug_1, dtype=np.int64),
        "drug_2": np.asarray(drug_2, dtype=np.int64),
        "drug_3": np.asarray(drug_3, dtype=np.int64),
        "chemo_cycles": np.asarray(chemo_cycles, dtype=np.int64),
        "admin_end_offset": np.asarray(admin_end, dtype=np.int64),
        "progression_offset": np.asarray(progression, dtype=np.int64),
        "best_response": np.asarray(best, dtype=object),
        "first_assessment_offset": np.asarray(first_assessment, dtype=np.int64),
        "assessment_end_offset": np.asarray(assessment_end, dtype=np.int64),
        "only_not_evaluable": np.asarray(only_not_evaluable, dtype=bool),
        "not_evaluable_offset": np.asarray(not_evaluable_offset, dtype=np.int64),
        "ecog_ps": np.asarray(ecog, dtype=np.int64),
        "had_thoracic_radiotherapy": np.asarray(trt, dtype=bool),
        "had_prophylactic_cranial_irradiation": np.asarray(pci, dtype=bool),
        "vital_offset": np.asarray(vital_offset, dtype=np.int64),
        "is_dead": np.asarray(is_dead, dtype=bool),
    })
    for column, site in enumerate(SITE_NAMES):
        frame[f"site_{site}"] = sites[:, column]
    return frame


def build_administrations(lines: pd.DataFrame, patients: pd.DataFrame, seed: int,
                          params: ModelParameters, stream: str = "administrations"
                          ) -> pd.DataFrame:
    """One row per drug given on a day (center_b's export grain).

    Each drug of a line is given every ``cycle_days`` from the line start,
    strictly before ``admin_end_offset`` (progression, death or after the last
    contact): cytotoxic drugs for the line's ``chemo_cycles``, ICIs and
    anlotinib for up to ``max_ici_cycles``. On each day of the line's first
    cytotoxic drug an antiemetic is given (same day) and a growth factor
    (next day) with the stated probabilities.

    ``stream`` names the random stream (each center draws its own; each
    population too).

    Returns
    -------
    pandas.DataFrame
        ``patient_index``, ``line_number``, ``day``, ``drug`` (code),
        ``dose_mg`` (float) and ``order`` (sort position within the patient).
    """
    return _by_population(lines, lambda rows, population: _build_administrations(
        rows, patients.loc[patients["population"].to_numpy() == population], seed, params,
        stream, population))


def _build_administrations(lines: pd.DataFrame, patients: pd.DataFrame, seed: int,
                           params: ModelParameters, stream: str, population: int
                           ) -> pd.DataFrame:
    tx = params.treatment
    rng = rng_for(seed, stream, population=population)
    slots = lines[["drug_1", "drug_2", "drug_3"]].to_numpy()
    line_index = np.repeat(np.arange(len(lines)), 3)
    slot = np.tile(np.arange(3), len(lines))
    drug = slots.reshape(-1)
    keep = drug >= 0
    line_index, slot, drug = line_index[keep], slot[keep], drug[keep]
    cytotoxic = _IS_CYTOTOXIC[drug]
    max_cycles = np.where(cytotoxic, lines["chemo_cycles"].to_numpy()[line_index],
                          tx.max_ici_cycles)
    end = lines["admin_end_offset"].to_numpy()[line_index]
    possible = np.maximum(0, -(-end // tx.cycle_days))
    counts = np.minimum(max_cycles, possible)
    owner, cycle = _repeat_ranges(counts)
    unit_line = line_index[owner]
    day_offset = cycle * tx.cycle_days
    start = lines["start_day"].to_numpy()[unit_line]
    rows = pd.DataFrame({
        "patient_index": lines["patient_index"].to_numpy()[unit_line],
        "line_number": lines["line_number"].to_numpy()[unit_line],
        "day": start + day_offset,
        "drug": drug[owner],
        "slot": slot[owner],
    })

    # supportive drugs on the days of the line's first cytotoxic drug
    first_cytotoxic_slot = np.full(len(lines), 9)
    for candidate in (2, 1, 0):
        has = _IS_CYTOTOXIC[np.where(slots[:, candidate] >= 0, slots[:, candidate], -1)]
        first_cytotoxic_slot = np.where(has, candidate, first_cytotoxic_slot)
    primary = rows["slot"].to_numpy() == first_cytotoxic_slot[unit_line]
    antiemetic = primary & (rng.random(len(rows)) < tx.p_antiemetic_on_chemotherapy_day)
    growth = (primary & (rng.random(len(rows)) < tx.p_growth_factor_next_day)
              & (day_offset + 1 < end[owner]))
    supportive = pd.concat([
        rows.loc[antiemetic].assign(drug=DRUG_INDEX["ondansetron"], slot=3),
        rows.loc[growth].assign(day=rows.loc[growth, "day"] + 1,
                                drug=DRUG_INDEX["pegfilgrastim"], slot=4),
    ])
    rows = pd.concat([rows, supportive], ignore_index=True)

    size = np.clip(rng.normal(1.0, tx.dose_size_sd, len(patients)), 0.75, 1.3)
    size_by_patient = pd.Series(size, index=patients["patient_index"].to_numpy())
    factor = size_by_patient.reindex(rows["patient_index"].to_numpy()).to_numpy()
    drug_codes = rows["drug"].to_numpy()
    nominal = _NOMINAL_DOSE[drug_codes]
    dose = np.where(_IS_FLAT_DOSE[drug_codes], nominal, nominal * factor)
    dose = np.where(dose >= 100, np.rint(dose / 10) * 10,
                    np.where(dose >= 10, np.rint(dose), np.rint(dose * 10) / 10))
    rows["dose_mg"] = dose
    rows = rows.sort_values(["patient_index", "day", "slot"], kind="stable",
                            ignore_index=True)
    rows["order"] = rows.groupby("patient_index").cumcount().to_numpy()
    return rows.drop(columns="slot")


def build_assessments(lines: pd.DataFrame, params: ModelParameters) -> pd.DataFrame:
    """One row per tumour assessment (center_b's assessments export).

    Assessments on a line fall on ``first_assessment_offset + k *
    interval_days`` strictly before ``assessment_end_offset``; each shows the
    line's best response (a CR is preceded by a PR; patients without disease
    control show "not evaluable"). A documented progression adds a PD
    assessment on the progression date; a recorded "not evaluable"
    assessment is added for NE patients who have one.

    Returns
    -------
    pandas.DataFrame
        ``patient_index``, ``line_number``, ``day``, ``response`` (RECIST
        code) and ``order``.
    """
    interval = params.response.interval_days
    first = lines["first_assessment_offset"].to_numpy()
    end = lines["assessment_end_offset"].to_numpy()
    best = lines["best_response"].to_numpy().astype(str)
    scheduled = np.isin(best, ("CR", "PR", "SD")) | lines["only_not_evaluable"].to_numpy()
    counts = np.where(scheduled & (first < end), -(-(end - first) // interval), 0)
    owner, position = _repeat_ranges(counts)
    response = np.where(lines["only_not_evaluable"].to_numpy()[owner], "NE", best[owner])
    response = np.where((response == "CR") & (position == 0) & (counts[owner] > 1), "PR",
                        response)
    start = lines["start_day"].to_numpy()
    regular = pd.DataFrame({
        "patient_index": lines["patient_index"].to_numpy()[owner],
        "line_number": lines["line_number"].to_numpy()[owner],
        "day": start[owner] + first[owner] + position * interval,
        "response": response,
    })
    progressed = lines["progression_offset"].to_numpy() >= 0
    progression = pd.DataFrame({
        "patient_index": lines["patient_index"].to_numpy()[progressed],
        "line_number": lines["line_number"].to_numpy()[progressed],
        "day": (start + lines["progression_offset"].to_numpy())[progressed],
        "response": "PD",
    })
    recorded_ne = lines["not_evaluable_offset"].to_numpy() >= 0
    not_evaluable = pd.DataFrame({
        "patient_index": lines["patient_index"].to_numpy()[recorded_ne],
        "line_number": lines["line_number"].to_numpy()[recorded_ne],
        "day": (start + lines["not_evaluable_offset"].to_numpy())[recorded_ne],
        "response": "NE",
    })
    rows = pd.concat([regular, progression, not_evaluable], ignore_index=True)
    rows = rows.sort_values(["patient_index", "day"], kind="stable", ignore_index=True)
    rows["order"] = rows.groupby("patient_index").cumcount().to_numpy()
    return rows


def build_adverse_events(patients: pd.DataFrame, lines: pd.DataFrame, seed: int,
                         params: ModelParameters) -> pd.DataFrame:
    """Treatment-related adverse events, one row per patient, line and term.

    Second line: each term with its arm's probability and grade distribution
    (:class:`~rwe_synth.parameters.AdverseEventModel`); then the grade 3
    rashes of the ICI arm are placed (exactly ``max(1, round(n_ici / 200 *
    grade_3_rash_per_200_ici))`` eligible ICI patients). First line: the
    chemotherapy terms. Onset: uniform over the line up to
    ``max_onset_days``, before its progression or death and not after the
    last contact.

    Returns
    -------
    pandas.DataFrame
        ``patient_index``, ``line_number``, ``term`` (AE key), ``grade``,
        ``day`` and ``order``.
    """
    return _by_population(lines, lambda rows, population: _build_adverse_events(
        patients.loc[patients["population"].to_numpy() == population], rows, seed, params,
        population))


def _build_adverse_events(patients: pd.DataFrame, lines: pd.DataFrame, seed: int,
                          params: ModelParameters, population: int) -> pd.DataFrame:
    model = params.adverse_events
    rng = rng_for(seed, "adverse_events", population=population)
    frames = []

    second = lines.loc[lines["line_number"] == 2].reset_index(drop=True)
    is_ici = (patients.set_index("patient_index")["is_ici"]
              .reindex(second["patient_index"]).to_numpy())
    eligible_ici = (patients.loc[(patients["status"] == "eligible") & patients["is_ici"],
                                 "patient_index"].to_numpy())
    n_grade_3 = (max(1, int(round(len(eligible_ici) / 200 * model.grade_3_rash_per_200_ici)))
                 if len(eligible_ici) else 0)
    grade_3_patients = np.sort(rng.choice(eligible_ici, size=n_grade_3, replace=False))
    for term, spec in model.second_line.items():
        p = np.where(is_ici, spec["ICI"], spec["non-ICI"])
        present = rng.random(len(second)) < p
        grade = np.where(is_ici, _draw_grades(rng, spec["grades_ici"], len(second)),
                         _draw_grades(rng, spec["grades_non_ici"], len(second)))
        if term == "rash":
            forced = np.isin(second["patient_index"].to_numpy(), grade_3_patients)
            present |= forced
            grade = np.where(forced, 3, grade)
        frames.append(_ae_frame(second.loc[present], term, grade[present], rng,
                                model.max_onset_days))

    first = lines.loc[lines["line_number"] == 1].reset_index(drop=True)
    for term, probability in model.first_line.items():
        present = rng.random(len(first)) < probability
        grade = _draw_grades(rng, model.first_line_grades, len(first))
        frames.append(_ae_frame(first.loc[present], term, grade[present], rng,
                                model.max_onset_days))
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.sort_values(["patient_index", "line_number", "day", "term_index"],
                            kind="stable", ignore_index=True)
    rows["order"] = rows.groupby("patient_index").cumcount().to_numpy()
    return rows


def _draw_grades(rng: np.random.Generator, probabilities, n: int) -> np.ndarray:
    p = np.asarray(probabilities, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum()) + 1


def _ae_frame(lines: pd.DataFrame, term: str, grade: np.ndarray, rng: np.random.Generator,
              max_onset_days: int) -> pd.DataFrame:
    end = np.maximum(1, np.minimum(lines["admin_end_offset"].to_numpy(), max_onset_days + 1))
    offset = np.floor(rng.random(len(lines)) * end).astype(np.int64)
    return pd.DataFrame({
        "patient_index": lines["patient_index"].to_numpy(),
        "line_number": lines["line_number"].to_numpy(),
        "term": term,
        "term_index": AE_INDEX[term],
        "grade": np.asarray(grade, dtype=np.int64),
        "day": lines["start_day"].to_numpy() + offset,
    })

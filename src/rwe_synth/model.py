"""The patient-level model: covariates, treatment assignment, outcomes.

Everything here is vectorised over patients (numpy), pure, and deterministic
given the seed: each component draws from its own random stream
(``numpy.random.SeedSequence([seed, stream])``), so changing one component
does not shift the draws of another.

The registry holds two populations (column ``population``): the reference
study's patients (second line in its window, plus its extras), exactly as
they always were, and the companion study's added patients
(:class:`~rwe_synth.parameters.CompanionStudy`), whose components draw from
streams of their own (``SeedSequence([seed, 17, stream])``), so adding them
moves no draw of the reference population.

Dates are integer day numbers since 1970-01-01 (``numpy.datetime64[D]``
values); offsets (``*_offset``, ``*_days``) count days from a line start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rwe_synth.parameters import (
    AGE_CENTRE_YEARS,
    DAYS_PER_MONTH,
    MODEL_TERMS,
    AssignmentModel,
    ModelParameters,
)
from rwe_synth.vocabulary import DRUG_INDEX, SITE_NAMES

DEFAULT_PARAMETERS = ModelParameters()

STATUS_ELIGIBLE = "eligible"
STATUS_NO_SECOND_LINE = "no_second_line"
STATUS_OUTSIDE_WINDOW = "second_line_outside_study_window"

_STREAMS = {
    "layout": 1,
    "covariates": 2,
    "assignment": 3,
    "treatment": 4,
    "outcomes": 5,
    "response": 6,
    "third_line": 7,
    "extras": 8,
    "second_line_regimen": 9,
    "lines": 10,
    "administrations": 11,
    "adverse_events": 12,
    "identifiers": 13,
    "dirty_rows": 14,
    "line_history": 15,
    "omop_center": 16,
    "companion": 17,  # the namespace of the companion population's streams
}

#: The populations of the registry (column ``population``): the reference
#: study's patients and the companion study's added patients.
POPULATION_REFERENCE = 0
POPULATION_COMPANION = 1
POPULATION_NAMES = ("reference", "companion")

#: Reasons a patient is not in the companion cohort (column
#: ``companion_status``), in the order the rule checks them; 'eligible' otherwise.
COMPANION_EXCLUSION_REASONS = (
    "center_not_in_study",
    "no_second_line",
    "first_line_without_ici",
    "first_line_not_platinum_etoposide",
    "second_line_outside_study_window",
)
#: The companion population's extra (non-eligible) patients, per center and reason.
COMPANION_EXTRA_REASONS = COMPANION_EXCLUSION_REASONS[1:]
COMPANION_ELIGIBLE = "eligible"

#: ``--line-history``: the default histories, or the harder variant for
#: validating line derivation (:class:`~rwe_synth.parameters.HardLineHistoryModel`).
LINE_HISTORIES = ("default", "hard")
N_CENTERS = (1, 2, 3, 4)


def day_number(iso_date: str) -> int:
    """Day number (days since 1970-01-01) of an ISO date string."""
    return int(np.datetime64(iso_date, "D").astype(np.int64))


def rng_for(seed: int, stream: str, *substream: int,
            population: int = POPULATION_REFERENCE) -> np.random.Generator:
    """The random generator of one named component (and sub-stream) for a seed.

    The companion population's components draw from their own streams
    (``[seed, 17, stream, ...]``), the reference population's from
    ``[seed, stream, ...]`` as always.
    """
    namespace = () if population == POPULATION_REFERENCE else (_STREAMS["companion"],)
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed), *namespace, _STREAMS[stream], *map(int, substream)]))


def population_parts(frame: pd.DataFrame):
    """``(population, rows)`` for each population present in ``frame`` (in
    population order), so a component draws each population from its own
    streams and the reference population's draws stay what they were."""
    codes = frame["population"].to_numpy()
    for population in (POPULATION_REFERENCE, POPULATION_COMPANION):
        mask = codes == population
        if mask.all():
            yield population, frame
            return
        if mask.any():
            yield population, frame.loc[mask]


def months_to_days(months: np.ndarray) -> np.ndarray:
    """Months (30.4375 days) to whole days, at least 1."""
    return np.maximum(1, np.rint(np.asarray(months) * DAYS_PER_MONTH)).astype(np.int64)


def arm_sizes(n_patients: int) -> tuple[int, int]:
    """Exact (ICI, non-ICI) sizes: ``round(N * 200 / 496)`` ICI, the rest non-ICI."""
    n_ici = int(round(n_patients * 200 / 496))
    return n_ici, n_patients - n_ici


def center_counts(n_patients: int, n_centers: int, params: ModelParameters) -> list[int]:
    """Eligible patients per center by the largest-remainder rule."""
    return largest_remainder(params.center_shares(n_centers), n_patients)


def largest_remainder(shares, n_patients: int) -> list[int]:
    """``n_patients`` split by ``shares`` (summing to 1) by the largest-remainder rule."""
    shares = np.asarray(shares, dtype=float)
    raw = shares * n_patients
    counts = np.floor(raw).astype(int)
    for index in np.argsort(-(raw - counts), kind="stable")[: n_patients - counts.sum()]:
        counts[index] += 1
    return counts.tolist()


def companion_sizes(n_patients: int, params: ModelParameters) -> tuple[int, int]:
    """The companion cohort's (continuation, discontinuation) sizes for ``n_patients``
    reference-study patients: ``round(N * 118 / 496)`` and ``round(N * 211 / 496) -``
    that (exactly 118 / 93 at 496)."""
    design, companion = params.design, params.companion
    n_total = int(round(n_patients * companion.published_patients
                        / design.published_patients))
    n_ici = int(round(n_patients * companion.published_continuation_patients
                      / design.published_patients))
    return n_ici, n_total - n_ici


def linear_predictor(frame: pd.DataFrame, coefficients: Mapping[str, float]) -> np.ndarray:
    """``sum(coefficient * term)`` over the named terms of ``frame``.

    ``age_years`` enters centred at 60; a term missing from ``frame`` raises
    ``KeyError`` so a typo cannot silently drop an effect.
    """
    eta = np.zeros(len(frame))
    for term, coefficient in coefficients.items():
        if coefficient == 0.0:
            continue
        values = frame[term].to_numpy(dtype=float)
        if term == "age_years":
            values = values - AGE_CENTRE_YEARS
        eta += coefficient * values
    return eta


def validate_arguments(n_patients: int, n_centers: int, seed: int = 0,
                       line_history: str = "default") -> None:
    """Raise ``ValueError`` with an actionable sentence for bad arguments."""
    if not isinstance(n_patients, int | np.integer) or n_patients < 1:
        raise ValueError(f"--patients must be a positive integer, got {n_patients!r}.")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed!r}.")
    if n_centers not in N_CENTERS:
        raise ValueError(
            f"--centers must be 1, 2, 3 or 4 (center_a, center_b, center_c, center_d in "
            f"that order), got {n_centers!r}."
        )
    if line_history not in LINE_HISTORIES:
        raise ValueError(f"--line-history must be one of {', '.join(LINE_HISTORIES)}, "
                         f"got {line_history!r}.")


def simulate_patients(
    n_patients: int,
    n_centers: int,
    seed: int,
    params: ModelParameters = DEFAULT_PARAMETERS,
    *,
    center_sizes: list[int] | None = None,
    n_ici: int | None = None,
    companion_arms: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Simulate every patient of the exports: both populations of the registry.

    Parameters
    ----------
    n_patients : int
        Number of eligible patients of the reference study (second line
        inside its window); the companion cohort gets ``round(N * 211 / 496)``
        (:func:`companion_sizes`).
    n_centers : int
        1 to 4; centers ``center_a``, ``center_b``, ``center_c``, ``center_d`` in order.
    seed : int
        Seed of every random stream.
    params : ModelParameters
        The true parameters (default: :class:`~rwe_synth.parameters.ModelParameters`).
    center_sizes, n_ici, companion_arms
        Eligible patients per center, ICI patients and the companion
        cohort's (continuation, discontinuation) sizes, when not those of
        ``n_patients`` (:func:`center_counts`, :func:`arm_sizes`,
        :func:`companion_sizes`): one block's share of a cohort simulated in
        blocks (:func:`rwe_synth.blocks.plan_blocks`).

    Returns
    -------
    pandas.DataFrame
        One row per patient. First the reference population (``population``
        0): the ``n_patients`` eligible (``status == 'eligible'``), then its
        non-eligible extras (``no_second_line``,
        ``second_line_outside_study_window``); then the companion population
        (``population`` 1, every ``status`` a reference-study exclusion).
        ``companion_status`` is ``'eligible'`` for the companion cohort, else
        the companion rule's first failed reason. Columns hold covariates in
        contract names, arm, regimens (drug codes of
        :data:`rwe_synth.vocabulary.DRUGS`), dates as day numbers and the
        latent and observed outcomes.
    """
    validate_arguments(n_patients, n_centers, seed)
    reference = simulate_reference_population(n_patients, n_centers, seed, params,
                                              center_sizes=center_sizes, n_ici=n_ici)
    companion = simulate_companion_population(n_patients, n_centers, seed, params, reference,
                                              arms=companion_arms)
    if len(companion) == 0:
        return reference
    # column by column, each population's column dropped once copied: the
    # two populations and their concatenation are never all held at once
    columns = {}
    for name in list(reference.columns):
        columns[name] = pd.concat([reference.pop(name), companion.pop(name)],
                                  ignore_index=True)
    # copy=False: the columns as they are, not copied into 2-D blocks
    return pd.DataFrame(columns, copy=False)


def share_strings(values):
    """``values`` as an object array holding one string object per distinct
    value when there are few (numpy makes one object per row when a text
    array becomes an object array: about 50 bytes a row, GBs at 10,000,000
    patients); other values unchanged."""
    array = np.asarray(values)
    if array.dtype.kind not in "OU" or array.ndim != 1:
        return values
    if len(pd.unique(array[:10_000])) > 1024:
        return values
    codes, distinct = pd.factorize(array, use_na_sentinel=False)
    if len(distinct) > 1024:
        return values
    return np.asarray(distinct, dtype=object)[codes]


def with_columns(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    """``frame.assign(**columns)`` without copying ``frame``'s own columns (a
    second copy of the whole patient frame at each step), text columns of
    few values sharing their strings (:func:`share_strings`)."""
    out = frame.copy(deep=False)
    for name, values in columns.items():
        out[name] = share_strings(values)
    return out


def _patients_with_identifiers(n_patients: int, n_centers: int, seed: int,
                               params: ModelParameters, companion: bool = True,
                               chunk_patients: int | None = None) -> list[pd.DataFrame]:
    """:func:`simulate_patients` with patient keys, one frame per block of
    ``chunk_patients`` (:func:`rwe_synth.blocks.simulate_blocks`; the
    companion population left out of a one-block run when ``companion`` is
    false: the reference population does not depend on it)."""
    from rwe_synth.blocks import simulate_blocks

    return [patients for _, patients, _ in simulate_blocks(
        n_patients, n_centers, seed, params, chunk_patients, companion)]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def simulate_reference_population(n_patients: int, n_centers: int, seed: int,
                                  params: ModelParameters, *,
                                  center_sizes: list[int] | None = None,
                                  n_ici: int | None = None) -> pd.DataFrame:
    """The reference study's patients, drawn exactly as before the companion existed."""
    layout = _layout(n_patients, n_centers, seed, params, center_sizes)
    frame = _covariates(layout, seed, params)
    frame = _assign_treatment(frame, seed, params, n_ici=n_ici)
    frame = _first_line(frame, seed, params)
    frame = _second_line_regimen(frame, seed, params)
    frame = _outcomes(frame, seed, params)
    frame = _third_line(frame, seed, params)
    frame = _patients_without_second_line(frame, seed, params)
    frame["population"] = np.int8(POPULATION_REFERENCE)
    frame["companion_status"] = share_strings(companion_status(frame, params))
    return frame


def companion_parameters(params: ModelParameters) -> ModelParameters:
    """The parameters the companion population is drawn with: the reference
    model with the companion's window and cut-off, first-line ICIs, treatment
    choice, PFS, post-progression and response models."""
    companion = params.companion
    return dataclasses.replace(
        params,
        design=dataclasses.replace(
            params.design, study_window_start_date=companion.study_window_start_date,
            study_window_end_date=companion.study_window_end_date,
            data_cutoff_date=companion.data_cutoff_date),
        assignment=AssignmentModel(coefficients=dict(companion.assignment)),
        treatment=dataclasses.replace(params.treatment,
                                      first_line_ici=dict(companion.first_line_ici)),
        pfs=companion.pfs,
        post_progression=companion.post_progression,
        response=companion.response,
    )


def simulate_companion_population(n_patients: int, n_centers: int, seed: int,
                                  params: ModelParameters, reference: pd.DataFrame,
                                  arms: tuple[int, int] | None = None) -> pd.DataFrame:
    """The companion study's added patients, from the companion's own streams.

    Sized so that the companion cohort (reference patients who meet its rule,
    if any, plus these) has exactly ``arms`` (default :func:`companion_sizes`)
    patients per arm whenever the reference population does not already
    exceed them.
    """
    population = POPULATION_COMPANION
    model = companion_parameters(params)
    in_cohort = reference["companion_status"].to_numpy() == COMPANION_ELIGIBLE
    already_ici = int(reference["is_ici"].to_numpy()[in_cohort].sum())
    target_ici, target_non = arms if arms is not None else companion_sizes(n_patients, params)
    n_ici = max(0, target_ici - already_ici)
    n_non = max(0, target_non - (int(in_cohort.sum()) - already_ici))
    layout = _companion_layout(n_ici + n_non, n_centers, seed, params,
                               first_index=len(reference))
    status = layout["companion_status"].to_numpy()
    frame = _covariates(layout, seed, model, population,
                        first_line_ici=status != "first_line_without_ici")
    frame = _assign_treatment(frame, seed, model, population,
                              eligible=status == COMPANION_ELIGIBLE, n_ici=n_ici)
    backbone = np.where(status == "first_line_not_platinum_etoposide",
                        DRUG_INDEX[params.companion.other_first_line_backbone],
                        DRUG_INDEX["etoposide"])
    frame = _first_line(frame, seed, model, population, backbone=backbone)
    frame = _companion_second_line_regimen(frame, seed, model, population)
    frame = _outcomes(frame, seed, model, population)
    frame = _third_line(frame, seed, model, population)
    frame = _patients_without_second_line(frame, seed, model, population)
    frame["population"] = np.int8(population)
    return frame[reference.columns]


def companion_status(patients: pd.DataFrame, params: ModelParameters) -> np.ndarray:
    """The companion study's rule per patient: ``'eligible'`` or the first
    reason (:data:`COMPANION_EXCLUSION_REASONS`) the patient fails.

    Eligible: treated at one of the companion's centers, first line
    platinum-etoposide plus an ICI, a second line (every first line of the
    generator ends in a documented progression) starting inside the
    companion's window.
    """
    companion = params.companion
    start = patients["second_line_start_day"].to_numpy()
    in_window = ((start >= day_number(companion.study_window_start_date))
                 & (start <= day_number(companion.study_window_end_date)))
    conditions = (
        ~np.isin(patients["center_id"].to_numpy(), companion.center_ids),
        patients["status"].to_numpy() == STATUS_NO_SECOND_LINE,
        ~patients["had_first_line_ici"].to_numpy(dtype=bool),
        patients["first_line_backbone_drug"].to_numpy() != DRUG_INDEX["etoposide"],
        ~in_window,
    )
    status = np.full(len(patients), COMPANION_ELIGIBLE, dtype=object)
    for reason, failed in zip(reversed(COMPANION_EXCLUSION_REASONS), reversed(conditions),
                              strict=True):
        status = np.where(failed, reason, status)
    return status


def truth_frame(
    n_patients: int,
    n_centers: int,
    seed: int,
    params: ModelParameters = DEFAULT_PARAMETERS,
    chunk_patients: int | None = None,
) -> pd.DataFrame:
    """The clean patient-level truth of the reference study's eligible cohort.

    One row per eligible patient, in the columns of the ``analysis_cohort``
    contract (docs/analysis-cohort-contract.md) plus ``patient_index``,
    ``patient_key`` (the center's key in the raw export),
    ``pfs_event_type`` (progression / death / censored), the latent
    (uncensored) PFS and OS in months, the true propensity score and
    ``population`` (``'reference'``; see :func:`companion_truth_frame`). Values
    are exactly what a correct pipeline derives from the raw exports written
    with the same arguments (whole days, months = days / 30.4375, censoring
    at the last contact or the data cut-off).

    Parameters
    ----------
    n_patients, n_centers, seed, params
        As for :func:`simulate_patients`.
    chunk_patients
        As for :func:`rwe_synth.generate`: the cohort of a run in blocks
        (each block simulated on its own); default one block.

    Returns
    -------
    pandas.DataFrame
        The truth frame, ``n_patients`` rows.
    """
    return _concat([cohort_truth(patients, params) for patients in _patients_with_identifiers(
        n_patients, n_centers, seed, params, companion=False, chunk_patients=chunk_patients)])


def companion_truth_frame(
    n_patients: int,
    n_centers: int,
    seed: int,
    params: ModelParameters = DEFAULT_PARAMETERS,
    chunk_patients: int | None = None,
) -> pd.DataFrame:
    """The clean patient-level truth of the companion study's cohort.

    As :func:`truth_frame`, for the patients the companion's rule takes
    (:func:`companion_status`): ``is_ici`` / ``arm`` 'ICI' = an ICI in the
    second line (continuation), outcomes censored at the companion's
    cut-off, ``population`` says which population (and so which outcome
    model) the patient comes from. Exactly :func:`companion_sizes` patients
    per arm (118 / 93 at 496).
    """
    return study_truth_frames(n_patients, n_centers, seed, params, chunk_patients)["companion"]


def study_truth_frames(n_patients: int, n_centers: int, seed: int,
                       params: ModelParameters = DEFAULT_PARAMETERS,
                       chunk_patients: int | None = None) -> dict[str, pd.DataFrame]:
    """Both studies' truth frames from one simulation:
    ``{'reference': truth_frame(...), 'companion': companion_truth_frame(...)}``."""
    blocks = _patients_with_identifiers(n_patients, n_centers, seed, params,
                                        chunk_patients=chunk_patients)
    return {"reference": _concat([cohort_truth(patients, params) for patients in blocks]),
            "companion": _concat([companion_truth(patients, params) for patients in blocks])}


def cohort_truth(patients: pd.DataFrame, params: ModelParameters = DEFAULT_PARAMETERS
                 ) -> pd.DataFrame:
    """The truth frame of the reference study's eligible rows of
    :func:`simulate_patients`' output."""
    return _truth_rows(patients.loc[patients["status"] == STATUS_ELIGIBLE])


def companion_truth(patients: pd.DataFrame, params: ModelParameters = DEFAULT_PARAMETERS
                    ) -> pd.DataFrame:
    """The truth frame of the companion study's cohort of :func:`simulate_patients`'
    output (each population's outcomes are censored at its own records' end,
    which is on or before the companion's cut-off)."""
    return _truth_rows(patients.loc[patients["companion_status"] == COMPANION_ELIGIBLE])


def _truth_rows(eligible: pd.DataFrame) -> pd.DataFrame:
    start = eligible["second_line_start_day"].to_numpy()
    response = eligible["best_response"].to_numpy()
    event_type = np.where(
        eligible["is_progression_observed"], "progression",
        np.where(eligible["is_pfs_event"], "death", "censored"),
    )
    truth = pd.DataFrame({
        "patient_index": eligible["patient_index"].to_numpy(),
        "patient_key": (eligible["patient_key"].to_numpy() if "patient_key" in eligible
                        else np.full(len(eligible), None, dtype=object)),
        "center_id": eligible["center_id"].to_numpy(),
        "arm": np.where(eligible["is_ici"], "ICI", "non-ICI"),
        "is_ici": eligible["is_ici"].to_numpy(),
        "second_line_start_date": start.astype("datetime64[D]"),
        "second_line_regimen": eligible["second_line_regimen"].to_numpy(),
        "age_years": eligible["age_years"].to_numpy(),
        "is_age_65_or_older": eligible["age_years"].to_numpy() >= 65,
        "sex": np.where(eligible["is_male"], "male", "female"),
        "is_male": eligible["is_male"].to_numpy(),
        "ecog_ps": eligible["ecog_ps"].to_numpy(),
        "is_ecog_2_or_more": eligible["is_ecog_2_or_more"].to_numpy(),
        "is_ever_smoker": eligible["is_ever_smoker"].to_numpy(),
        "has_liver_metastases": eligible["has_liver_metastases"].to_numpy(),
        "has_brain_metastases": eligible["has_brain_metastases"].to_numpy(),
        "has_bone_metastases": eligible["has_bone_metastases"].to_numpy(),
        "metastatic_site_count": eligible["metastatic_site_count"].to_numpy(),
        "has_three_or_more_metastatic_sites":
            eligible["has_three_or_more_metastatic_sites"].to_numpy(),
        "had_thoracic_radiotherapy": eligible["had_thoracic_radiotherapy"].to_numpy(),
        "had_prophylactic_cranial_irradiation":
            eligible["had_prophylactic_cranial_irradiation"].to_numpy(),
        "had_first_line_ici": eligible["had_first_line_ici"].to_numpy(),
        "first_line_pfs_months": eligible["first_line_pfs_days"].to_numpy() / DAYS_PER_MONTH,
        "is_first_line_pfs_6_months_or_more":
            eligible["is_first_line_pfs_6_months_or_more"].to_numpy(),
        "pfs_months": eligible["pfs_days"].to_numpy() / DAYS_PER_MONTH,
        "is_pfs_event": eligible["is_pfs_event"].to_numpy(),
        "os_months": eligible["os_days"].to_numpy() / DAYS_PER_MONTH,
        "is_os_event": eligible["is_os_event"].to_numpy(),
        "pfs_end_date": (start + eligible["pfs_days"].to_numpy()).astype("datetime64[D]"),
        "os_end_date": (start + eligible["os_days"].to_numpy()).astype("datetime64[D]"),
        "best_response": response,
        "is_objective_response": np.isin(response, ("CR", "PR")),
        "is_disease_control": np.isin(response, ("CR", "PR", "SD")),
        "pfs_event_type": event_type,
        "latent_pfs_months": eligible["pfs_latent_days"].to_numpy() / DAYS_PER_MONTH,
        "latent_os_months": eligible["os_latent_days"].to_numpy() / DAYS_PER_MONTH,
        "true_propensity_score": eligible["true_propensity_score"].to_numpy(),
        "population": np.asarray(POPULATION_NAMES, dtype=object)[
            eligible["population"].to_numpy(dtype=np.int64)],
    })
    return truth.reset_index(drop=True)


# ---------------------------------------------------------------------------
# components
# ---------------------------------------------------------------------------


def _layout(n_patients: int, n_centers: int, seed: int, params: ModelParameters,
            counts: list[int] | None = None) -> pd.DataFrame:
    """Centers, status and second-line start dates of every patient
    (``counts``: eligible patients per center, default :func:`center_counts`)."""
    design = params.design
    rng = rng_for(seed, "layout")
    if counts is None:
        counts = center_counts(n_patients, n_centers, params)
    elif sum(counts) != n_patients:
        raise ValueError(f"center sizes {counts} do not add up to {n_patients} patients.")
    center_index = rng.permutation(np.repeat(np.arange(n_centers), counts))
    status = [np.full(n_patients, STATUS_ELIGIBLE, dtype=object)]
    centers = [center_index]
    for center, count in enumerate(counts):
        n_extra = max(design.extra_patients_minimum,
                      int(round(design.extra_patients_rate * count)))
        for reason in (STATUS_NO_SECOND_LINE, STATUS_OUTSIDE_WINDOW):
            status.append(np.full(n_extra, reason, dtype=object))
            centers.append(np.full(n_extra, center))
    status_all = np.concatenate(status)
    center_all = np.concatenate(centers).astype(np.int8)
    n_total = len(status_all)

    window_start = day_number(design.study_window_start_date)
    window_end = day_number(design.study_window_end_date)
    start = rng.integers(window_start, window_end + 1, size=n_total)
    outside = status_all == STATUS_OUTSIDE_WINDOW
    early = rng.random(n_total) < 0.5
    early_start = rng.integers(day_number(design.early_second_line_from), window_start,
                               size=n_total)
    late_start = rng.integers(
        window_end + 1,
        day_number(design.data_cutoff_date) - design.late_second_line_margin_days + 1,
        size=n_total,
    )
    start = np.where(outside, np.where(early, early_start, late_start), start)
    return pd.DataFrame({
        "patient_index": np.arange(n_total, dtype=np.int64),
        "center_index": center_all,
        "center_id": np.asarray(params.center_ids(n_centers), dtype=object)[center_all],
        "status": share_strings(status_all),
        "second_line_start_day": start.astype(np.int64),
    })


def _companion_layout(n_eligible: int, n_centers: int, seed: int, params: ModelParameters,
                      first_index: int) -> pd.DataFrame:
    """Centers, companion status and second-line starts of the companion population.

    Its eligible patients are split over the companion's centers present in
    the run (largest remainder of the companion's shares), each center then
    gets ``max(minimum, round(rate * eligible))`` extra patients per reason
    of :data:`COMPANION_EXTRA_REASONS`. Second lines start uniformly in the
    companion's window, after it (up to the cut-off minus a margin) for
    ``second_line_outside_study_window``; ``status`` is the reference
    study's view (second line outside its window, or no second line).
    """
    companion = params.companion
    center_ids = params.center_ids(n_centers)
    present = [center for center in companion.center_ids if center in center_ids]
    shares = np.asarray([companion.center_shares[companion.center_ids.index(center)]
                         for center in present])
    counts = largest_remainder(shares / shares.sum(), n_eligible)
    rng = rng_for(seed, "layout", population=POPULATION_COMPANION)
    center_slot = [rng.permutation(np.repeat(np.arange(len(present)), counts))]
    companion_status = [np.full(n_eligible, COMPANION_ELIGIBLE, dtype=object)]
    for slot, count in enumerate(counts):
        n_extra = max(companion.extra_patients_minimum,
                      int(round(companion.extra_patients_rate * count)))
        for reason in COMPANION_EXTRA_REASONS:
            companion_status.append(np.full(n_extra, reason, dtype=object))
            center_slot.append(np.full(n_extra, slot))
    status_all = np.concatenate(companion_status)
    center_index = np.asarray([center_ids.index(center) for center in present],
                              dtype=np.int8)[np.concatenate(center_slot).astype(np.int64)]
    n_total = len(status_all)
    window_start = day_number(companion.study_window_start_date)
    window_end = day_number(companion.study_window_end_date)
    start = rng.integers(window_start, window_end + 1, size=n_total)
    late_start = rng.integers(
        window_end + 1,
        day_number(companion.data_cutoff_date) - companion.late_second_line_margin_days + 1,
        size=n_total)
    outside = status_all == "second_line_outside_study_window"
    return pd.DataFrame({
        "patient_index": np.arange(first_index, first_index + n_total, dtype=np.int64),
        "center_index": center_index,
        "center_id": np.asarray(center_ids, dtype=object)[center_index],
        "status": share_strings(np.where(status_all == "no_second_line",
                                         STATUS_NO_SECOND_LINE, STATUS_OUTSIDE_WINDOW)),
        "companion_status": share_strings(status_all),
        "second_line_start_day": np.where(outside, late_start, start).astype(np.int64),
    })


def _covariates(frame: pd.DataFrame, seed: int, params: ModelParameters,
                population: int = POPULATION_REFERENCE,
                first_line_ici: np.ndarray | None = None) -> pd.DataFrame:
    """Baseline covariates; ``first_line_ici`` (by design) replaces the drawn
    first-line regimen (the companion population's)."""
    cov = params.covariates
    rng = rng_for(seed, "covariates", population=population)
    n = len(frame)
    age = np.clip(np.rint(rng.normal(cov.age_mean_years, cov.age_sd_years, n)),
                  cov.age_min_years, cov.age_max_years).astype(np.int64)
    male = rng.random(n) < cov.p_male
    smoker = rng.random(n) < np.where(male, cov.p_ever_smoker_male, cov.p_ever_smoker_female)
    former = smoker & (rng.random(n) < cov.p_former_given_ever_smoker)
    ecog = rng.choice(len(cov.ecog_probabilities), size=n,
                      p=np.asarray(cov.ecog_probabilities)).astype(np.int64)
    burden = rng.normal(0.0, cov.site_burden_sd, n)
    sites = {}
    for site in SITE_NAMES:
        p = cov.site_prevalence[site]
        logit = np.log(p / (1 - p)) + burden
        sites[site] = rng.random(n) < 1 / (1 + np.exp(-logit))
    site_count = np.sum([sites[site] for site in SITE_NAMES], axis=0).astype(np.int64)
    thoracic_rt = rng.random(n) < cov.p_thoracic_radiotherapy
    pci = rng.random(n) < np.where(sites["brain"], cov.p_pci_with_brain_metastases,
                                   cov.p_pci_without_brain_metastases)
    years_2020 = (frame["second_line_start_day"].to_numpy()
                  - day_number("2020-01-01")) / 365.25
    p_first_line_ici = 1 / (1 + np.exp(-(cov.first_line_ici_logit_intercept
                                         + cov.first_line_ici_logit_per_year * years_2020)))
    drawn = rng.random(n) < p_first_line_ici
    first_line_ici = drawn if first_line_ici is None else np.asarray(first_line_ici, dtype=bool)
    median = np.where(first_line_ici, cov.first_line_pfs_median_months_chemo_ici,
                      cov.first_line_pfs_median_months_chemo)
    first_line_pfs_months = np.clip(median * np.exp(rng.normal(0, cov.first_line_pfs_log_sd, n)),
                                    cov.first_line_pfs_min_months,
                                    cov.first_line_pfs_max_months)
    first_line_pfs_days = months_to_days(first_line_pfs_months)
    delay = rng.integers(cov.second_line_delay_days[0], cov.second_line_delay_days[1] + 1, n)
    window_start = day_number(params.design.study_window_start_date)
    out = with_columns(
        frame,
        age_years=age,
        is_male=male,
        is_ever_smoker=smoker,
        is_former_smoker=former,
        ecog_ps=ecog,
        is_ecog_2_or_more=ecog >= 2,
        **{f"has_{site}_metastases" if site in ("liver", "brain", "bone")
           else f"site_{site}": sites[site] for site in SITE_NAMES},
        metastatic_site_count=site_count,
        has_three_or_more_metastatic_sites=site_count >= 3,
        had_thoracic_radiotherapy=thoracic_rt,
        had_prophylactic_cranial_irradiation=pci,
        had_first_line_ici=first_line_ici,
        first_line_pfs_days=first_line_pfs_days,
        is_first_line_pfs_6_months_or_more=first_line_pfs_days / DAYS_PER_MONTH >= 6,
        second_line_delay_days=delay.astype(np.int64),
        years_since_window_start=(frame["second_line_start_day"].to_numpy()
                                  - window_start) / 365.25,
    )
    return out


def site_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Boolean (patients x 7) matrix of metastatic sites in SITE_NAMES order."""
    columns = [f"has_{site}_metastases" if site in ("liver", "brain", "bone") else f"site_{site}"
               for site in SITE_NAMES]
    return frame[columns].to_numpy(dtype=bool)


def _assign_treatment(frame: pd.DataFrame, seed: int, params: ModelParameters,
                      population: int = POPULATION_REFERENCE,
                      eligible: np.ndarray | None = None, n_ici: int | None = None
                      ) -> pd.DataFrame:
    """Exactly ``n_ici`` (default :func:`arm_sizes`) of the ``eligible``
    patients (default: the reference study's) get an ICI: the highest latent
    scores."""
    rng = rng_for(seed, "assignment", population=population)
    eta = linear_predictor(frame, params.assignment.coefficients)
    score = eta + rng.logistic(0.0, 1.0, len(frame))
    if eligible is None:
        eligible = (frame["status"] == STATUS_ELIGIBLE).to_numpy()
    if n_ici is None:
        n_ici = arm_sizes(int(eligible.sum()))[0]
    n_non = int(eligible.sum()) - n_ici
    ordered = np.sort(score[eligible])
    if len(ordered) == 0:
        threshold = 0.0
    elif n_ici == 0:
        threshold = ordered[-1] + 1.0
    elif n_non == 0:
        threshold = ordered[0] - 1.0
    else:
        threshold = 0.5 * (ordered[n_non - 1] + ordered[n_non])
    is_ici = score > threshold
    propensity = 1 / (1 + np.exp(-(eta - threshold)))
    return with_columns(frame, is_ici=is_ici, true_propensity_score=propensity,
                        assignment_threshold=float(threshold))


def _choose(rng: np.random.Generator, options: Mapping[str, float], n: int) -> np.ndarray:
    names = np.asarray(list(options), dtype=object)
    p = np.asarray(list(options.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def _choose_int(rng: np.random.Generator, options: Mapping[int, float], n: int) -> np.ndarray:
    values = np.asarray(list(options), dtype=np.int64)
    p = np.asarray(list(options.values()), dtype=float)
    return values[rng.choice(len(values), size=n, p=p / p.sum())]


def _map_codes(names: np.ndarray) -> np.ndarray:
    """Drug names (or 'none') -> drug codes (-1 for 'none'), vectorised."""
    if len(names) == 0:
        return np.zeros(0, dtype=np.int64)
    lookup = {**DRUG_INDEX, "none": -1}
    unique, inverse = np.unique(names.astype(str), return_inverse=True)
    return np.asarray([lookup[name] for name in unique], dtype=np.int64)[inverse]


def _first_line(frame: pd.DataFrame, seed: int, params: ModelParameters,
                population: int = POPULATION_REFERENCE,
                backbone: np.ndarray | None = None) -> pd.DataFrame:
    """First line: platinum + ``backbone`` (etoposide unless given) + the ICI if any."""
    tx = params.treatment
    rng = rng_for(seed, "treatment", population=population)
    n = len(frame)
    platinum = _map_codes(_choose(rng, tx.first_line_platinum, n))
    ici = np.where(frame["had_first_line_ici"], _map_codes(_choose(rng, tx.first_line_ici, n)),
                   -1)
    cycles = _choose_int(rng, tx.chemotherapy_cycles, n)
    pfs1 = frame["first_line_pfs_days"].to_numpy()
    possible = -(-pfs1 // tx.cycle_days)  # cycles started before progression
    n_chemo = np.minimum(cycles, possible)
    n_admin_days = np.where(ici >= 0, np.minimum(tx.max_ici_cycles, possible), n_chemo)
    last_offset = tx.cycle_days * (n_admin_days - 1)
    start2 = frame["second_line_start_day"].to_numpy()
    progression1 = start2 - frame["second_line_delay_days"].to_numpy()
    start1 = progression1 - pfs1
    gap = start2 - (start1 + last_offset)
    rsp = params.response
    first_assessment = rsp.first_assessment_days + rng.integers(0, rsp.jitter_days + 1, n)
    probabilities = rsp.first_line_response_probabilities
    drawn = _choose(rng, probabilities, n)
    best1 = np.where(pfs1 <= first_assessment, "PD", drawn)
    if backbone is None:
        backbone = np.full(n, DRUG_INDEX["etoposide"], dtype=np.int64)
    return with_columns(
        frame,
        first_line_platinum=platinum,
        first_line_backbone_drug=np.asarray(backbone, dtype=np.int64),
        first_line_ici_drug=ici,
        first_line_chemo_cycles=cycles,
        first_line_start_day=start1,
        first_line_progression_day=progression1,
        first_line_last_admin_offset=last_offset,
        first_line_gap_days=gap,
        first_line_first_assessment_offset=first_assessment,
        first_line_best_response=best1,
    )


def _second_line_regimen(frame: pd.DataFrame, seed: int, params: ModelParameters
                         ) -> pd.DataFrame:
    """Second-line drugs in three slots: ICI, partner 1, partner 2."""
    tx = params.treatment
    rng = rng_for(seed, "second_line_regimen")
    n = len(frame)
    is_ici = frame["is_ici"].to_numpy()
    gap_ok = frame["first_line_gap_days"].to_numpy() >= tx.rechallenge_min_gap_days
    ici_drug = _map_codes(_choose(rng, tx.second_line_ici, n))
    ici_partner = _choose(rng, tx.second_line_ici_partner, n)
    non_ici = _choose(rng, tx.second_line_non_ici, n)
    partner = np.where(is_ici, ici_partner, non_ici).astype(object)
    # A regimen with no drug new to the patient only after a > 120-day gap.
    rechallenge_blocked = (partner == "platinum_etoposide") & ~gap_ok
    partner = np.where(rechallenge_blocked, tx.rechallenge_fallback, partner)
    same_ici = is_ici & (ici_drug == frame["first_line_ici_drug"].to_numpy())
    continuation_blocked = same_ici & (partner == "none") & ~gap_ok
    partner = np.where(continuation_blocked, tx.continuation_fallback_partner, partner)
    rechallenge = partner == "platinum_etoposide"
    single = np.where(rechallenge, "none", partner).astype(object)
    drug1 = np.where(is_ici, ici_drug, -1)
    drug2 = np.where(rechallenge, frame["first_line_platinum"].to_numpy(), _map_codes(single))
    drug3 = np.where(rechallenge, DRUG_INDEX["etoposide"], -1)
    cycles = _choose_int(rng, tx.chemotherapy_cycles, n)
    regimen = _regimen_names(np.stack([drug1, drug2, drug3], axis=1))
    return with_columns(
        frame,
        second_line_drug_1=drug1,
        second_line_drug_2=drug2,
        second_line_drug_3=drug3,
        second_line_chemo_cycles=cycles,
        is_rechallenge=rechallenge,
        second_line_regimen=regimen,
    )


def _companion_second_line_regimen(frame: pd.DataFrame, seed: int, params: ModelParameters,
                                   population: int) -> pd.DataFrame:
    """Second line of the companion population: continuation (the first-line
    ICI, or with probability ``1 - p_same_ici_in_continuation`` another one,
    alone or with a partner) or discontinuation (a non-ICI drug).

    Every regimen gives a drug new to the patient, so the line rule (a new
    drug after a documented progression) finds it: a partner already given
    in first line falls back to ``rechallenge_fallback``, the first-line ICI
    alone gets ``continuation_fallback_partner`` (first-line maintenance
    runs to the progression, so there is no > 120-day gap).
    """
    tx, companion = params.treatment, params.companion
    rng = rng_for(seed, "second_line_regimen", population=population)
    n = len(frame)
    is_ici = frame["is_ici"].to_numpy()
    first_ici = frame["first_line_ici_drug"].to_numpy()
    same_ici = (rng.random(n) < companion.p_same_ici_in_continuation) & (first_ici >= 0)
    ici_drug = np.where(same_ici, first_ici, _map_codes(_choose(rng, tx.second_line_ici, n)))
    partner = np.where(is_ici, _choose(rng, companion.second_line_ici_partner, n),
                       _choose(rng, companion.second_line_non_ici, n)).astype(object)
    code = _map_codes(partner)
    given_first = (code >= 0) & ((code == frame["first_line_backbone_drug"].to_numpy())
                                 | (code == frame["first_line_platinum"].to_numpy()))
    partner = np.where(given_first, tx.rechallenge_fallback, partner)
    gap_ok = frame["first_line_gap_days"].to_numpy() >= tx.rechallenge_min_gap_days
    nothing_new = is_ici & (ici_drug == first_ici) & (partner == "none") & ~gap_ok
    partner = np.where(nothing_new, tx.continuation_fallback_partner, partner)
    drug1 = np.where(is_ici, ici_drug, -1)
    drug2 = _map_codes(partner)
    drug3 = np.full(n, -1, dtype=np.int64)
    cycles = _choose_int(rng, tx.chemotherapy_cycles, n)
    return with_columns(
        frame,
        second_line_drug_1=drug1,
        second_line_drug_2=drug2,
        second_line_drug_3=drug3,
        second_line_chemo_cycles=cycles,
        is_rechallenge=np.zeros(n, dtype=bool),
        second_line_regimen=_regimen_names(np.stack([drug1, drug2, drug3], axis=1)),
    )


def _regimen_names(codes: np.ndarray) -> np.ndarray:
    """Generic names of each row's drug codes, sorted, joined by ' + '."""
    from rwe_synth.vocabulary import DRUGS

    if len(codes) == 0:
        return np.zeros(0, dtype=object)
    unique, inverse = np.unique(codes, axis=0, return_inverse=True)
    joined = np.asarray(
        [" + ".join(sorted(DRUGS[code].generic_name for code in row if code >= 0))
         for row in unique],
        dtype=object,
    )
    return joined[inverse.reshape(-1)]


def _weibull_months(rng: np.random.Generator, scale: float, shape: float,
                    eta: np.ndarray) -> np.ndarray:
    """Draw T with S(t) = exp(-scale * t**shape * exp(eta)) by inversion."""
    exponential = rng.exponential(1.0, len(eta))
    return (exponential / (scale * np.exp(eta))) ** (1.0 / shape)


def pfs_linear_predictor(frame: pd.DataFrame, params: ModelParameters) -> np.ndarray:
    """The PFS log-hazard ``sum(log_hr * x)`` of each patient."""
    return linear_predictor(frame, params.pfs.log_hr)


def _outcomes(frame: pd.DataFrame, seed: int, params: ModelParameters,
              population: int = POPULATION_REFERENCE) -> pd.DataFrame:
    rng = rng_for(seed, "outcomes", population=population)
    n = len(frame)
    pfs_model = params.pfs
    pps_model = params.post_progression
    t_pfs = _weibull_months(rng, pfs_model.baseline_scale, pfs_model.shape,
                            pfs_linear_predictor(frame, params))
    pfs_latent = months_to_days(t_pfs)
    death_first = rng.random(n) < pfs_model.p_death_without_progression
    t_pps = _weibull_months(rng, pps_model.baseline_scale, pps_model.shape,
                            linear_predictor(frame, pps_model.log_hr))
    os_latent = np.where(death_first, pfs_latent, pfs_latent + months_to_days(t_pps))
    start = frame["second_line_start_day"].to_numpy()
    cutoff = day_number(params.design.data_cutoff_date)
    loss = np.maximum(1, np.ceil(rng.exponential(
        params.censoring.loss_to_follow_up_mean_months, n) * DAYS_PER_MONTH)).astype(np.int64)
    censor = np.minimum(cutoff - start, loss)
    is_pfs_event = pfs_latent <= censor
    is_os_event = os_latent <= censor
    progression = is_pfs_event & ~death_first

    rsp = params.response
    rrng = rng_for(seed, "response", population=population)
    first = (rsp.first_assessment_days
             + rsp.late_extra_days * (rrng.random(n) < rsp.p_first_assessment_late)
             + rrng.integers(0, rsp.jitter_days + 1, n))
    evaluable = (first < pfs_latent) & (first <= censor)
    is_ici = frame["is_ici"].to_numpy()
    log_time = np.log(t_pfs / 3.0)

    def by_arm(values: Mapping[str, float]) -> np.ndarray:
        return np.where(is_ici, values["ICI"], values["non-ICI"])

    p_control = _expit(by_arm(rsp.disease_control_intercept)
                       + rsp.disease_control_slope_per_log_pfs * log_time)
    p_objective = _expit(by_arm(rsp.objective_intercept)
                         + rsp.objective_slope_per_log_pfs * log_time)
    control = evaluable & (rrng.random(n) < p_control)
    objective = rrng.random(n) < p_objective
    complete = rrng.random(n) < by_arm(rsp.p_cr_given_objective)
    best = np.where(
        control, np.where(objective, np.where(complete, "CR", "PR"), "SD"),
        np.where(progression, "PD", "NE"),
    )
    record_ne = rrng.random(n) < rsp.p_not_evaluable_assessment_recorded
    room = np.minimum(pfs_latent - 1, censor)
    ne_offset = 1 + np.floor(rrng.random(n) * np.maximum(room, 1)).astype(np.int64)
    has_ne_assessment = (best == "NE") & ~evaluable & record_ne & (room >= 1)
    return with_columns(
        frame,
        pfs_latent_days=pfs_latent,
        os_latent_days=os_latent,
        is_death_without_progression=death_first,
        censor_days=censor,
        pfs_days=np.minimum(pfs_latent, censor),
        is_pfs_event=is_pfs_event,
        os_days=np.minimum(os_latent, censor),
        is_os_event=is_os_event,
        is_progression_observed=progression,
        second_line_first_assessment_offset=first.astype(np.int64),
        best_response=best,
        has_only_not_evaluable_assessments=evaluable & ~control,
        not_evaluable_assessment_offset=np.where(has_ne_assessment, ne_offset, -1),
    )


def _third_line(frame: pd.DataFrame, seed: int, params: ModelParameters,
                population: int = POPULATION_REFERENCE) -> pd.DataFrame:
    tx = params.treatment
    rng = rng_for(seed, "third_line", population=population)
    n = len(frame)
    pfs = frame["pfs_latent_days"].to_numpy()
    os_latent = frame["os_latent_days"].to_numpy()
    censor = frame["censor_days"].to_numpy()
    start3 = pfs + rng.integers(tx.third_line_delay_days[0], tx.third_line_delay_days[1] + 1, n)
    p3 = np.where(frame["is_ecog_2_or_more"], tx.p_third_line_ecog_2_or_more,
                  tx.p_third_line_ecog_0_1)
    has3 = (frame["is_progression_observed"].to_numpy() & (rng.random(n) < p3)
            & (start3 < os_latent) & (start3 <= censor))
    # third-line drug: new to the patient's second line (first option not in it)
    options = np.asarray(list(tx.third_line_regimen), dtype=object)
    probabilities = np.asarray(list(tx.third_line_regimen.values()))
    first_choice = rng.choice(len(options), size=n, p=probabilities / probabilities.sum())
    option_codes = _map_codes(options)
    second_line = frame[["second_line_drug_1", "second_line_drug_2",
                         "second_line_drug_3"]].to_numpy()
    drug3 = np.full(n, -1, dtype=np.int64)
    for shift in range(len(options)):
        candidate = option_codes[(first_choice + shift) % len(options)]
        used = (second_line == candidate[:, None]).any(axis=1)
        drug3 = np.where((drug3 < 0) & ~used, candidate, drug3)
    cycles3 = _choose_int(rng, tx.chemotherapy_cycles, n)
    median = tx.third_line_pfs_median_months
    scale = np.log(2) / median ** tx.third_line_pfs_shape
    t3 = months_to_days(_weibull_months(rng, scale, tx.third_line_pfs_shape, np.zeros(n)))
    progression3 = has3 & (start3 + t3 < os_latent) & (start3 + t3 <= censor)
    first3 = params.response.first_assessment_days + rng.integers(0, 22, n)
    end3 = np.where(progression3, t3,
                    np.where(os_latent <= censor, os_latent - start3, censor - start3 + 1))
    evaluable3 = first3 < end3
    partial = rng.random(n) < params.response.third_line_p_partial_response
    best3 = np.where(progression3 & (t3 <= first3), "PD",
                     np.where(evaluable3, np.where(partial, "PR", "SD"), "NE"))
    return with_columns(
        frame,
        has_third_line=has3,
        third_line_start_offset=np.where(has3, start3, -1),
        third_line_drug=np.where(has3, drug3, -1),
        third_line_chemo_cycles=cycles3,
        third_line_pfs_latent_days=np.where(has3, t3, -1),
        is_third_line_progression_observed=progression3,
        third_line_first_assessment_offset=first3,
        third_line_best_response=np.where(has3, best3, ""),
    )


def _patients_without_second_line(frame: pd.DataFrame, seed: int, params: ModelParameters,
                                  population: int = POPULATION_REFERENCE) -> pd.DataFrame:
    """Vital status of every patient; extras without second line die or are
    lost after first-line progression."""
    rng = rng_for(seed, "extras", population=population)
    n = len(frame)
    no_second = (frame["status"] == STATUS_NO_SECOND_LINE).to_numpy()
    start = frame["second_line_start_day"].to_numpy()
    cutoff = day_number(params.design.data_cutoff_date)
    progression1 = frame["first_line_progression_day"].to_numpy()
    survival_after_first = rng.integers(14, 151, n)
    death_extra = progression1 + survival_after_first
    dead_extra = death_extra <= cutoff
    vital_end = np.where(no_second, np.minimum(death_extra, cutoff),
                         start + frame["os_days"].to_numpy())
    is_dead = np.where(no_second, dead_extra, frame["is_os_event"].to_numpy())
    has_second = ~no_second
    out = with_columns(
        frame,
        has_second_line=has_second,
        is_dead=is_dead,
        vital_end_day=vital_end,
    )
    # Patients without a second line have no second- or third-line data.
    for column in ("has_third_line", "is_pfs_event", "is_os_event", "is_progression_observed"):
        out[column] = out[column].to_numpy() & has_second
    return out


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


__all__ = [
    "COMPANION_EXCLUSION_REASONS",
    "MODEL_TERMS",
    "arm_sizes",
    "center_counts",
    "cohort_truth",
    "companion_parameters",
    "companion_sizes",
    "companion_status",
    "companion_truth",
    "companion_truth_frame",
    "day_number",
    "linear_predictor",
    "simulate_patients",
    "study_truth_frames",
    "truth_frame",
]

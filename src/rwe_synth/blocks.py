"""A cohort simulated in blocks (``--chunk-patients``, docs/generator.md).

Each block is a cohort of its own: its eligible patients, their excluded
and companion patients, drawn from the block's own seed, with its share of
the cohort's ICI patients and companion arms, and identifiers that no
other block of the run uses. So no step holds more than one block's
patients, and memory follows the block size, not the cohort. A cohort of
one block is simulated exactly as without blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rwe_synth.exports import (
    GHOST_KEYS,
    KEY_LAYOUT,
    IssuedIdentifiers,
    assign_identifiers,
    key_digits,
)
from rwe_synth.model import (
    COMPANION_EXTRA_REASONS,
    arm_sizes,
    center_counts,
    companion_sizes,
    largest_remainder,
    simulate_patients,
    simulate_reference_population,
    validate_arguments,
    with_columns,
)
from rwe_synth.parameters import ModelParameters


@dataclass(frozen=True)
class Block:
    """One block of a run: its seed and its share of the cohort."""

    index: int
    seed: int
    n_patients: int
    center_sizes: tuple[int, ...]
    n_ici: int
    companion_arms: tuple[int, int]


def block_count(n_patients: int, chunk_patients: int) -> int:
    """``ceil(n_patients / chunk_patients)``: blocks of at most ``chunk_patients``
    eligible patients (sizes differing by at most one)."""
    if chunk_patients < 1:
        raise ValueError(f"--chunk-patients must be a positive integer, got {chunk_patients}.")
    return -(-n_patients // chunk_patients)


def block_seed(seed: int, block: int) -> int:
    """The seed of one block in a run of several blocks: a block drawing
    from ``seed`` itself would repeat the first block's draws row for row."""
    return int(np.random.SeedSequence([int(seed), block]).generate_state(1)[0])


def plan_blocks(n_patients: int, n_centers: int, seed: int, chunk_patients: int,
                params: ModelParameters) -> list[Block]:
    """The blocks of a run. One block is the whole cohort with ``seed``.

    Of several, block b takes the b-th of nearly equal parts of the eligible
    patients; its ICI patients, companion arms and eligible patients per
    center are the differences of the whole-cohort rules
    (:func:`arm_sizes`, :func:`companion_sizes`, :func:`center_counts`)
    between the parts up to b and up to b - 1, so the run's totals are
    exactly those of one block of ``n_patients``. (The largest-remainder
    split of centers can lose a patient when the total grows; a block whose
    differences would be negative splits its own size instead.)
    """
    n_blocks = block_count(n_patients, chunk_patients)
    if n_blocks == 1:
        return [Block(0, seed, n_patients, tuple(center_counts(n_patients, n_centers, params)),
                      arm_sizes(n_patients)[0], companion_sizes(n_patients, params))]
    size, larger = divmod(n_patients, n_blocks)
    sizes = [size + 1] * larger + [size] * (n_blocks - larger)
    done = np.cumsum([0, *sizes])
    blocks = []
    for index, n_block in enumerate(sizes):
        low, high = int(done[index]), int(done[index + 1])
        centers = np.subtract(center_counts(high, n_centers, params),
                              center_counts(low, n_centers, params) if low else 0)
        if (centers < 0).any():
            centers = np.asarray(center_counts(n_block, n_centers, params))
        companion = np.subtract(companion_sizes(high, params), companion_sizes(low, params))
        blocks.append(Block(index, block_seed(seed, index), n_block,
                            tuple(int(c) for c in centers),
                            arm_sizes(high)[0] - arm_sizes(low)[0],
                            (int(companion[0]), int(companion[1]))))
    return blocks


def patients_bound(blocks: list[Block], n_centers: int, params: ModelParameters
                   ) -> dict[str, int]:
    """Per center, at least the patients and ghost keys all ``blocks`` give it
    (the companion population's size depends on draws; its largest size is
    taken, one more per center and block)."""
    design, companion = params.design, params.companion
    center_ids = params.center_ids(n_centers)
    present = [center for center in companion.center_ids if center in center_ids]
    shares = np.asarray([companion.center_shares[companion.center_ids.index(center)]
                         for center in present])
    bound = dict.fromkeys(center_ids, 0)
    for block in blocks:
        for center_id, eligible in zip(center_ids, block.center_sizes, strict=True):
            extras = max(design.extra_patients_minimum,
                         int(round(design.extra_patients_rate * eligible)))
            ghosts = GHOST_KEYS + 2 * max(1, int(round(params.dirty_rows.rate * eligible)))
            bound[center_id] += eligible + 2 * extras + ghosts
        if present:
            total = max(0, block.companion_arms[0]) + max(0, block.companion_arms[1])
            for center_id, count in zip(present, largest_remainder(shares / shares.sum(),
                                                                   total), strict=True):
                extras = max(companion.extra_patients_minimum,
                             int(round(companion.extra_patients_rate * (count + 1))))
                bound[center_id] += count + 1 + len(COMPANION_EXTRA_REASONS) * extras
    return bound


def simulate_blocks(n_patients: int, n_centers: int, seed: int, params: ModelParameters,
                    chunk_patients: int | None = None, companion: bool = True
                    ) -> Iterator[tuple[Block, pd.DataFrame, dict[str, list[str]]]]:
    """``(block, patients, ghost keys)`` per block: each block's patients
    (:func:`rwe_synth.model.simulate_patients`) with identifiers
    (:func:`rwe_synth.exports.assign_identifiers`) and ``patient_index``
    continuing after the earlier blocks' patients.

    ``companion=False`` leaves the companion population out of a run of one
    block (the reference population does not depend on it); in several
    blocks it is simulated all the same, since a later block's identifiers
    avoid the earlier blocks' companion patients' ones.
    """
    validate_arguments(n_patients, n_centers, seed)
    blocks = plan_blocks(n_patients, n_centers, seed, chunk_patients or n_patients, params)
    issued = None
    if len(blocks) > 1:
        bound = patients_bound(blocks, n_centers, params)
        issued = IssuedIdentifiers(digits={
            center_id: key_digits(count, KEY_LAYOUT[center_id][1])
            for center_id, count in bound.items()})
    first_index = 0
    for block in blocks:
        if companion or issued is not None:
            patients = simulate_patients(block.n_patients, n_centers, block.seed, params,
                                         center_sizes=list(block.center_sizes),
                                         n_ici=block.n_ici,
                                         companion_arms=block.companion_arms)
        else:
            patients = simulate_reference_population(
                block.n_patients, n_centers, block.seed, params,
                center_sizes=list(block.center_sizes), n_ici=block.n_ici)
        if first_index:
            patients = with_columns(patients,
                                    patient_index=patients["patient_index"].to_numpy()
                                    + first_index)
        first_index += len(patients)
        patients, ghosts = assign_identifiers(patients, block.seed, n_centers, params, issued)
        yield block, patients, ghosts
        del patients

"""1:1 greedy nearest-neighbour matching on the logit of the propensity score."""

from __future__ import annotations

import hashlib
from array import array

import numpy as np
import pandas as pd

from rwe_stats._checks import flag_array, require_columns, require_unique

__all__ = ["caliper_width", "match_nearest_neighbour", "tie_break_ranks"]

COLUMNS = ["pair_id", "treated_patient_id", "control_patient_id", "treated_logit_ps",
           "control_logit_ps", "distance", "treated_tie_break_key", "control_tie_break_key"]
MATCHING_METHOD = ("1:1 greedy nearest neighbour on the logit PS, without replacement; caliper "
                   "in SDs of the logit PS of all patients (ddof 1); treated in a seeded random "
                   "order; ties by SHA-256 of seed and tie_break_key")


def caliper_width(logit_ps: np.ndarray, caliper_sd: float) -> float:
    """``caliper_sd`` x the sample SD (ddof=1) of the logit PS over all patients."""
    return float(caliper_sd * np.std(np.asarray(logit_ps, dtype=float), ddof=1))


def tie_break_ranks(keys: np.ndarray, seed: int) -> np.ndarray:
    """Seeded pseudo-random tie-break values: the first 64 bits of SHA-256(``"<seed>:<key>"``).

    One unsigned 64-bit integer per key (the digest's first 8 bytes,
    big-endian, i.e. its first 16 hex digits), a function of that key and
    the seed alone -- not of the other patients, the row order or the
    pseudonymised id -- and spread uniformly, so ties are broken by a
    reproducible coin that favours no center or export position.
    """
    # SHA-256 streams: a copy of the state after "<seed>:" plus the key is the
    # digest of the joined text; the 8-byte prefixes go into one buffer, read as
    # one big-endian array (no list of a million bytes objects, no join).
    seeded = hashlib.sha256(f"{int(seed)}:".encode())
    prefixes = bytearray()
    for key in np.asarray(keys, dtype=object).tolist():
        digest = seeded.copy()
        digest.update(str(key).encode())
        prefixes += digest.digest()[:8]
    return np.frombuffer(bytes(prefixes), dtype=">u8").astype(np.uint64)


def _find(parent: array, node: int) -> int:
    """Root of ``node`` in a union-find forest, with path compression."""
    root = node
    while parent[root] != root:
        root = parent[root]
    while parent[node] != root:
        parent[node], node = root, parent[node]
    return root


def match_nearest_neighbour(scores: pd.DataFrame, caliper_sd: float = 0.2, seed: int = 0,
                            id_col: str = "patient_id",
                            tie_break_col: str = "tie_break_key") -> pd.DataFrame:
    """Pair each treated patient with the nearest untreated one on the logit PS.

    Method: 1:1 greedy nearest-neighbour matching **without replacement** on
    ``logit_ps`` within a caliper of ``caliper_sd`` standard deviations of
    the logit PS (Austin 2011, Pharm Stat 10:150, recommends 0.2). The SD is
    the sample SD (ddof=1) of ``logit_ps`` over **all** patients, treated
    and untreated (:func:`caliper_width`).

    - Tie-break rank: ``tie_break_ranks(tie_break_col, seed)``, the first
      64 bits of SHA-256(``"<seed>:<tie_break_key>"``) (the key itself
      breaks a tie of two ranks, which has probability ~n^2 / 2^65). The key must be
      unique and must not depend on the pseudonymisation key: the study uses
      the provenance of the patient's second-line record (center, export,
      raw row). Neither ``id_col`` nor the row order is ever used, so the
      pairs are the same on every machine and for any pseudonym key.
    - Order: treated patients are sorted by (logit PS, tie-break rank), then
      permuted with ``numpy.random.default_rng(seed).permutation``; each is
      matched in that order.
    - Choice: the still-available control with the smallest absolute logit
      difference (computed in double precision). Ties: on equal distance the
      control with the lower logit PS wins; among controls with the same
      logit PS, the one nearest the treated value in the controls' (logit
      PS, tie-break rank) order (the lowest rank at or above the treated
      value, the highest rank below it).
    - Caliper: a treated patient whose nearest available control is farther
      than the caliper (distance > caliper) stays unmatched. Controls are
      never reused.

    Cost: O(n log n) for the sorts, then a union-find "next available
    control" search to the left and to the right of each treated value
    (amortised near-constant per look-up); no distance matrix. One million
    patients match in seconds (``benchmarks/matching_scale.py``).

    Parameters
    ----------
    scores
        ``id_col``, ``is_treated``, ``logit_ps`` (as from
        :func:`rwe_stats.propensity.estimate_propensity_scores`) and
        ``tie_break_col``.
    caliper_sd
        Caliper width in SDs of the logit PS; ``float("inf")`` disables it.
    seed
        Seed of the treated patients' processing order.
    id_col
        Patient identifier column (carried to the output, never used to order).
    tie_break_col
        Unique, key-independent text key of each patient (see above).

    Returns
    -------
    pandas.DataFrame
        One row per pair, in matching order: ``pair_id`` (``pair_000001``,
        ``pair_000002``, ...; zero-padded to at least 6 digits),
        ``treated_patient_id``, ``control_patient_id``, ``treated_logit_ps``,
        ``control_logit_ps``, ``distance`` (absolute logit difference),
        ``treated_tie_break_key``, ``control_tie_break_key``.
    """
    require_columns(scores, [id_col, "is_treated", "logit_ps", tie_break_col], "matching")
    require_unique(scores, id_col)
    if scores[tie_break_col].isna().any():
        require_unique(scores, tie_break_col)  # names the missing key
    if not caliper_sd > 0:
        raise ValueError("caliper_sd must be positive (use inf for no caliper)")
    if len(scores) < 2:
        raise ValueError("matching needs at least two patients")
    keys = scores[tie_break_col].astype(str).to_numpy()
    ranks = tie_break_ranks(keys, seed)
    by_rank = np.argsort(ranks)
    sorted_ranks = ranks[by_rank]
    if (sorted_ranks[1:] == sorted_ranks[:-1]).any():
        # equal keys have equal ranks, so distinct ranks prove the keys unique
        # without hashing a million strings again; only a collision needs the text
        require_unique(scores, tie_break_col)
    is_treated = flag_array(scores, "is_treated")
    logits = pd.to_numeric(scores["logit_ps"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(logits).all():
        raise ValueError("logit_ps has missing or infinite values")
    # (logit, rank, key) is a total order (keys are unique). A stable sort on the
    # logit of the rank-sorted rows is the (logit, rank) order, one numeric sort
    # (no lexsort of two keys, no sort of Python objects).
    order = by_rank[np.argsort(logits[by_rank], kind="stable")]
    same = (np.diff(logits[order]) == 0) & (np.diff(ranks[order]) == 0)
    if same.any():  # two equal 64-bit ranks on one logit value: let the key decide
        order = np.lexsort((keys.astype(str), ranks, logits))
    is_treated, logits = is_treated[order], logits[order]
    caliper = caliper_width(logits, caliper_sd)

    treated, controls = np.flatnonzero(is_treated), np.flatnonzero(~is_treated)
    control_logits, treated_logits = logits[controls], logits[treated]
    processing = np.random.default_rng(seed).permutation(len(treated))
    pairs_t, pairs_c, distances = _greedy_pairs(control_logits, treated_logits, processing,
                                                caliper)
    width = max(6, len(str(len(pairs_t))))
    treated, controls = treated[pairs_t], controls[pairs_c]
    # ids and keys are read only for the matched, at their input rows: reordering
    # every patient's text first touched a million scattered objects twice
    ids = scores[id_col].to_numpy()
    rows_t, rows_c = order[treated], order[controls]
    return pd.DataFrame({
        "pair_id": list(map(f"pair_%0{width}d".__mod__, range(1, len(pairs_t) + 1))),
        "treated_patient_id": ids[rows_t],
        "control_patient_id": ids[rows_c],
        "treated_logit_ps": logits[treated],
        "control_logit_ps": logits[controls],
        "distance": distances,
        "treated_tie_break_key": keys[rows_t],
        "control_tie_break_key": keys[rows_c],
    }, columns=COLUMNS)


def _greedy_pairs(control_logits: np.ndarray, treated_logits: np.ndarray,
                  processing: np.ndarray, caliper: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy matching of sorted controls to the treated in ``processing`` order.

    Returns the positions of the matched treated and controls, in matching
    order, and their distances. Both logit arrays are sorted (``control_logits`` must be).
    """
    m = len(control_logits)
    values = treated_logits[processing]
    insertion = np.searchsorted(control_logits, treated_logits, side="left")[processing]
    # right[p]: p if control p is free, else a pointer towards the next free one to its
    # right (m = none); left[p + 1]: the same leftwards (left[0] = 0: none). Compact arrays,
    # not lists of int objects, which at a million entries no longer fit in the CPU caches.
    right = array("q", range(m + 1))
    left = array("q", range(m + 1))
    logits = array("d", control_logits.tobytes())
    chosen = array("q")  # per treated, in processing order: its control, or -1
    choose = chosen.append
    for insert_at, value in zip(insertion.tolist(), values.tolist(), strict=True):
        # one past the largest free position < insert_at, the smallest >= insert_at;
        # a free position is its own root, so most look-ups end here without a call
        below = insert_at if left[insert_at] == insert_at else _find(left, insert_at)
        above = insert_at if right[insert_at] == insert_at else _find(right, insert_at)
        # the nearer; at equal distance the lower logit PS (below)
        if above < m and (not below or logits[above] - value < value - logits[below - 1]):
            best = above
        else:
            best = below - 1  # -1: no control is left
        if best < 0 or abs(logits[best] - value) > caliper:
            choose(-1)
            continue
        choose(best)
        right[best] = best + 1
        left[best + 1] = best
    controls = np.frombuffer(chosen, dtype=np.int64)
    steps = np.flatnonzero(controls >= 0)
    controls = controls[steps]
    # |a - b| is the same double as the subtraction the loop compared
    return processing[steps], controls, np.abs(values[steps] - control_logits[controls])

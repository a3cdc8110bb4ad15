"""Disclosure control for aggregate tables: small-cell and complementary suppression.

The rule (``docs/methods-statistics.md``, "Disclosure control"): no count of
patients between 1 and ``min_cell_count - 1`` may be read from a published
table, neither as a shown cell nor by adding and subtracting the shown cells
and the totals that are public anyway (arm sizes). Zero is shown. Estimates
(hazard ratios, medians, survival probabilities, p-values of models) are not
cells and are shown, except where they would give a suppressed count back
exactly (a rate, its exact CI, a 2x2 test p, an SMD).

:func:`protect_counts` is the generic engine. A table is described by
*atoms* -- disjoint groups of patients with their counts (e.g. the CR, PR,
SD, PD and NE patients of an arm) -- and *cells* -- the published counts,
each the sum of some atoms (``orr`` = CR + PR). A set of atoms is
*determined* when its total follows from the published cells by linear
algebra (its indicator vector lies in the row space of the published
cells' indicators). Cells are suppressed until every determined set of atoms
totals 0 or at least ``min_cell_count``: first every cell that is itself
small (primary suppression), then, while a determined set is small, the
smallest non-zero published cell whose removal un-determines it
(complementary suppression; ties by the cells' order). The helpers below
apply it to the study's tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MAX_ATOMS",
    "is_small",
    "protect_counts",
    "suppress_balance_table",
    "suppress_censoring_table",
    "suppress_response_table",
    "suppress_subgroup_table",
    "suppression_rule",
    "truncate_km_table",
]

MAX_ATOMS = 16  # 2**16 candidate sets: beyond that the exhaustive check is not meant for it
RESPONSE_CODES = ("CR", "PR", "SD", "PD", "NE")


def is_small(count: float, min_cell_count: int) -> bool:
    """``0 < count < min_cell_count``: a count that identifies too few patients."""
    return 0 < count < min_cell_count


def _check_threshold(min_cell_count: int) -> None:
    if int(min_cell_count) != min_cell_count or min_cell_count < 1:
        raise ValueError("min_cell_count must be a whole number >= 1")


def suppression_rule(min_cell_count: int, what: str = "counts") -> str:
    """The one-line description written to a table's ``suppression_rule`` column."""
    if what == "km":
        return (f"rows with fewer than {min_cell_count} patients at risk not published "
                "(tail truncated); step sizes (events, censorings) are part of the estimator")
    return (f"{what} of 1 to {min_cell_count - 1} patients suppressed, plus complementary "
            "suppression so that no such count can be derived from the row group's other "
            "cells and totals; a rate, its CI, a test p or an SMD is suppressed with its "
            "count")


def _null_space(matrix: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the null space of ``matrix`` (rows x atoms)."""
    n_atoms = matrix.shape[1]
    if matrix.shape[0] == 0:
        return np.eye(n_atoms)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0.0))).sum())
    return vt[rank:].T


def protect_counts(atoms: Mapping[str, int], cells: Mapping[str, Sequence[str]],
                   min_cell_count: int, fixed: Iterable[str] = (),
                   last_resort: Iterable[str] = ()) -> set[str]:
    """Cells to suppress so that no count of 1 to ``min_cell_count - 1`` patients is derivable.

    Method: small-cell suppression with complementary suppression, checked
    exhaustively by linear algebra.

    - A set ``S`` of atoms is *determined* by the published cells when its
      indicator ``1_S`` lies in the row space of their indicator matrix
      ``P`` (``N' 1_S = 0`` for a basis ``N`` of the null space of ``P``):
      then its total follows from published numbers by additions and
      subtractions.
    - Primary: every cell whose own count is small is suppressed.
    - Complementary: while some determined set has a total between 1 and
      ``min_cell_count - 1`` (smallest total first), pick an atom ``a`` in it
      and an atom ``b`` outside it, not told apart by any ``fixed`` cell, with
      ``a`` or ``b`` non-zero, and suppress every published cell that holds
      one of them but not the other. Moving patients between ``a`` and ``b``
      then changes the set's total and nothing published, so the set is no
      longer determined. The pair is chosen by the cells it costs: fewest
      ``last_resort`` cells, then fewest zero cells, then the smallest total
      count, then the fewest cells, then the cells' order. Suppression only
      ever removes information, so this ends.
    - A small set that no such pair can free (it is told apart from every
      other atom by fixed cells, e.g. an arm of fewer than
      ``min_cell_count`` patients) cannot be protected and is left.

    Parameters
    ----------
    atoms
        Disjoint patient groups and their counts (``{"CR": 2, "PR": 26, ...}``).
    cells
        Published cell -> the atoms it adds up (``{"orr": ["CR", "PR"], ...}``).
        Order matters only to break ties.
    min_cell_count
        Smallest count that may be derivable (zero always may).
    fixed
        Cells that are public anyway (arm sizes): never suppressed.
    last_resort
        Cells to suppress for complementary reasons only if nothing else
        works (the study's rates).

    Returns
    -------
    set of str
        The cells to suppress.
    """
    _check_threshold(min_cell_count)
    names = list(atoms)
    if len(names) > MAX_ATOMS:
        raise ValueError(f"protect_counts checks every set of atoms; {len(names)} atoms is more "
                         f"than {MAX_ATOMS}")
    counts = np.array([int(atoms[name]) for name in names])
    if (counts < 0).any():
        raise ValueError("atom counts must be >= 0")
    order = list(cells)
    fixed, last_resort = set(fixed), set(last_resort)
    unknown = (fixed | last_resort) - set(order)
    if unknown:
        raise ValueError(f"fixed / last_resort name unknown cells: {sorted(unknown)}")
    members = {}
    for cell, atoms_of_cell in cells.items():
        missing = set(atoms_of_cell) - set(names)
        if missing:
            raise ValueError(f"cell {cell!r} names unknown atoms {sorted(missing)}")
        members[cell] = set(atoms_of_cell)
    value = {cell: int(sum(atoms[atom] for atom in members[cell])) for cell in order}
    suppressed = {cell for cell in order
                  if cell not in fixed and is_small(value[cell], min_cell_count)}

    subsets = [np.array(mask, dtype=float)
               for mask in itertools.product((0, 1), repeat=len(names)) if any(mask)]
    small = [mask for mask in subsets if is_small(counts @ mask, min_cell_count)]
    small.sort(key=lambda mask: (counts @ mask, mask.sum()))

    def null_basis(published: Sequence[str]) -> np.ndarray:
        matrix = np.array([[atom in members[cell] for atom in names] for cell in published],
                          dtype=float).reshape(-1, len(names))
        return _null_space(matrix)

    def separating(a: str, b: str, published: Sequence[str]) -> list[str]:
        return [cell for cell in published if (a in members[cell]) != (b in members[cell])]

    unresolvable: list[np.ndarray] = []
    while True:
        published = [cell for cell in order if cell not in suppressed]
        basis = null_basis(published)
        target = next((mask for mask in small
                       if np.abs(basis.T @ mask).max(initial=0.0) < 1e-9
                       and not any((mask == done).all() for done in unresolvable)), None)
        if target is None:
            return suppressed
        inside = [name for name, flag in zip(names, target, strict=True) if flag]
        outside = [name for name, flag in zip(names, target, strict=True) if not flag]
        options = []
        for a, b in itertools.product(inside, outside):
            if atoms[a] == 0 and atoms[b] == 0:
                continue
            cost = separating(a, b, published)
            if any(cell in fixed for cell in cost):
                continue
            options.append((sum(cell in last_resort for cell in cost),
                            sum(value[cell] == 0 for cell in cost),
                            sum(value[cell] for cell in cost), len(cost),
                            sorted(order.index(cell) for cell in cost), cost))
        if not options:
            unresolvable.append(target)
            continue
        suppressed.update(min(options, key=lambda option: option[:5])[5])


# --------------------------------------------------------------------------- study tables


def _with_suppressed_cells(result: pd.DataFrame, nulled: dict[int, list[str]],
                           min_cell_count: int, what: str) -> pd.DataFrame:
    """Null each row's suppressed columns and add the four disclosure columns."""
    order = list(result.columns)
    for index, columns in nulled.items():
        for column in columns:
            result.loc[index, column] = pd.NA
        nulled[index] = sorted(set(columns), key=order.index)
    return result.assign(
        is_suppressed=[bool(nulled[index]) for index in result.index],
        suppressed_cells=[", ".join(nulled[index]) for index in result.index],
        min_cell_count=int(min_cell_count),
        suppression_rule=suppression_rule(min_cell_count, what))


def suppress_response_table(table: pd.DataFrame, min_cell_count: int,
                            group_cols: Sequence[str] = ()) -> pd.DataFrame:
    """Apply the disclosure rule to a :func:`rwe_stats.response.response_summary` table.

    Per arm (within each ``group_cols`` group, e.g. cohort): atoms CR, PR,
    SD, PD, NE; cells ``cr`` ... ``ne``, ``orr`` (CR + PR) and ``dcr`` (CR +
    PR + SD), which ``orr`` x ``n`` and ``dcr`` x ``n`` give back; ``n`` is
    public. ``orr``/``dcr`` are suppressed only when a count cell cannot
    protect instead (in practice: when their own numerator, or ``n`` minus
    it, is small), and then with their CI; each between-arm p is suppressed
    on both rows when either arm's rate is. Adds ``is_suppressed``,
    ``suppressed_cells`` (the nulled columns), ``min_cell_count`` and
    ``suppression_rule``.
    """
    _check_threshold(min_cell_count)
    counts = [code.lower() for code in RESPONSE_CODES]
    result = table.copy()
    for column in counts + ["n"]:
        result[column] = result[column].astype("Int64")
    for column in ("orr", "orr_ci_lower", "orr_ci_upper", "dcr", "dcr_ci_lower", "dcr_ci_upper",
                   "orr_p_value", "dcr_p_value"):
        result[column] = result[column].astype("Float64")
    cells = {code.lower(): [code] for code in RESPONSE_CODES}
    cells |= {"orr": ["CR", "PR"], "dcr": ["CR", "PR", "SD"], "n": list(RESPONSE_CODES)}
    nulled: dict[int, list[str]] = {index: [] for index in result.index}
    groups = result.groupby(list(group_cols), sort=False) if group_cols else [(None, result)]
    for _, block in groups:
        rate_suppressed = {"orr": False, "dcr": False}
        for index, row in block.iterrows():
            atoms = {code: int(row[code.lower()]) for code in RESPONSE_CODES}
            if sum(atoms.values()) != int(row["n"]):
                raise ValueError("response counts do not add up to n")
            hidden = protect_counts(atoms, cells, min_cell_count, fixed=["n"],
                                    last_resort=["orr", "dcr"])
            for cell in cells:
                if cell not in hidden:
                    continue
                columns = [cell] + ([f"{cell}_ci_lower", f"{cell}_ci_upper"]
                                    if cell in rate_suppressed else [])
                if cell in rate_suppressed:
                    rate_suppressed[cell] = True
                nulled[index] += columns
        for rate, hidden in rate_suppressed.items():
            if hidden:
                for index in block.index:
                    nulled[index].append(f"{rate}_p_value")
    return _with_suppressed_cells(result, nulled, min_cell_count, "best-response counts")


def truncate_km_table(table: pd.DataFrame, min_cell_count: int,
                      group_cols: Sequence[str]) -> pd.DataFrame:
    """Publish a Kaplan-Meier step table only while at least ``min_cell_count`` are at risk.

    Rows with ``n_at_risk < min_cell_count`` are dropped; ``n_at_risk`` only
    falls with time, so this truncates each curve's tail (from the first
    such row on). A curve whose group has fewer patients than the threshold
    is not published at all. Adds ``min_cell_count`` and
    ``suppression_rule``.
    """
    _check_threshold(min_cell_count)
    keep = table["n_at_risk"] >= min_cell_count
    for _, block in table.groupby(list(group_cols), sort=False):
        times = block["time_months"].to_numpy(dtype=float)
        if (np.diff(times) <= 0).any():
            raise ValueError("km table rows must be in increasing time within each curve")
    return table.loc[keep].reset_index(drop=True).assign(
        min_cell_count=int(min_cell_count), suppression_rule=suppression_rule(min_cell_count,
                                                                              "km"))


def suppress_subgroup_table(table: pd.DataFrame, min_cell_count: int) -> pd.DataFrame:
    """Apply the disclosure rule to a :func:`rwe_stats.subgroups.subgroup_hazard_ratios` table.

    Per subgroup: atoms are level x arm x (event, no event); cells are each
    level's ``n`` and ``events`` and their per-arm parts (``n_treated``,
    ``n_control``, ``events_treated``, ``events_control``); the arm totals
    (patients and events) are public (``survival_summary``). Hazard ratios
    and p-values are estimates and stay. Adds ``is_suppressed``,
    ``suppressed_cells``, ``min_cell_count`` and ``suppression_rule``.
    """
    _check_threshold(min_cell_count)
    result = table.copy()
    count_columns = ["n", "events", "n_treated", "n_control", "events_treated",
                     "events_control"]
    for column in count_columns:
        result[column] = result[column].astype("Int64")
    nulled: dict[int, list[str]] = {index: [] for index in result.index}
    for _, block in result.groupby("subgroup", sort=False):
        atoms, cells = {}, {}
        for index, row in block.iterrows():
            parts = {"treated": (int(row["n_treated"]), int(row["events_treated"])),
                     "control": (int(row["n_control"]), int(row["events_control"]))}
            for arm, (n, events) in parts.items():
                atoms[f"{index}:{arm}:event"] = events
                atoms[f"{index}:{arm}:no_event"] = n - events
                cells[f"{index}:n_{arm}"] = [f"{index}:{arm}:event", f"{index}:{arm}:no_event"]
                cells[f"{index}:events_{arm}"] = [f"{index}:{arm}:event"]
            cells[f"{index}:n"] = [atom for atom in atoms if atom.startswith(f"{index}:")]
            cells[f"{index}:events"] = [atom for atom in atoms
                                        if atom.startswith(f"{index}:") and
                                        atom.endswith(":event")]
        for arm in ("treated", "control"):
            cells[f"total:n_{arm}"] = [atom for atom in atoms if f":{arm}:" in atom]
            cells[f"total:events_{arm}"] = [atom for atom in atoms
                                            if f":{arm}:" in atom and atom.endswith(":event")]
        fixed = [cell for cell in cells if cell.startswith("total:")]
        for cell in protect_counts(atoms, cells, min_cell_count, fixed=fixed):
            index, column = cell.split(":")
            nulled[int(index)].append(column)
    return _with_suppressed_cells(result, nulled, min_cell_count, "patient and event counts")


def suppress_balance_table(table: pd.DataFrame, min_cell_count: int) -> pd.DataFrame:
    """Apply the disclosure rule to a covariate balance table (binary rows).

    Per cohort and binary covariate (a boolean, or the levels of a text
    covariate): atoms are the patients with and without the attribute (each
    level) in each arm; cells are ``count_treated`` / ``count_control`` of
    every row of the covariate; the arm sizes are public. A suppressed
    count nulls the arm's ``mean_*`` (the proportion, which gives the count
    back) and the row's ``smd`` (which with the other arm's proportion gives
    it back). Continuous covariates are means of whole arms and are shown.
    Adds ``is_suppressed``, ``suppressed_cells``, ``min_cell_count`` and
    ``suppression_rule``.
    """
    _check_threshold(min_cell_count)
    result = table.copy()
    for column in ("count_treated", "count_control"):
        result[column] = result[column].astype("Int64")
    for column in ("mean_treated", "mean_control", "smd"):
        result[column] = result[column].astype("Float64")
    nulled: dict[int, list[str]] = {index: [] for index in result.index}
    binary = result["count_treated"].notna()
    for _, block in result[binary].groupby(["cohort", "covariate"], sort=False):
        atoms, cells = {}, {}
        for arm, n_column in (("treated", "n_treated"), ("control", "n_control")):
            n = int(block[n_column].iloc[0])
            counts = {index: int(row[f"count_{arm}"]) for index, row in block.iterrows()}
            for index, count in counts.items():
                atoms[f"{index}:{arm}"] = count
                cells[f"{index}:count_{arm}"] = [f"{index}:{arm}"]
            rest = n - sum(counts.values())
            if rest < 0:
                raise ValueError("covariate level counts exceed the arm size")
            if rest > 0 or len(counts) == 1:
                atoms[f"rest:{arm}"] = rest
            cells[f"total:{arm}"] = [atom for atom in atoms if atom.endswith(f":{arm}")]
        fixed = [cell for cell in cells if cell.startswith("total:")]
        for cell in protect_counts(atoms, cells, min_cell_count, fixed=fixed):
            index, column = cell.split(":")
            arm = column.removeprefix("count_")
            nulled[int(index)] += [column, f"mean_{arm}", "smd"]
    return _with_suppressed_cells(result, nulled, min_cell_count, "covariate counts")


def suppress_censoring_table(table: pd.DataFrame, min_cell_count: int) -> pd.DataFrame:
    """Apply the disclosure rule to a censoring-reasons table.

    Input: :func:`rwe_stats.censoring.censoring_reasons_over_time` (one row
    per arm, interval and reason). Per arm and interval the atoms are the
    reasons and the cells their ``n_censored``; the interval's total of
    censored patients counts as public (the Kaplan-Meier table publishes
    censorings per time), so a single small reason is protected by a
    complementary one. Adds ``is_suppressed``, ``suppressed_cells``,
    ``min_cell_count`` and ``suppression_rule``.
    """
    _check_threshold(min_cell_count)
    result = table.copy()
    result["n_censored"] = result["n_censored"].astype("Int64")
    nulled: dict[int, list[str]] = {index: [] for index in result.index}
    for _, block in result.groupby(["group", "interval_start_months"], sort=False):
        if block["censoring_reason"].duplicated().any():
            raise ValueError("a censoring reason is listed twice for one arm and interval")
        atoms = {str(index): int(count) for index, count in block["n_censored"].items()}
        cells = {atom: [atom] for atom in atoms} | {"total": list(atoms)}
        for cell in protect_counts(atoms, cells, min_cell_count, fixed=["total"]):
            nulled[int(cell)].append("n_censored")
    return _with_suppressed_cells(result, nulled, min_cell_count, "censored-patient counts")

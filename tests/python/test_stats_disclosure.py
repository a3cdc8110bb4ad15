"""rwe_stats.disclosure: small-cell and complementary suppression.

Every result is checked by brute force: all non-negative integer tables
consistent with what is published are enumerated, and (1) no suppressed cell
has a single possible value, (2) no set of patient groups whose total is
pinned down by the published numbers totals 1 to k - 1. The enumeration
uses integrality and non-negativity, which the linear algebra of
protect_counts does not, so it is the stronger attacker.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from rwe_stats.disclosure import (
    protect_counts,
    suppress_balance_table,
    suppress_response_table,
    suppress_subgroup_table,
    truncate_km_table,
)

RESPONSE_CELLS = {"cr": ["CR"], "pr": ["PR"], "sd": ["SD"], "pd": ["PD"], "ne": ["NE"],
                  "orr": ["CR", "PR"], "dcr": ["CR", "PR", "SD"],
                  "n": ["CR", "PR", "SD", "PD", "NE"]}


def _value(atoms: dict[str, int], members: list[str]) -> int:
    return sum(atoms[atom] for atom in members)


def _feasible_tables(atoms: dict[str, int], cells: dict[str, list[str]],
                     published: list[str]) -> np.ndarray:
    """Every non-negative integer assignment of the atoms that reproduces the published cells.

    Atoms shown on their own are known; every combination of the others, each from 0
    to the smallest published total that contains it, is tried (vectorised), and the
    combinations that reproduce every published total are kept. Rows: solutions."""
    names = list(atoms)
    target = {cell: _value(atoms, cells[cell]) for cell in published}
    known = {cells[cell][0]: target[cell] for cell in published if len(cells[cell]) == 1}
    free = [name for name in names if name not in known]
    bounds = [min(target[cell] for cell in published if name in cells[cell]) for name in free]
    if np.prod([bound + 1 for bound in bounds], dtype=float) > 2e6:
        return _feasible_by_recursion(names, known, free, bounds, cells, target)
    grids = np.meshgrid(*[np.arange(bound + 1) for bound in bounds], indexing="ij")
    solutions = np.zeros((grids[0].size if free else 1, len(names)), dtype=np.int64)
    for name, value in known.items():
        solutions[:, names.index(name)] = value
    for name, grid in zip(free, grids, strict=True):
        solutions[:, names.index(name)] = grid.ravel()
    keep = np.ones(len(solutions), dtype=bool)
    for cell in published:
        indicator = np.isin(names, cells[cell]).astype(np.int64)
        keep &= solutions @ indicator == target[cell]
    return solutions[keep]


def _feasible_by_recursion(names, known, free, bounds, cells, target) -> np.ndarray:
    """The same enumeration depth-first: each atom runs from 0 to what the published
    totals containing it still leave, and a completed total must be met exactly
    (for tables too large to grid)."""
    solutions = []
    published = list(target)
    containing = {name: [cell for cell in published if name in cells[cell]] for name in names}

    def extend(values: dict[str, int], position: int) -> None:
        if position == len(free):
            solutions.append([values[name] for name in names])
            return
        name = free[position]
        room = min(target[cell] - sum(values.get(atom, 0) for atom in cells[cell])
                   for cell in containing[name])
        for value in range(room + 1):
            values[name] = value
            closed = [cell for cell in containing[name]
                      if all(atom in values for atom in cells[cell])]
            if all(sum(values[atom] for atom in cells[cell]) == target[cell]
                   for cell in closed):
                extend(values, position + 1)
            del values[name]

    start = dict(known)
    if all(sum(start[a] for a in cells[c]) == target[c] for c in published
           if all(a in start for a in cells[c])):
        extend(start, 0)
    del bounds
    return np.array(solutions, dtype=np.int64).reshape(-1, len(names))


def _assert_protected(atoms: dict[str, int], cells: dict[str, list[str]], hidden: set[str],
                      k: int, fixed: tuple[str, ...] = ()) -> None:
    """No suppressed cell and no small total is pinned down by the published cells,
    except totals that the public ``fixed`` cells give on their own (arm-level facts)."""
    names = list(atoms)
    public = np.array([np.isin(names, cells[cell]) for cell in fixed], dtype=float)
    published = [cell for cell in cells if cell not in hidden]
    solutions = _feasible_tables(atoms, cells, published)
    truth = tuple(atoms[name] for name in names)
    assert truth in {tuple(row) for row in solutions}
    for cell in hidden:
        values = {int(row[[names.index(a) for a in cells[cell]]].sum()) for row in solutions}
        assert len(values) > 1, f"suppressed {cell} = {values} can be derived"
    for mask in itertools.product((0, 1), repeat=len(names)):
        if not any(mask):
            continue
        totals = set((solutions @ np.array(mask)).tolist())
        if len(fixed) and np.allclose(public.T @ np.linalg.lstsq(public.T, np.array(mask, float),
                                                                 rcond=None)[0], mask):
            continue  # public anyway
        if len(totals) == 1:
            (total,) = totals
            assert total == 0 or total >= k, (
                f"patients in {[n for n, m in zip(names, mask, strict=True) if m]} = {total} "
                "can be derived")


# --------------------------------------------------------------------------- engine


@pytest.mark.parametrize(("counts", "expected"), [
    # the embedded data's non-ICI arm: CR 2 is small; PR (the smallest other part of
    # ORR = CR + PR) hides it; ORR itself (28) stays
    ((2, 26, 134, 113, 21), {"cr", "pr"}),
    # ORR numerator 4 is small: CR, PR and ORR go; CR + PR = DCR - SD then needs SD
    ((1, 3, 10, 12, 9), {"cr", "pr", "orr", "sd"}),
    # PD 3 is small; PD = n - DCR - NE, so NE (0) must go with it; then PD + NE = 3
    # = n - DCR: the patients without disease control are too few, DCR goes, and SD
    # (DCR = CR + PR + SD) with it
    ((7, 9, 6, 3, 0), {"pd", "ne", "dcr", "sd"}),
    # nothing small, nothing suppressed
    ((5, 9, 6, 8, 5), set()),
    # n - DCR = PD + NE = 3 is small although PD and NE (2, 1) are hidden: DCR has to
    # go, and SD (the cheapest part that separates DCR from the rest)
    ((6, 7, 9, 2, 1), {"pd", "ne", "dcr", "sd"}),
])
def test_response_suppression_by_hand(counts, expected):
    atoms = dict(zip(("CR", "PR", "SD", "PD", "NE"), counts, strict=True))
    hidden = protect_counts(atoms, RESPONSE_CELLS, 5, fixed=["n"], last_resort=["orr", "dcr"])
    assert hidden == expected
    _assert_protected(atoms, RESPONSE_CELLS, hidden, 5)


def test_random_response_arms_are_protected_against_brute_force():
    rng = np.random.default_rng(2025)
    checked_with_suppression = 0
    for _ in range(100):
        counts = rng.choice([0, 1, 2, 3, 4, 5, 6, 8], size=5)
        atoms = dict(zip(("CR", "PR", "SD", "PD", "NE"), map(int, counts), strict=True))
        if sum(atoms.values()) < 5:
            continue
        hidden = protect_counts(atoms, RESPONSE_CELLS, 5, fixed=["n"],
                                last_resort=["orr", "dcr"])
        checked_with_suppression += bool(hidden)
        for cell, members in RESPONSE_CELLS.items():  # primary suppression
            if 0 < _value(atoms, members) < 5 and cell != "n":
                assert cell in hidden
        _assert_protected(atoms, RESPONSE_CELLS, hidden, 5)
    assert checked_with_suppression > 70


def test_random_two_band_safety_cells_are_protected():
    """Safety: any grade = worst grade 1-2 + 3-5, grade >= 3 = 3-5, arm size public."""
    cells = {"any": ["g12", "g345"], "severe": ["g345"], "arm_n": ["g12", "g345", "none"]}
    rng = np.random.default_rng(7)
    for _ in range(150):
        atoms = dict(zip(("g12", "g345", "none"),
                         map(int, rng.choice([0, 1, 2, 4, 5, 7, 12], 3)), strict=True))
        if sum(atoms.values()) < 5:
            continue
        hidden = protect_counts(atoms, cells, 5, fixed=["arm_n"])
        _assert_protected(atoms, cells, hidden, 5)
    # by hand: 12 with any grade, 10 of them grade >= 3: the 2 with grade 1-2 are derivable
    atoms = {"g12": 2, "g345": 10, "none": 40}
    assert protect_counts(atoms, cells, 5, fixed=["arm_n"]) == {"severe"}


def test_an_arm_smaller_than_the_threshold_cannot_be_protected_and_is_left():
    atoms = {"CR": 1, "PR": 1, "SD": 1, "PD": 0, "NE": 0}
    hidden = protect_counts(atoms, RESPONSE_CELLS, 5, fixed=["n"], last_resort=["orr", "dcr"])
    assert {"cr", "pr", "sd", "orr", "dcr"} <= hidden and "n" not in hidden


def test_engine_checks_its_inputs():
    with pytest.raises(ValueError, match="min_cell_count"):
        protect_counts({"a": 1}, {"a": ["a"]}, 0)
    with pytest.raises(ValueError, match="unknown atoms"):
        protect_counts({"a": 1}, {"a": ["b"]}, 5)
    with pytest.raises(ValueError, match="unknown cells"):
        protect_counts({"a": 1}, {"a": ["a"]}, 5, fixed=["total"])
    with pytest.raises(ValueError, match="more than"):
        protect_counts({f"a{i}": 1 for i in range(17)}, {"a0": ["a0"]}, 5)


# --------------------------------------------------------------------------- tables


def _response_row(arm: str, counts: tuple[int, ...]) -> dict:
    cr, pr, sd, pd_, ne = counts
    n = sum(counts)
    return {"cohort": "all", "arm": arm, "n": n, "cr": cr, "pr": pr, "sd": sd, "pd": pd_,
            "ne": ne, "orr": (cr + pr) / n, "orr_ci_lower": 0.1, "orr_ci_upper": 0.5,
            "dcr": (cr + pr + sd) / n, "dcr_ci_lower": 0.4, "dcr_ci_upper": 0.8,
            "orr_p_value": 0.01, "dcr_p_value": 0.2}


def test_response_table_nulls_cells_rates_and_the_shared_p():
    table = pd.DataFrame([_response_row("ICI", (6, 59, 78, 49, 8)),
                          _response_row("non-ICI", (1, 3, 10, 12, 9))])
    result = suppress_response_table(table, 5, group_cols=["cohort"]).set_index("arm")
    assert result.loc["non-ICI", "suppressed_cells"] == (
        "cr, pr, sd, orr, orr_ci_lower, orr_ci_upper, orr_p_value")
    assert result.loc["non-ICI", ["cr", "pr", "sd", "orr", "orr_ci_upper"]].isna().all()
    assert result.loc["non-ICI", "dcr"] == pytest.approx(14 / 35)
    # the ORR p-value is a function of both arms' numerators: gone on both rows
    assert result.loc["ICI", "suppressed_cells"] == "orr_p_value"
    assert pd.isna(result.loc["ICI", "orr_p_value"]) and result.loc["ICI", "orr"] == 65 / 200
    assert result.loc["ICI", "dcr_p_value"] == 0.2
    assert result["is_suppressed"].tolist() == [True, True]
    assert (result["min_cell_count"] == 5).all()
    assert result.loc["ICI", "cr"] == 6 and str(result["cr"].dtype) == "Int64"


def test_km_table_is_truncated_where_fewer_than_k_are_at_risk():
    table = pd.DataFrame({"arm": ["A"] * 6 + ["B"] * 2,
                          "time_months": [0, 1, 2, 3, 4, 5, 0, 1.0],
                          "n_at_risk": [9, 9, 7, 5, 4, 2, 4, 4]})
    result = truncate_km_table(table, 5, ["arm"])
    assert result["time_months"].tolist() == [0, 1, 2, 3]
    assert (result["arm"] == "A").all()  # B has 4 patients: not published at all
    assert result["suppression_rule"].iloc[0].startswith("rows with fewer than 5 patients")


def _subgroup_rows(levels: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    rows = []
    for level, (n_t, e_t, n_c, e_c) in levels.items():
        rows.append({"subgroup": "flag", "level": level, "n": n_t + n_c, "events": e_t + e_c,
                     "n_treated": n_t, "n_control": n_c, "events_treated": e_t,
                     "events_control": e_c, "hr": 0.7})
    return pd.DataFrame(rows)


def test_subgroup_counts_are_protected_across_levels_and_arms():
    table = _subgroup_rows({"yes": (3, 3, 12, 9), "no": (16, 12, 18, 15)})
    result = suppress_subgroup_table(table, 5).set_index("level")
    assert result.loc["yes", ["n_treated", "events_treated"]].isna().all()
    assert result.loc["yes", "hr"] == 0.7  # estimates stay
    # brute force on the published cells, arm totals public
    atoms, cells = {}, {}
    for index, row in table.iterrows():
        for arm in ("treated", "control"):
            atoms[f"{index}:{arm}:e"] = int(row[f"events_{arm}"])
            atoms[f"{index}:{arm}:c"] = int(row[f"n_{arm}"] - row[f"events_{arm}"])
            cells[f"{index}:n_{arm}"] = [f"{index}:{arm}:e", f"{index}:{arm}:c"]
            cells[f"{index}:events_{arm}"] = [f"{index}:{arm}:e"]
        cells[f"{index}:n"] = [a for a in atoms if a.startswith(f"{index}:")]
        cells[f"{index}:events"] = [a for a in atoms if a.startswith(f"{index}:")
                                    and a.endswith(":e")]
    for arm in ("treated", "control"):
        cells[f"t:n_{arm}"] = [a for a in atoms if f":{arm}:" in a]
        cells[f"t:events_{arm}"] = [a for a in atoms if f":{arm}:" in a and a.endswith(":e")]
    hidden = {f"{index}:{column}" for index, level in enumerate(table["level"])
              for column in ("n", "events", "n_treated", "n_control", "events_treated",
                             "events_control") if pd.isna(result.loc[level, column])}
    assert {"0:n_treated", "0:events_treated"} <= hidden
    _assert_protected(atoms, cells, hidden, 5, fixed=tuple(c for c in cells if c.startswith("t:")))
    # the brute force is the check; the engine keeps what it can: the control arm's
    # events per level stay (9 and 15 are not small and hide no small count)
    assert result["events_control"].tolist() == [9, 15]
    assert result.loc["yes", "suppressed_cells"].endswith("events_treated")


def test_balance_counts_means_and_smd_are_suppressed_together():
    table = pd.DataFrame({
        "covariate": ["age_years", "has_brain_metastases", "is_male"],
        "level": [None, None, None], "cohort": "matched",
        "mean_treated": [61.0, 3 / 50, 44 / 50], "mean_control": [60.0, 9 / 50, 49 / 50],
        "n_treated": 50, "n_control": 50, "count_treated": [None, 3, 44],
        "count_control": [None, 9, 49], "smd": [0.1, -0.37, -0.21], "smd_method": "x"})
    result = suppress_balance_table(table, 5).set_index("covariate")
    assert result.loc["age_years", "suppressed_cells"] == ""
    assert result.loc["has_brain_metastases", "suppressed_cells"] == (
        "mean_treated, count_treated, smd")
    assert result.loc["has_brain_metastases", "mean_control"] == pytest.approx(9 / 50)
    # 49 of 50 men: the one woman is derivable from the count, so the count goes
    assert result.loc["is_male", "suppressed_cells"] == "mean_control, count_control, smd"
    assert result.loc["is_male", "count_treated"] == 44


def test_random_subgroup_tables_are_protected_against_brute_force():
    rng = np.random.default_rng(11)
    for _ in range(4):
        levels = {}
        for level in ("yes", "no"):
            n_t, n_c = (int(v) for v in rng.choice([2, 3, 6, 8], 2))
            levels[level] = (n_t, int(rng.integers(0, n_t + 1)), n_c,
                             int(rng.integers(0, n_c + 1)))
        table = _subgroup_rows(levels)
        result = suppress_subgroup_table(table, 5)
        atoms, cells = {}, {}
        for index, row in table.iterrows():
            for arm in ("treated", "control"):
                atoms[f"{index}:{arm}:e"] = int(row[f"events_{arm}"])
                atoms[f"{index}:{arm}:c"] = int(row[f"n_{arm}"] - row[f"events_{arm}"])
                cells[f"{index}:n_{arm}"] = [f"{index}:{arm}:e", f"{index}:{arm}:c"]
                cells[f"{index}:events_{arm}"] = [f"{index}:{arm}:e"]
            cells[f"{index}:n"] = [a for a in atoms if a.startswith(f"{index}:")]
            cells[f"{index}:events"] = [a for a in atoms if a.startswith(f"{index}:")
                                        and a.endswith(":e")]
        for arm in ("treated", "control"):
            cells[f"t:n_{arm}"] = [a for a in atoms if f":{arm}:" in a]
            cells[f"t:events_{arm}"] = [a for a in atoms if f":{arm}:" in a and a.endswith(":e")]
        hidden = {f"{index}:{column}" for index in result.index
                  for column in ("n", "events", "n_treated", "n_control", "events_treated",
                                 "events_control") if pd.isna(result.loc[index, column])}
        _assert_protected(atoms, cells, hidden, 5,
                          fixed=tuple(c for c in cells if c.startswith("t:")))

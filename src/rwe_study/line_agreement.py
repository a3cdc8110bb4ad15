"""Agreement of derived lines of therapy with true ones, as a publishable table.

The warehouse derives lines of therapy from drug administrations
(``docs/line-of-therapy.md``); ``int_line_derivation_compared`` compares them,
patient by patient, with the generator's true lines. :func:`line_agreement_table`
counts the patients by center and number of true lines and applies the
project's disclosure rule (:func:`rwe_stats.disclosure.protect_counts`).
"""

from __future__ import annotations

import pandas as pd

from rwe_stats.disclosure import _check_threshold, _with_suppressed_cells, protect_counts

#: Per-patient agreement flags (int_line_derivation_compared) -> published count column.
#: Agreeing starts or regimens imply an agreeing line count.
MEASURES = {
    "has_same_line_count": "patients_same_line_count",
    "has_line_starts_within_tolerance": "patients_line_starts_within_tolerance",
    "has_same_regimens": "patients_same_regimens",
}
SHARES = {
    "patients_same_line_count": "share_same_line_count",
    "patients_line_starts_within_tolerance": "share_line_starts_within_tolerance",
    "patients_same_regimens": "share_same_regimens",
}
#: The columns of int_line_derivation_compared that line_agreement_table reads.
COMPARED_COLUMNS = ("center_id", "true_line_count", *MEASURES)
COLUMNS = ("center_id", "true_line_count", "patients", *SHARES, *SHARES.values(),
           "line_start_tolerance_days")


def line_agreement_table(compared: pd.DataFrame, line_start_tolerance_days: int,
                         min_cell_count: int) -> pd.DataFrame:
    """Patients and agreement shares by center and number of true lines.

    Parameters
    ----------
    compared : pandas.DataFrame
        One row per patient: ``center_id``, ``true_line_count`` and the
        boolean flags of :data:`MEASURES`.
    line_start_tolerance_days : int
        The tolerance the start flag was computed with (written to each row).
    min_cell_count : int
        Disclosure threshold. Per row the atoms are the patients by the
        combination of flags (count disagrees; count agrees with starts x
        regimens agreeing or not); the cells are ``patients`` and the three
        counts, each share nulled with its count. No cell is public in
        advance.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS` plus ``is_suppressed``, ``suppressed_cells``,
        ``min_cell_count`` and ``suppression_rule``; one row per center and
        true line count, in that order; empty (same columns) for no patients.
    """
    _check_threshold(min_cell_count)
    flags = compared[list(MEASURES)].astype(bool)
    if (flags["has_line_starts_within_tolerance"] & ~flags["has_same_line_count"]).any() or (
            flags["has_same_regimens"] & ~flags["has_same_line_count"]).any():
        raise ValueError("starts or regimens agree only where the line count does")
    atoms_of = pd.Series("count_differs", index=compared.index)
    agree = flags["has_same_line_count"]
    atoms_of[agree] = ("starts_" + flags["has_line_starts_within_tolerance"].map(
        {True: "agree", False: "differ"}) + ":regimens_" + flags["has_same_regimens"].map(
        {True: "agree", False: "differ"}))[agree]
    atom_names = ["count_differs"] + [f"starts_{s}:regimens_{r}" for s in ("agree", "differ")
                                      for r in ("agree", "differ")]
    cells = {
        "patients": atom_names,
        "patients_same_line_count": atom_names[1:],
        "patients_line_starts_within_tolerance": [a for a in atom_names if "starts_agree" in a],
        "patients_same_regimens": [a for a in atom_names if "regimens_agree" in a],
    }
    frame = compared.assign(atom=atoms_of.to_numpy())
    rows = []
    for (center, lines), block in frame.groupby(["center_id", "true_line_count"], sort=True):
        atoms = {name: int((block["atom"] == name).sum()) for name in atom_names}
        counts = {cell: sum(atoms[a] for a in members) for cell, members in cells.items()}
        row = {"center_id": center, "true_line_count": int(lines), **counts}
        row |= {share: counts[count] / counts["patients"] for count, share in SHARES.items()}
        rows.append((row, protect_counts(atoms, cells, min_cell_count)))
    table = pd.DataFrame([row for row, _ in rows], columns=list(COLUMNS[:-1]))
    table = table.assign(line_start_tolerance_days=int(line_start_tolerance_days))
    for column in ("true_line_count", "patients", *SHARES):
        table[column] = table[column].astype("Int64")
    for column in SHARES.values():
        table[column] = table[column].astype("Float64")
    nulled = {index: [column for cell in sorted(hidden, key=list(cells).index)
                      for column in ([cell, SHARES[cell]] if cell in SHARES else [cell, *SHARES,
                                                                                  *SHARES.values()])]
              for index, (_, hidden) in enumerate(rows)}
    return _with_suppressed_cells(table, nulled, min_cell_count, "patient counts")

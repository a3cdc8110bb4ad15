"""True lines of therapy, and the harder line histories of ``--line-history hard``.

The generator knows every patient's lines (:func:`rwe_synth.histories.build_lines`);
the administration-level centers (center_b, center_d) export only the drugs
given per day, so a warehouse must cut them into lines again. :func:`true_lines`
writes down the lines the generator meant, from the same administrations the
center exports, so a line-derivation rule can be validated against them.

The hard variant makes that cut harder, clinically plausibly and without
changing any line's start or regimen (so the cohort truth is unchanged):

* :func:`rechallenge_third_lines`: a third line may re-challenge a
  cytotoxic-only second-line regimen (the same drugs after a treatment-free
  interval of 60 days or more);
* :func:`harden_administrations`: an ICI started on day 15 of cycle 1, one
  drug holiday in a long maintenance, and skipped doses.

Maintenance after induction (chemotherapy stops, the ICI or anlotinib goes
on) and progression-triggered switches are part of both variants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rwe_synth.model import population_parts, rng_for
from rwe_synth.parameters import ModelParameters
from rwe_synth.vocabulary import DRUGS

_IS_CYTOTOXIC = np.asarray([drug.is_cytotoxic for drug in DRUGS])
_IS_ICI = np.asarray([drug.is_ici for drug in DRUGS])
_IS_SUPPORTIVE = np.asarray([drug.drug_class == "supportive" for drug in DRUGS])
_SLOTS = ["drug_1", "drug_2", "drug_3"]

#: Features a true line can carry (the ``features`` column, in this order).
FEATURES = ("maintenance", "rechallenge", "drug_added_day_15", "drug_holiday", "skipped_dose")
#: The columns of ``<out>_truth/true_lines``.
TRUE_LINE_COLUMNS = ("center_id", "patient_key", "line_number", "start_date", "end_date",
                     "regimen", "features")


def rechallenge_third_lines(lines: pd.DataFrame, seed: int, params: ModelParameters
                            ) -> pd.DataFrame:
    """Hard variant: some third lines re-challenge the second-line regimen.

    A patient whose second line gave cytotoxic drugs only, and whose third
    line starts at least ``rechallenge_min_treatment_free_days`` after the
    last second-line cycle, gets the second-line drugs again in third line
    with probability ``p_third_line_rechallenge``. Returns a new lines frame.
    """
    parts = [_rechallenge_third_lines(rows, seed, params, population)
             for population, rows in population_parts(lines)]
    return parts[0] if len(parts) == 1 else pd.concat(parts)


def _rechallenge_third_lines(lines: pd.DataFrame, seed: int, params: ModelParameters,
                             population: int) -> pd.DataFrame:
    hard = params.hard_line_history
    cycle = params.treatment.cycle_days
    rng = rng_for(seed, "line_history", 0, population=population)
    second = lines.loc[lines["line_number"] == 2].set_index("patient_index")
    third = lines.loc[lines["line_number"] == 3]
    previous = second.reindex(third["patient_index"].to_numpy())
    slots = previous[_SLOTS].to_numpy()
    cytotoxic_only = ((slots < 0) | _IS_CYTOTOXIC[np.maximum(slots, 0)]).all(axis=1)
    given = np.minimum(previous["chemo_cycles"].to_numpy(),
                       -(-previous["admin_end_offset"].to_numpy() // cycle))
    last_second_line_day = previous["start_day"].to_numpy() + cycle * (given - 1)
    treatment_free = third["start_day"].to_numpy() - last_second_line_day
    chosen = (cytotoxic_only & (treatment_free >= hard.rechallenge_min_treatment_free_days)
              & (rng.random(len(third)) < hard.p_third_line_rechallenge))
    out = lines.copy()
    rows = third.index[chosen]
    out.loc[rows, _SLOTS] = slots[chosen]
    return out


def harden_administrations(administrations: pd.DataFrame, lines: pd.DataFrame,
                           rng: np.random.Generator, params: ModelParameters
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hard variant: day-15 ICI starts, skipped doses and drug holidays.

    Applied in this order, each line independently (``lines`` gives the
    line starts and ``admin_end_offset``, doses moved to or past it drop):

    1. a line combining an ICI with another drug starts the ICI on day 15 of
       cycle 1, with probability ``p_ici_added_on_day_15`` (when day 15 is
       inside the line);
    2. every dose but a drug's first in its line is skipped with probability
       ``p_skipped_dose``, never two doses of a drug in a row;
    3. a line with at least ``holiday_min_maintenance_doses`` ICI or
       anlotinib doses pauses, with probability ``p_drug_holiday``, before
       its k-th such dose (k uniform from the fourth to the second-to-last):
       that dose and everything after it in the line move
       ``holiday_extra_days`` later, shortened so that no gap between two
       administration days of a line reaches ``max_gap_within_line_days``
       (a longer gap would end the line by every gap rule).

    A supportive drug whose chemotherapy day has gone (skipped) goes too.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The administrations (same columns, ``order`` renumbered) and the
        features applied: ``patient_index``, ``line_number``, ``feature``.
    """
    hard = params.hard_line_history
    line_keys = ["patient_index", "line_number"]
    rows = administrations.merge(
        lines[line_keys + ["start_day", "admin_end_offset"] + _SLOTS], on=line_keys,
        how="left", validate="many_to_one")
    drug = rows["drug"].to_numpy()
    offset = rows["day"].to_numpy() - rows["start_day"].to_numpy()
    features = []

    # 1. the ICI starts on day 15 of cycle 1
    slots = lines[_SLOTS].to_numpy()
    present = slots >= 0
    has_ici = (present & _IS_ICI[np.maximum(slots, 0)]).any(axis=1)
    day_15 = (has_ici & (present.sum(axis=1) >= 2)
              & (lines["admin_end_offset"].to_numpy() > hard.day_15_offset_days)
              & (rng.random(len(lines)) < hard.p_ici_added_on_day_15))
    shifted_lines = lines.loc[day_15, line_keys]
    in_shifted = _member(rows, shifted_lines) & _IS_ICI[drug]
    frame = rows.assign(offset=offset + np.where(in_shifted, hard.day_15_offset_days, 0))
    frame = frame.loc[frame["offset"] < frame["admin_end_offset"]]
    features.append(shifted_lines.assign(feature="drug_added_day_15"))

    # 2. skipped doses: never a drug's first dose in its line, never two in a row
    frame = frame.sort_values(line_keys + ["drug", "offset"], kind="stable", ignore_index=True)
    nth = frame.groupby(line_keys + ["drug"]).cumcount().to_numpy()
    defining = ~_IS_SUPPORTIVE[frame["drug"].to_numpy()]
    candidate = defining & (nth > 0) & (rng.random(len(frame)) < hard.p_skipped_dose)
    after_candidate = np.concatenate([[False], candidate[:-1]]) & (nth > 0)
    skip = candidate & ~after_candidate
    features.append(frame.loc[skip, line_keys].drop_duplicates().assign(
        feature="skipped_dose"))
    frame = frame.loc[~skip]

    # 3. one drug holiday in a long ICI / anlotinib maintenance
    drug = frame["drug"].to_numpy()
    defining = ~_IS_SUPPORTIVE[drug]
    doses = frame.loc[defining & ~_IS_CYTOTOXIC[drug]].sort_values(line_keys + ["offset"],
                                                                   kind="stable")
    doses = doses.assign(rank=doses.groupby(line_keys).cumcount().to_numpy())
    count = doses.groupby(line_keys)["rank"].size().rename("n_doses").reset_index()
    count = count.loc[count["n_doses"] >= hard.holiday_min_maintenance_doses]
    draw = rng.random(len(count))
    pause_at = rng.integers(3, count["n_doses"].to_numpy() - 1)
    extra = rng.integers(hard.holiday_extra_days[0], hard.holiday_extra_days[1] + 1,
                         len(count))
    count = count.assign(pause_at=pause_at, extra=extra).loc[draw < hard.p_drug_holiday]
    pauses = doses.merge(count, on=line_keys).query("rank == pause_at")
    pauses = pauses[line_keys + ["offset", "extra"]].rename(columns={"offset": "pause"})
    # the last administration day of the line before the pause bounds the holiday
    before = frame.loc[defining, line_keys + ["offset"]].merge(pauses, on=line_keys)
    before = (before.loc[before["offset"] < before["pause"]].groupby(line_keys)["offset"]
              .max().rename("previous").reset_index())
    pauses = pauses.merge(before, on=line_keys)
    longest = hard.max_gap_within_line_days - 1 - (pauses["pause"] - pauses["previous"])
    pauses = pauses.assign(extra=np.minimum(pauses["extra"], longest)).query("extra > 0")
    frame = frame.merge(pauses[line_keys + ["pause", "extra"]], on=line_keys, how="left")
    moved = frame["pause"].notna().to_numpy() & (
        frame["offset"].to_numpy() >= frame["pause"].fillna(0).to_numpy())
    frame["offset"] += np.where(moved, frame["extra"].fillna(0).to_numpy(), 0).astype(np.int64)
    kept = (frame["offset"] < frame["admin_end_offset"]).to_numpy()
    after_holiday = frame.loc[moved & kept & ~_IS_SUPPORTIVE[frame["drug"].to_numpy()],
                              line_keys].drop_duplicates()
    features.append(after_holiday.assign(feature="drug_holiday"))
    frame = frame.loc[kept]

    # supportive drugs follow their chemotherapy day (same day, or the day before)
    frame = frame.assign(day=frame["start_day"] + frame["offset"])
    is_supportive = _IS_SUPPORTIVE[frame["drug"].to_numpy()]
    given_days = frame.loc[~is_supportive, ["patient_index", "day"]].drop_duplicates()
    anchor = frame[["patient_index"]].assign(
        day=frame["day"].to_numpy() - (frame["drug"].to_numpy() == _PEGFILGRASTIM))
    keep = ~is_supportive | _member(anchor, given_days, ["patient_index", "day"])
    out = frame.loc[keep, administrations.columns]
    out = out.sort_values(["patient_index", "day", "order"], kind="stable", ignore_index=True)
    out["order"] = out.groupby("patient_index").cumcount().to_numpy()
    applied = pd.concat(features, ignore_index=True)
    return out, applied.astype({"patient_index": np.int64, "line_number": np.int64})


_PEGFILGRASTIM = next(i for i, drug in enumerate(DRUGS) if drug.generic_name == "pegfilgrastim")


def _member(rows: pd.DataFrame, keys: pd.DataFrame,
            columns: tuple[str, ...] | list[str] = ("patient_index", "line_number")
            ) -> np.ndarray:
    """Whether each row's ``columns`` appear in ``keys`` (row order kept)."""
    columns = list(columns)
    hits = keys[columns].drop_duplicates().assign(_hit=True)
    merged = rows[columns].merge(hits, on=columns, how="left")
    return merged["_hit"].notna().to_numpy()


def true_lines(administrations: pd.DataFrame, applied: pd.DataFrame | None = None
               ) -> pd.DataFrame:
    """The lines the generator meant, from the administrations a center exports.

    Parameters
    ----------
    administrations : pandas.DataFrame
        ``patient_index``, ``line_number``, ``day``, ``drug`` and optionally
        ``end_day`` (last day of a multi-day dispensing; else ``day``).
    applied : pandas.DataFrame, optional
        Hard-variant features (:func:`harden_administrations`).

    Returns
    -------
    pandas.DataFrame
        One row per patient and line: ``patient_index``, ``line_number``,
        ``start_day`` (first dose of a line-defining drug), ``end_day`` (last
        day such a drug was given), ``regimen`` (generic names of the
        line-defining drugs given, sorted, joined by `` + ``) and
        ``features`` (:data:`FEATURES` that apply, joined by ``;``).
        Supportive drugs never define a line.
    """
    keys = ["patient_index", "line_number"]
    rows = administrations.loc[~_IS_SUPPORTIVE[administrations["drug"].to_numpy()]]
    end_day = rows["end_day"] if "end_day" in rows else rows["day"]
    rows = rows.assign(end_day=end_day.to_numpy(),
                       cytotoxic=_IS_CYTOTOXIC[rows["drug"].to_numpy()])
    grouped = rows.groupby(keys)
    lines = grouped.agg(start_day=("day", "min"), end_day=("end_day", "max")).reset_index()
    distinct = rows[keys + ["drug"]].drop_duplicates()
    mask = (distinct.assign(bit=np.left_shift(1, distinct["drug"].to_numpy()).astype(np.int64))
            .groupby(keys)["bit"].sum())
    lines = lines.merge(mask.rename("mask").reset_index(), on=keys)
    unique_masks = np.unique(lines["mask"].to_numpy())
    names = {mask: " + ".join(sorted(drug.generic_name for code, drug in enumerate(DRUGS)
                                     if mask >> code & 1)) for mask in unique_masks}
    lines["regimen"] = lines["mask"].map(names)

    lines = lines.sort_values(keys, ignore_index=True)
    flags = {}
    index = pd.MultiIndex.from_frame(lines[keys])
    last_cytotoxic = rows.loc[rows["cytotoxic"]].groupby(keys)["end_day"].max()
    last_other = rows.loc[~rows["cytotoxic"]].groupby(keys)["end_day"].max()
    flags["maintenance"] = (last_other.reindex(index) > last_cytotoxic.reindex(index)).to_numpy()
    earlier = np.zeros(len(lines), dtype=np.int64)
    by_patient = lines.groupby("patient_index")["mask"]
    for lag in range(1, int(lines["line_number"].max()) if len(lines) else 1):
        earlier |= by_patient.shift(lag).fillna(0).astype(np.int64).to_numpy()
    flags["rechallenge"] = ((lines["line_number"].to_numpy() > 1)
                            & ((lines["mask"].to_numpy() & ~earlier) == 0))
    for feature in ("drug_added_day_15", "drug_holiday", "skipped_dose"):
        marked = (applied.loc[applied["feature"] == feature, keys] if applied is not None
                  else lines.loc[[], keys])
        flags[feature] = _member(lines, marked)
    text = np.full(len(lines), "", dtype=object)
    for feature in FEATURES:
        text = np.where(flags[feature], np.where(text == "", feature, text + ";" + feature),
                        text)
    lines["features"] = text
    return lines[keys + ["start_day", "end_day", "regimen", "features"]]

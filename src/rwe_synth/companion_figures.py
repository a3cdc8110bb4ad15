"""The companion study's figures on a registry, computed outside the warehouse's study models.

The companion study (Zhang et al., Front Immunol 2025, doi:10.3389/fimmu.2025.1666373:
ICI continuation beyond progression as second line) is a dbt study now
(studies/ici_continuation_second_line.yml); this module stays as the independent check:
it computes the cohort and figures from the harmonised layer with a rule of its own.
It reads either the generator's truth (:func:`rwe_synth.companion_truth_frame`) or the
warehouse's harmonised layer (``int_study_patients_indexed`` of the reference study and
``int_treatment_lines_unioned``, every patient whatever the reference study's
eligibility), applying the companion's rule itself (:func:`cohort_from_warehouse`).

Methods (docs/generator.md, "One registry, two studies"): Kaplan-Meier medians
(lifelines), two-sided log-rank P (lifelines ``logrank_test``); ORR = (CR + PR) / n and
DCR = (CR + PR + SD) / n over every patient of the arm, P from Pearson's chi-square test
without continuity correction; PSM as the reference study's (``rwe_stats``: unpenalised
logistic propensity model of the reference study's covariates except
``had_first_line_ici``, constant here; 1:1 greedy nearest neighbour on the logit without
replacement, caliper 0.2 SD of the logit, tie-break key = center, export and raw row of
the second-line record), then the same medians and unstratified log-rank P in the
matched patients.

    PYTHONPATH=src .venv/bin/python -m rwe_synth.companion_figures --database warehouse/rwe.duckdb
    PYTHONPATH=src .venv/bin/python -m rwe_synth.companion_figures --truth 496 3 20250919
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy.stats import chi2_contingency

from rwe_stats.matching import match_nearest_neighbour
from rwe_stats.propensity import estimate_propensity_scores
from rwe_synth.parameters import COMPANION_MODEL_TERMS, COMPANION_TARGETS, ModelParameters

#: Propensity covariates: the model's baseline terms (the reference study's
#: propensity covariates) without ``had_first_line_ici``, constant in this cohort.
PROPENSITY_COVARIATES: tuple[str, ...] = tuple(
    term for term in COMPANION_MODEL_TERMS if term != "is_ici")
MATCHING_CALIPER_SD = 0.2
MATCHING_SEED = 20250919

_PLATINUM = ("carboplatin", "cisplatin")


def cohort_from_warehouse(query: Callable[[str], pd.DataFrame],
                          params: ModelParameters | None = None) -> pd.DataFrame:
    """The companion cohort from the harmonised layer of a built warehouse
    (``query``: SQL text -> DataFrame, e.g. ``lambda sql: connection.sql(sql).df()``).

    Rule: center in the companion's centers, first line = platinum + etoposide + an ICI
    (its regimen names the drugs), a second line starting in the companion's window;
    outcomes from the second-line start as the warehouse derives them
    (``int_second_line_outcomes_derived``), with the companion's cut-off.
    """
    companion = (params or ModelParameters()).companion
    # every patient seen (one row each in the reference study's rows), whatever their eligibility
    indexed = query("select * from intermediate.int_study_patients_indexed "
                    "where study_id = 'zhang2025_second_line_ici'")
    lines = query("select patient_id, regimen_name, is_ici_regimen from "
                  "intermediate.int_treatment_lines_unioned where line_number = 1")
    first = lines.drop_duplicates("patient_id").set_index("patient_id")
    regimen = first["regimen_name"].reindex(indexed["patient_id"]).fillna("").to_numpy()
    platinum_etoposide = np.array([
        "etoposide" in r and any(p in r for p in _PLATINUM) for r in regimen])
    first_ici = first["is_ici_regimen"].reindex(indexed["patient_id"]).fillna(False)
    start = pd.to_datetime(indexed["second_line_start_date"])
    window = (pd.Timestamp(companion.study_window_start_date),
              pd.Timestamp(companion.study_window_end_date))
    keep = (indexed["center_id"].isin(companion.center_ids).to_numpy()
            & platinum_etoposide & first_ici.to_numpy(dtype=bool)
            & start.between(*window).to_numpy())
    cohort = indexed.loc[keep].copy()
    cohort = cohort.assign(**_outcomes(cohort, pd.Timestamp(companion.data_cutoff_date)),
                           **_covariates(cohort))
    cohort["tie_break_key"] = (cohort["center_id"] + ":" + cohort["second_line_source_table"]
                               + ":" + cohort["second_line_source_row_number"].astype(str))
    cohort["is_ici"] = cohort["is_ici"].astype(bool)
    return cohort.reset_index(drop=True)


def _outcomes(cohort: pd.DataFrame, cutoff: pd.Timestamp) -> dict[str, Any]:
    """PFS and OS as int_second_line_outcomes_derived defines them, at ``cutoff``."""
    start = pd.to_datetime(cohort["second_line_start_date"])
    death = pd.to_datetime(cohort["death_date"])
    progression = pd.to_datetime(cohort["second_line_progression_date"])
    pfs_event = progression.where(progression.notna() & ~(death < progression), death)
    last_free = pd.to_datetime(cohort["second_line_last_progression_free_date"]).fillna(
        pd.to_datetime(cohort["last_contact_date"]))
    last_contact = pd.to_datetime(cohort["last_contact_date"])

    def end(event: pd.Series, censor: pd.Series) -> tuple[pd.Series, pd.Series]:
        is_event = event.notna() & (event <= cutoff)
        censored = censor.where(censor.notna() & (censor <= cutoff), cutoff)
        return is_event, event.where(is_event, censored.where(event.isna(), cutoff))

    is_pfs, pfs_end = end(pfs_event, last_free)
    is_os, os_end = end(death, last_contact)
    return {"is_pfs_event": is_pfs.to_numpy(), "is_os_event": is_os.to_numpy(),
            "pfs_months": ((pfs_end - start).dt.days / 30.4375).to_numpy(),
            "os_months": ((os_end - start).dt.days / 30.4375).to_numpy()}


def _covariates(cohort: pd.DataFrame) -> dict[str, Any]:
    """The baseline terms as analysis_cohort derives them."""
    start = pd.to_datetime(cohort["second_line_start_date"])
    first_line_pfs = (pd.to_datetime(cohort["first_line_progression_date"])
                      - pd.to_datetime(cohort["first_line_start_date"])).dt.days / 30.4375
    response = cohort["best_response"].fillna("NE")
    return {
        "age_years": (start.dt.year - cohort["birth_year"]).astype(float).to_numpy(),
        "is_male": (cohort["sex"] == "male").to_numpy(),
        "is_ecog_2_or_more": (cohort["ecog_ps"] >= 2).to_numpy(dtype=bool),
        "has_three_or_more_metastatic_sites": (cohort["metastatic_site_count"] >= 3
                                               ).to_numpy(dtype=bool),
        "is_first_line_pfs_6_months_or_more": (first_line_pfs >= 6).to_numpy(),
        "is_objective_response": response.isin(["CR", "PR"]).to_numpy(),
        "is_disease_control": response.isin(["CR", "PR", "SD"]).to_numpy(),
        **{column: cohort[column].astype(bool).to_numpy() for column in (
            "is_ever_smoker", "has_liver_metastases", "has_brain_metastases",
            "has_bone_metastases", "had_thoracic_radiotherapy",
            "had_prophylactic_cranial_irradiation")},
    }


def _median(group: pd.DataFrame, time: str, event: str) -> float:
    fitter = KaplanMeierFitter().fit(group[time], group[event])
    return float(fitter.median_survival_time_)


def _survival(cohort: pd.DataFrame, time: str, event: str) -> dict[str, float]:
    ici = cohort["is_ici"].to_numpy(dtype=bool)
    test = logrank_test(cohort.loc[ici, time], cohort.loc[~ici, time],
                        cohort.loc[ici, event], cohort.loc[~ici, event])
    return {"ICI": _median(cohort.loc[ici], time, event),
            "non-ICI": _median(cohort.loc[~ici], time, event), "p": float(test.p_value)}


def _rate(cohort: pd.DataFrame, column: str) -> dict[str, float]:
    ici = cohort["is_ici"].to_numpy(dtype=bool)
    hits = cohort[column].to_numpy(dtype=bool)
    table = np.array([[np.sum(hits & ici), np.sum(~hits & ici)],
                      [np.sum(hits & ~ici), np.sum(~hits & ~ici)]])
    p = float(chi2_contingency(table, correction=False)[1])
    return {"ICI": float(hits[ici].mean()), "non-ICI": float(hits[~ici].mean()), "p": p}


def matched(cohort: pd.DataFrame, covariates: Sequence[str] = PROPENSITY_COVARIATES,
            caliper_sd: float = MATCHING_CALIPER_SD, seed: int = MATCHING_SEED
            ) -> pd.DataFrame:
    """The 1:1 PSM patients of ``cohort`` (columns ``patient_id``, ``tie_break_key``)."""
    scores = estimate_propensity_scores(cohort, "is_ici", list(covariates))
    scores["tie_break_key"] = cohort["tie_break_key"].to_numpy()
    pairs = match_nearest_neighbour(scores, caliper_sd, seed)
    ids = set(pairs["treated_patient_id"]) | set(pairs["control_patient_id"])
    return cohort.loc[cohort["patient_id"].isin(ids)]


def figures(cohort: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Sizes, medians, rates and P values of the abstract, on ``cohort`` and after PSM."""
    after = matched(cohort)
    ici = cohort["is_ici"].to_numpy(dtype=bool)
    return {
        "patients": {"ICI": int(ici.sum()), "non-ICI": int((~ici).sum())},
        "median_os_months": _survival(cohort, "os_months", "is_os_event"),
        "median_pfs_months": _survival(cohort, "pfs_months", "is_pfs_event"),
        "psm_patients": {"ICI": int(after["is_ici"].sum()),
                         "non-ICI": int((~after["is_ici"]).sum())},
        "psm_median_os_months": _survival(after, "os_months", "is_os_event"),
        "psm_median_pfs_months": _survival(after, "pfs_months", "is_pfs_event"),
        "objective_response_rate": _rate(cohort, "is_objective_response"),
        "disease_control_rate": _rate(cohort, "is_disease_control"),
    }


#: The abstract's figures in the order of :func:`figures` (P as printed there).
ABSTRACT: dict[str, tuple[float, float, str]] = {
    "patients": (118, 93, ""),
    "median_os_months": (*COMPANION_TARGETS["median_os_months"]["value"].values(), "0.016"),
    "median_pfs_months": (*COMPANION_TARGETS["median_pfs_months"]["value"].values(), "< 0.001"),
    "psm_median_os_months": (10.31, 8.95, "0.027"),
    "psm_median_pfs_months": (4.22, 2.12, "< 0.001"),
    "objective_response_rate": (*COMPANION_TARGETS["objective_response_rate"]["value"].values(),
                                "0.003"),
    "disease_control_rate": (*COMPANION_TARGETS["disease_control_rate"]["value"].values(),
                             "0.002"),
}


_LABELS = {
    "patients": "patients",
    "median_os_months": "median 2L-OS, months",
    "median_pfs_months": "median 2L-PFS, months",
    "psm_median_os_months": "after PSM: median 2L-OS",
    "psm_median_pfs_months": "after PSM: median 2L-PFS",
    "objective_response_rate": "2L-ORR",
    "disease_control_rate": "2L-DCR",
}


def markdown_table(measured: dict[str, dict[str, float]]) -> str:
    """The docs table: each figure on the registry beside the abstract's."""
    rows = ["| figure | registry: continuation | registry: discontinuation | registry P "
            "| abstract |", "|---|---|---|---|---|"]
    for name, (ici, non, p) in ABSTRACT.items():
        value = measured[name]
        percent = name.endswith("_rate")
        fmt = (lambda x: f"{100 * x:.1f} %") if percent else (
            (lambda x: f"{x:.0f}") if "patients" in name else (lambda x: f"{x:.2f}"))
        label = _LABELS[name]
        if name == "patients":
            label += (f" (after PSM {measured['psm_patients']['ICI']} + "
                      f"{measured['psm_patients']['non-ICI']})")
        measured_p = f"{value['p']:.3g}" if "p" in value else ""
        abstract = f"{fmt(ici)} vs {fmt(non)}" + (f", P {p}" if p else "")
        if p and not p.startswith("<"):
            abstract = f"{fmt(ici)} vs {fmt(non)}, P = {p}"
        rows.append(f"| {label} | {fmt(value['ICI'])} | {fmt(value['non-ICI'])} "
                    f"| {measured_p} | {abstract} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--database", help="a built warehouse (DuckDB file)")
    source.add_argument("--truth", nargs=3, type=int, metavar=("PATIENTS", "CENTERS", "SEED"),
                        help="the generator's companion truth frame for these arguments")
    args = parser.parse_args(argv)
    if args.database:
        import duckdb

        with duckdb.connect(args.database, read_only=True) as connection:
            cohort = cohort_from_warehouse(lambda sql: connection.sql(sql).df())
    else:
        from rwe_synth.model import companion_truth_frame

        cohort = companion_truth_frame(*args.truth)
        cohort = cohort.assign(patient_id=cohort["center_id"] + ":" + cohort["patient_key"],
                               tie_break_key=cohort["center_id"] + ":" + cohort["patient_key"])
    print(markdown_table(figures(cohort)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

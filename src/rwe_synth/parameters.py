"""Every true parameter of the synthetic data model, in one place.

The generator is a *stated* model: each number below is written to
``manifest.json`` (key ``truth``) so an analysis of the generated data can be
checked against the truth that produced it. Numbers that are calibrated (the
baseline scales of the survival models, the ICI log-hazard ratio, the response
intercepts) were solved by :mod:`rwe_synth.calibration` and are hard-coded
here; re-run that module after changing any other parameter. Where a number
comes from the reference study (Zhang et al., Front Immunol 2025,
doi:10.3389/fimmu.2025.1658017) it says so; every other number is a clinically
plausible choice documented in ``docs/generator.md``.

Times are in months of 30.4375 days unless a name says ``days``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DAYS_PER_MONTH = 30.4375

#: Baseline covariates of the outcome and assignment models, in the names of
#: the ``analysis_cohort`` contract. ``age_years`` enters centred at 60.
MODEL_TERMS: tuple[str, ...] = (
    "is_ici",
    "age_years",
    "is_male",
    "is_ecog_2_or_more",
    "is_ever_smoker",
    "has_liver_metastases",
    "has_brain_metastases",
    "has_bone_metastases",
    "has_three_or_more_metastatic_sites",
    "had_thoracic_radiotherapy",
    "had_prophylactic_cranial_irradiation",
    "had_first_line_ici",
    "is_first_line_pfs_6_months_or_more",
)
AGE_CENTRE_YEARS = 60


@dataclass(frozen=True)
class StudyDesign:
    """Calendar and cohort layout."""

    study_window_start_date: str = "2019-03-01"  # paper: 2L between March 2019 ...
    study_window_end_date: str = "2023-12-31"  # ... and December 2023
    data_cutoff_date: str = "2024-06-30"  # not given in the stored paper text: chosen
    published_patients: int = 496  # paper: 496 patients
    published_ici_patients: int = 200  # paper: 200 2L-ICIs / 296 2L-non-ICIs
    center_ids: tuple[str, ...] = ("center_a", "center_b", "center_c")
    #: Share of patients per center, by number of centers.
    center_shares: dict[int, tuple[float, ...]] = field(
        default_factory=lambda: {1: (1.0,), 2: (0.55, 0.45), 3: (0.45, 0.35, 0.20)}
    )
    #: Non-eligible extra patients per center and exclusion reason:
    #: max(minimum, round(rate * eligible patients of the center)).
    extra_patients_rate: float = 0.006
    extra_patients_minimum: int = 2
    #: Second-line starts of patients outside the window: before it from this
    #: date, or after it up to the cut-off minus this many days.
    early_second_line_from: str = "2018-06-01"
    late_second_line_margin_days: int = 60


@dataclass(frozen=True)
class CovariateModel:
    """Joint distribution of the baseline covariates (independent of arm)."""

    age_mean_years: float = 61.0
    age_sd_years: float = 8.5
    age_min_years: int = 30
    age_max_years: int = 88
    p_male: float = 0.80
    p_ever_smoker_male: float = 0.80
    p_ever_smoker_female: float = 0.12
    #: Among ever smokers, the share a center records as former smokers.
    p_former_given_ever_smoker: float = 0.45
    #: P(ECOG = 0, 1, 2, 3) at second-line start.
    ecog_probabilities: tuple[float, ...] = (0.20, 0.62, 0.15, 0.03)
    #: Per-site prevalence before the shared tumour-burden effect.
    site_prevalence: dict[str, float] = field(
        default_factory=lambda: {
            "liver": 0.30,
            "brain": 0.25,
            "bone": 0.30,
            "adrenal": 0.15,
            "lymph_node": 0.40,
            "lung": 0.20,
            "pleura": 0.10,
        }
    )
    #: SD of a shared normal tumour-burden term added to every site's logit,
    #: so that sites cluster in the same patients.
    site_burden_sd: float = 0.7
    p_thoracic_radiotherapy: float = 0.30
    p_pci_without_brain_metastases: float = 0.10
    p_pci_with_brain_metastases: float = 0.03
    #: logit P(first-line ICI) = intercept + slope * years from 2020-01-01 to
    #: the second-line start (first-line chemo-immunotherapy spread in China
    #: from 2020).
    first_line_ici_logit_intercept: float = -1.6
    first_line_ici_logit_per_year: float = 0.9
    #: First-line PFS: log-normal, median by first-line regimen, clipped.
    first_line_pfs_median_months_chemo: float = 5.0
    first_line_pfs_median_months_chemo_ici: float = 5.8
    first_line_pfs_log_sd: float = 0.6
    first_line_pfs_min_months: float = 1.2
    first_line_pfs_max_months: float = 30.0
    #: Second line starts this many days (uniform, inclusive) after first-line
    #: progression.
    second_line_delay_days: tuple[int, int] = (14, 56)


@dataclass(frozen=True)
class AssignmentModel:
    """Treatment assignment: logit P(2L ICI | x) = alpha + sum(beta * x).

    ``age_years`` is centred at 60 and ``years_since_window_start`` is the
    second-line start in years after 2019-03-01. The intercept ``alpha`` is
    not fixed: arm sizes are exact, so ICI goes to the patients with the
    highest latent score ``sum(beta * x) + logistic noise``, which is the
    logistic model with ``alpha`` set to minus the threshold.
    """

    coefficients: dict[str, float] = field(
        default_factory=lambda: {
            "age_years": -0.02,
            "is_male": 0.0,
            "is_ever_smoker": 0.20,
            "is_ecog_2_or_more": -0.90,
            "has_liver_metastases": -0.50,
            "has_brain_metastases": -0.20,
            "has_bone_metastases": 0.0,
            "has_three_or_more_metastatic_sites": -0.20,
            "had_thoracic_radiotherapy": 0.20,
            "had_prophylactic_cranial_irradiation": 0.0,
            "had_first_line_ici": -0.50,
            "is_first_line_pfs_6_months_or_more": -0.30,
            "years_since_window_start": 0.35,
        }
    )


@dataclass(frozen=True)
class PfsModel:
    """PFS from 2L start: Weibull proportional hazards.

    ``S(t | x) = exp(-baseline_scale * t**shape * exp(sum(log_hr * x)))``, t in
    months, ``age_years`` centred at 60. ``log_hr['is_ici']`` and
    ``baseline_scale`` are calibrated so the marginal medians are the paper's
    4.13 (ICI) and 2.70 (non-ICI) months. A PFS event is death without
    progression with probability ``p_death_without_progression``, independent
    of everything, else progression, so PFS itself stays exactly PH.
    """

    shape: float = 1.25
    baseline_scale: float = 0.1446  # calibrated
    log_hr: dict[str, float] = field(
        default_factory=lambda: {
            "is_ici": -0.4249,  # calibrated (HR 0.654)
            "age_years": 0.005,
            "is_male": 0.05,
            "is_ecog_2_or_more": 0.35,
            "is_ever_smoker": 0.05,
            "has_liver_metastases": 0.40,  # paper: independent predictor
            "has_brain_metastases": 0.10,
            "has_bone_metastases": 0.10,
            "has_three_or_more_metastatic_sites": 0.30,  # paper: independent predictor
            "had_thoracic_radiotherapy": -0.10,
            "had_prophylactic_cranial_irradiation": 0.0,
            "had_first_line_ici": 0.15,
            "is_first_line_pfs_6_months_or_more": -0.45,  # paper: independent predictor
        }
    )
    p_death_without_progression: float = 0.10


@dataclass(frozen=True)
class PostProgressionModel:
    """Survival after 2L progression: Weibull PH, same form as PFS.

    OS = PFS time + post-progression survival for progressors, OS = PFS time
    for deaths without progression. ``baseline_scale`` is calibrated so the
    pooled median OS is ``target_pooled_median_os_months`` (None: calibrated
    to other targets, see :class:`CompanionStudy`).
    """

    shape: float = 1.10
    baseline_scale: float = 0.1281  # calibrated
    log_hr: dict[str, float] = field(
        default_factory=lambda: {
            "is_ici": -0.15,
            "age_years": 0.01,
            "is_male": 0.0,
            "is_ecog_2_or_more": 0.40,
            "is_ever_smoker": 0.0,
            "has_liver_metastases": 0.25,
            "has_brain_metastases": 0.10,
            "has_bone_metastases": 0.05,
            "has_three_or_more_metastatic_sites": 0.15,
            "had_thoracic_radiotherapy": -0.10,
            "had_prophylactic_cranial_irradiation": 0.0,
            "had_first_line_ici": 0.0,
            "is_first_line_pfs_6_months_or_more": -0.20,
        }
    )
    target_pooled_median_os_months: float | None = 8.0


@dataclass(frozen=True)
class CensoringModel:
    """Administrative censoring at the data cut-off plus independent loss to
    follow-up, exponential with this mean (months) from 2L start."""

    loss_to_follow_up_mean_months: float = 60.0


@dataclass(frozen=True)
class ResponseModel:
    """Best overall response on a line (RECIST 1.1), coherent with the dates.

    Tumour assessments on second line start ``first_assessment_days`` (+21
    with probability ``p_first_assessment_late``, + uniform jitter of 0 to
    ``jitter_days``) after the line start and repeat every
    ``interval_days``; progression is documented by an assessment on the
    progression date. A patient is *evaluable* when the first assessment
    falls before the PFS event and on or before the last contact. Then, with
    T the (uncensored) PFS time in months and ``expit`` the logistic function:

    * evaluable and disease control, with probability
      ``expit(disease_control_intercept[arm] + slope * log(T / 3))``: CR or PR
      with probability ``expit(objective_intercept[arm] + slope * log(T / 3))``
      (CR with ``p_cr_given_objective``), else SD;
    * otherwise (not evaluable, or evaluable without disease control, whose
      assessments before progression are then all "not evaluable"): PD if the
      progression is documented, else NE.

    So responders have longer PFS, and a patient whose first assessment comes
    after the progression has best response PD. The four intercepts are
    calibrated to the paper's ORR (29.5 % vs 10.1 %) and DCR (67.0 % vs
    51.7 %).
    """

    first_assessment_days: int = 42
    late_extra_days: int = 21
    p_first_assessment_late: float = 0.50
    jitter_days: int = 6
    interval_days: int = 42
    disease_control_intercept: dict[str, float] = field(
        default_factory=lambda: {"ICI": 1.7050, "non-ICI": 1.2756}  # calibrated
    )
    disease_control_slope_per_log_pfs: float = 1.0
    objective_intercept: dict[str, float] = field(
        default_factory=lambda: {"ICI": -0.9066, "non-ICI": -1.9192}  # calibrated
    )
    objective_slope_per_log_pfs: float = 1.0
    p_cr_given_objective: dict[str, float] = field(
        default_factory=lambda: {"ICI": 0.08, "non-ICI": 0.05}
    )
    #: Share of NE patients (with room for it) who have one recorded
    #: "not evaluable" assessment.
    p_not_evaluable_assessment_recorded: float = 0.5
    #: First line: best response PD if progression by the first assessment,
    #: else CR / PR / SD with these probabilities.
    first_line_response_probabilities: dict[str, float] = field(
        default_factory=lambda: {"CR": 0.05, "PR": 0.65, "SD": 0.30}
    )
    #: Third line: PR with this probability when evaluable, else SD.
    third_line_p_partial_response: float = 0.15


@dataclass(frozen=True)
class TreatmentModel:
    """Regimens, cycles and later lines."""

    cycle_days: int = 21
    #: First line: platinum + etoposide, +/- ICI (maintenance until progression).
    first_line_platinum: dict[str, float] = field(
        default_factory=lambda: {"carboplatin": 0.70, "cisplatin": 0.30}
    )
    first_line_ici: dict[str, float] = field(
        default_factory=lambda: {"atezolizumab": 0.65, "durvalumab": 0.35}
    )
    #: Number of induction (chemotherapy) cycles, first and second line.
    chemotherapy_cycles: dict[int, float] = field(
        default_factory=lambda: {4: 0.50, 5: 0.15, 6: 0.35}
    )
    max_ici_cycles: int = 35
    #: Second line, ICI arm: the ICI ...
    second_line_ici: dict[str, float] = field(
        default_factory=lambda: {
            "atezolizumab": 0.15,
            "durvalumab": 0.10,
            "serplulimab": 0.10,
            "adebrelimab": 0.08,
            "tislelizumab": 0.14,
            "toripalimab": 0.10,
            "sintilimab": 0.12,
            "camrelizumab": 0.11,
            "pembrolizumab": 0.05,
            "nivolumab": 0.05,
        }
    )
    #: ... alone or with a partner ("platinum_etoposide" = rechallenge).
    second_line_ici_partner: dict[str, float] = field(
        default_factory=lambda: {
            "none": 0.30,
            "irinotecan": 0.17,
            "topotecan": 0.13,
            "paclitaxel": 0.10,
            "docetaxel": 0.05,
            "anlotinib": 0.15,
            "platinum_etoposide": 0.10,
        }
    )
    #: Second line, non-ICI arm.
    second_line_non_ici: dict[str, float] = field(
        default_factory=lambda: {
            "topotecan": 0.30,
            "irinotecan": 0.16,
            "paclitaxel": 0.10,
            "docetaxel": 0.05,
            "anlotinib": 0.22,
            "platinum_etoposide": 0.17,
        }
    )
    #: A regimen that gives no drug new to the patient (platinum-etoposide
    #: rechallenge, or the first-line ICI again without a new partner) is only
    #: given when the last first-line administration is more than this many
    #: days before the second-line start; otherwise the partner falls back.
    rechallenge_min_gap_days: int = 121
    rechallenge_fallback: str = "topotecan"
    continuation_fallback_partner: str = "anlotinib"
    #: Third line after documented 2L progression.
    p_third_line_ecog_0_1: float = 0.55
    p_third_line_ecog_2_or_more: float = 0.30
    third_line_delay_days: tuple[int, int] = (14, 42)
    third_line_regimen: dict[str, float] = field(
        default_factory=lambda: {
            "anlotinib": 0.40,
            "topotecan": 0.20,
            "irinotecan": 0.15,
            "paclitaxel": 0.15,
            "docetaxel": 0.10,
        }
    )
    third_line_pfs_shape: float = 1.2
    third_line_pfs_median_months: float = 2.0
    #: Supportive drugs on a chemotherapy day (center_b only): same day, or
    #: the next day.
    p_antiemetic_on_chemotherapy_day: float = 0.60
    p_growth_factor_next_day: float = 0.25
    #: Relative SD of a patient's body-size factor applied to weight/BSA-based doses.
    dose_size_sd: float = 0.08


@dataclass(frozen=True)
class AdverseEventModel:
    """Treatment-related adverse events on second line (one row per term).

    Per term: P(any grade) by arm and the grade distribution. The paper
    reports AEs comparable between arms and one grade 3 rash in the ICI arm;
    we read that as: in the ICI arm every AE is grade 1-2 except
    ``grade_3_rash_per_200_ici`` grade 3 rashes per 200 ICI patients
    (exactly one at the embedded size); the non-ICI arm has a few grade 3
    haematological events.
    """

    second_line: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "neutropenia": {"ICI": 0.25, "non-ICI": 0.33,
                            "grades_ici": (0.55, 0.45), "grades_non_ici": (0.45, 0.43, 0.12)},
            "anaemia": {"ICI": 0.28, "non-ICI": 0.32,
                        "grades_ici": (0.60, 0.40), "grades_non_ici": (0.55, 0.38, 0.07)},
            "thrombocytopenia": {"ICI": 0.12, "non-ICI": 0.18,
                                 "grades_ici": (0.65, 0.35),
                                 "grades_non_ici": (0.55, 0.37, 0.08)},
            "nausea": {"ICI": 0.18, "non-ICI": 0.24,
                       "grades_ici": (0.75, 0.25), "grades_non_ici": (0.70, 0.30)},
            "fatigue": {"ICI": 0.24, "non-ICI": 0.22,
                        "grades_ici": (0.65, 0.35), "grades_non_ici": (0.65, 0.35)},
            "anorexia": {"ICI": 0.14, "non-ICI": 0.15,
                         "grades_ici": (0.75, 0.25), "grades_non_ici": (0.75, 0.25)},
            "diarrhoea": {"ICI": 0.08, "non-ICI": 0.09,
                          "grades_ici": (0.75, 0.25), "grades_non_ici": (0.75, 0.25)},
            "rash": {"ICI": 0.10, "non-ICI": 0.03,
                     "grades_ici": (0.70, 0.30), "grades_non_ici": (0.80, 0.20)},
            "hypothyroidism": {"ICI": 0.08, "non-ICI": 0.0,
                               "grades_ici": (0.60, 0.40), "grades_non_ici": (1.0,)},
            "pneumonitis": {"ICI": 0.04, "non-ICI": 0.005,
                            "grades_ici": (0.50, 0.50), "grades_non_ici": (0.60, 0.40)},
            "alt_increased": {"ICI": 0.10, "non-ICI": 0.06,
                              "grades_ici": (0.75, 0.25), "grades_non_ici": (0.75, 0.25)},
        }
    )
    grade_3_rash_per_200_ici: float = 1.0
    #: First-line AEs (chemotherapy), any grade, grades 1/2/3.
    first_line: dict[str, float] = field(
        default_factory=lambda: {
            "neutropenia": 0.40, "anaemia": 0.35, "thrombocytopenia": 0.15,
            "nausea": 0.30, "fatigue": 0.20,
        }
    )
    first_line_grades: tuple[float, ...] = (0.45, 0.40, 0.15)
    #: AE onset: uniform over the line, at most this many days after its start.
    max_onset_days: int = 180


@dataclass(frozen=True)
class DirtyRowModel:
    """Dirty rows added on top of the clean cohort, per recipe and center:
    max(minimum, round(rate * eligible patients of the center))."""

    rate: float = 0.002
    minimum: int = 1
    minimum_date_order_violation: int = 2
    unknown_drug_name: str = "XYZ-9981"


@dataclass(frozen=True)
class FourthCenterModel:
    """The ``--centers 4`` variant: a fourth center exporting OMOP CDM v5.4 tables.

    Only used (and only written to the manifest) when four centers are
    generated, so the three-center data and manifest stay as they were.
    """

    center_id: str = "center_d"
    #: Share of eligible patients per center (center_a, center_b, center_c,
    #: center_d) with four centers: center_d joins as the second-largest.
    center_shares: tuple[float, ...] = (0.35, 0.27, 0.15, 0.23)
    #: The primary diagnosis (ICD-10 C34.9) is recorded this many days
    #: (uniform, inclusive) before the first first-line administration; it
    #: opens the observation period.
    diagnosis_before_first_line_days: tuple[int, int] = (8, 28)
    #: ECOG is measured this many days (uniform, inclusive) before each line start.
    ecog_before_line_start_days: tuple[int, int] = (0, 7)
    #: A metastatic site first seen at a later line is diagnosed this many
    #: days (uniform, inclusive) before that line's start (after the
    #: previous line's progression, which is at least 14 days earlier).
    site_before_line_start_days: tuple[int, int] = (1, 10)
    #: Etoposide is given on days 1-3 of each cycle (center_b records day 1 only).
    etoposide_days_per_cycle: int = 3
    #: Anlotinib capsules are dispensed for days 1-14 of each 21-day cycle.
    anlotinib_days_per_cycle: int = 14


@dataclass(frozen=True)
class HardLineHistoryModel:
    """The ``--line-history hard`` variant: administration histories that are
    harder to cut into lines (for validating line derivation).

    Applied to the administrations of the administration-level centers
    (center_b, center_d) and to third lines; only used (and only written to
    the manifest) with ``--line-history hard``.
    """

    #: A line that combines an ICI with another drug starts the ICI on day 15
    #: of cycle 1 (then every cycle), with this probability.
    p_ici_added_on_day_15: float = 0.30
    day_15_offset_days: int = 14
    #: Each dose after a drug's first dose in its line is skipped with this
    #: probability (the line goes on; never two doses of a drug in a row).
    p_skipped_dose: float = 0.05
    #: A line with at least ``holiday_min_maintenance_doses`` ICI or
    #: anlotinib doses pauses once, with this probability, from a cycle after
    #: the third, for a drug holiday of this many extra days (uniform,
    #: inclusive); the line goes on after it (doses past the line's end drop).
    p_drug_holiday: float = 0.25
    holiday_min_maintenance_doses: int = 6
    holiday_extra_days: tuple[int, int] = (28, 84)
    #: A holiday is shortened so that no gap between two administration days
    #: of a line reaches this (a longer pause would end the line by the usual
    #: gap rules, so it would not be one line any more).
    max_gap_within_line_days: int = 120
    #: A third line after a cytotoxic-only second line re-challenges the
    #: second-line regimen (same drugs) with this probability, when at least
    #: this many days passed since the last second-line cycle.
    p_third_line_rechallenge: float = 0.5
    rechallenge_min_treatment_free_days: int = 60


#: The model terms of the companion study: every patient of its cohort had a
#: first-line ICI, so ``had_first_line_ici`` is constant there and has no effect.
COMPANION_MODEL_TERMS: tuple[str, ...] = tuple(
    term for term in MODEL_TERMS if term != "had_first_line_ici")


@dataclass(frozen=True)
class CompanionStudy:
    """The companion study's patients: one registry, a second question.

    Zhang et al., Front Immunol 2025, doi:10.3389/fimmu.2025.1666373 (abstract
    only): ES-SCLC patients who progressed after first-line platinum-etoposide
    plus an ICI and started a second line, at two of the reference study's
    centers; ICI continuation in the second line (118) vs discontinuation
    (93). The registry holds them as a second population (``population`` 1 in
    :func:`rwe_synth.model.simulate_patients`), drawn from its own random
    streams, with second lines in this study's window, which lies after the
    reference study's window: no patient is in both cohorts, and the
    reference study's patients and files keep every draw and row they had
    (docs/generator.md, "One registry, two studies").

    The covariate model, censoring, third lines and adverse events are the
    reference study's; first-line chemo-immunotherapy is part of the
    design; treatment choice, PFS, post-progression survival and response
    have their own parameters, calibrated to the companion's abstract by
    :mod:`rwe_synth.calibration` (``is_ici`` = the second line contains an
    ICI = continuation).
    """

    study_id: str = "ici_continuation_second_line"
    source: str = "Zhang et al., Front Immunol 2025, doi:10.3389/fimmu.2025.1666373"
    #: Second-line start window and data cut-off: not in the abstract, chosen
    #: after the reference study's window (2019-03-01 .. 2023-12-31) so the
    #: two cohorts are disjoint. The registry's records of these patients
    #: run to the cut-off; the reference study's records end at its own
    #: cut-off (2024-06-30), as they always did.
    study_window_start_date: str = "2024-01-01"
    study_window_end_date: str = "2024-12-31"
    data_cutoff_date: str = "2025-06-30"
    published_patients: int = 211  # abstract: 211 patients
    published_continuation_patients: int = 118  # abstract: 118 continuation / 93 not
    #: The companion's two centers (Ningxia-like, Tianjin-like) and their
    #: shares of its patients (chosen).
    center_ids: tuple[str, ...] = ("center_a", "center_b")
    center_shares: tuple[float, ...] = (0.55, 0.45)
    #: Non-eligible extra patients per center and exclusion reason, as for
    #: the reference study: max(minimum, round(rate * eligible patients)).
    extra_patients_rate: float = 0.006
    extra_patients_minimum: int = 2
    #: Second line after the window: up to the cut-off minus this many days.
    late_second_line_margin_days: int = 60
    #: First-line ICI (with platinum-etoposide), 2023-2024 (chosen).
    first_line_ici: dict[str, float] = field(
        default_factory=lambda: {
            "atezolizumab": 0.30,
            "durvalumab": 0.20,
            "serplulimab": 0.20,
            "adebrelimab": 0.20,
            "tislelizumab": 0.05,
            "toripalimab": 0.05,
        }
    )
    #: The backbone of the extra patients excluded for a first line that is
    #: not platinum-etoposide: platinum + this drug + an ICI.
    other_first_line_backbone: str = "irinotecan"
    #: Continuation arm: the first-line ICI goes on with this probability,
    #: else another ICI (TreatmentModel.second_line_ici); alone or with a
    #: partner. A regimen with no drug new to the patient (the same ICI
    #: alone) is never given: the first-line ICI runs to the progression, so
    #: there is no > 120-day gap, and the partner falls back to
    #: TreatmentModel.continuation_fallback_partner (a line change always
    #: gives a new drug after a documented progression).
    p_same_ici_in_continuation: float = 0.70
    second_line_ici_partner: dict[str, float] = field(
        default_factory=lambda: {
            "none": 0.20,
            "irinotecan": 0.15,
            "topotecan": 0.15,
            "paclitaxel": 0.12,
            "docetaxel": 0.06,
            "anlotinib": 0.32,
        }
    )
    #: Discontinuation arm (no platinum-etoposide rechallenge: no > 120-day
    #: gap after first-line maintenance). A partner given in first line
    #: (irinotecan after a platinum-irinotecan first line) falls back to
    #: TreatmentModel.rechallenge_fallback.
    second_line_non_ici: dict[str, float] = field(
        default_factory=lambda: {
            "topotecan": 0.30,
            "irinotecan": 0.18,
            "paclitaxel": 0.12,
            "docetaxel": 0.06,
            "anlotinib": 0.34,
        }
    )
    #: logit P(continuation | x) = alpha + sum(beta * x), exact arm sizes as
    #: in AssignmentModel (chosen: continuation for fitter patients and after
    #: a durable first-line benefit; moderate, about half the reference
    #: study's sizes, so 1:1 matching with a 0.2-SD caliper keeps most of the
    #: discontinuation arm, as the abstract's PSM figures suggest).
    assignment: dict[str, float] = field(
        default_factory=lambda: {
            "age_years": -0.01,
            "is_male": 0.0,
            "is_ever_smoker": 0.05,
            "is_ecog_2_or_more": -0.40,
            "has_liver_metastases": -0.20,
            "has_brain_metastases": -0.10,
            "has_bone_metastases": 0.0,
            "has_three_or_more_metastatic_sites": -0.10,
            "had_thoracic_radiotherapy": 0.05,
            "had_prophylactic_cranial_irradiation": 0.0,
            "is_first_line_pfs_6_months_or_more": 0.25,
        }
    )
    #: PFS from 2L start: the reference study's covariate effects,
    #: ``is_ici`` (continuation) and the scale calibrated to 3.92 vs 2.15
    #: months.
    pfs: PfsModel = field(default_factory=lambda: PfsModel(
        baseline_scale=0.2099,  # calibrated
        log_hr={**PfsModel().log_hr, "had_first_line_ici": 0.0,
                "is_ici": -0.6589},  # calibrated (HR 0.517)
    ))
    #: Survival after 2L progression: the reference study's covariate
    #: effects; the scale calibrated to the discontinuation arm's median OS
    #: (7.90 months) and ``is_ici`` to the abstract's OS log-rank P (0.016 at
    #: 211 patients). Shape 2.2 (chosen; with the reference's 1.1 that P
    #: would come with an OS gap of 3.1 months, the abstract has 0.76).
    post_progression: PostProgressionModel = field(default_factory=lambda: PostProgressionModel(
        shape=2.2,
        baseline_scale=0.0126,  # calibrated
        log_hr={**PostProgressionModel().log_hr, "is_ici": 0.1316},  # calibrated (HR 1.14)
        target_pooled_median_os_months=None,  # calibrated to other targets (above)
    ))
    #: Response: the reference study's model, intercepts calibrated to ORR
    #: 28.8 % vs 11.8 % and DCR 65.3 % vs 44.1 %.
    response: ResponseModel = field(default_factory=lambda: ResponseModel(
        disease_control_intercept={"ICI": 1.6304, "non-ICI": 1.2444},  # calibrated
        objective_intercept={"ICI": -0.8726, "non-ICI": -1.3462},  # calibrated
    ))


@dataclass(frozen=True)
class ModelParameters:
    """All parameters of the generator."""

    design: StudyDesign = field(default_factory=StudyDesign)
    covariates: CovariateModel = field(default_factory=CovariateModel)
    assignment: AssignmentModel = field(default_factory=AssignmentModel)
    pfs: PfsModel = field(default_factory=PfsModel)
    post_progression: PostProgressionModel = field(default_factory=PostProgressionModel)
    censoring: CensoringModel = field(default_factory=CensoringModel)
    response: ResponseModel = field(default_factory=ResponseModel)
    treatment: TreatmentModel = field(default_factory=TreatmentModel)
    adverse_events: AdverseEventModel = field(default_factory=AdverseEventModel)
    dirty_rows: DirtyRowModel = field(default_factory=DirtyRowModel)
    fourth_center: FourthCenterModel = field(default_factory=FourthCenterModel)
    hard_line_history: HardLineHistoryModel = field(default_factory=HardLineHistoryModel)
    companion: CompanionStudy = field(default_factory=CompanionStudy)

    def to_dict(self, n_centers: int = 4, line_history: str = "hard") -> dict[str, Any]:
        """The parameters of a run as JSON-ready nested dicts (tuples become lists).

        A variant's parameters (``fourth_center`` with four centers,
        ``hard_line_history`` with ``line_history='hard'``) are left out of
        runs that do not use it, so the manifest of a run does not change
        when a variant is added.
        """
        parameters = _jsonable(asdict(self))
        if n_centers < 4:
            del parameters["fourth_center"]
        if line_history != "hard":
            del parameters["hard_line_history"]
        return parameters

    def center_ids(self, n_centers: int) -> tuple[str, ...]:
        """The ids of the first ``n_centers`` centers (1 to 4), in order."""
        return (self.design.center_ids + (self.fourth_center.center_id,))[:n_centers]

    def center_shares(self, n_centers: int) -> tuple[float, ...]:
        """Share of the eligible patients per center with ``n_centers`` centers."""
        if n_centers == 4:
            return self.fourth_center.center_shares
        return self.design.center_shares[n_centers]


#: Published figures the generator is calibrated to, with the tolerances the
#: tests use: 4 x the standard deviation of the estimate across seeds
#: (measured over 200 seeds at n = 496 and 20 seeds at n = 20,000; see
#: docs/generator.md), absolute, in the unit of the value.
TARGETS: dict[str, dict[str, Any]] = {
    "arm_sizes": {
        "value": {"ICI": 200, "non-ICI": 296},
        "source": "abstract: 496 patients, 200 2L-ICIs vs 296 2L-non-ICIs",
        "tolerance": "exact (arm sizes scale as round(N * 200 / 496))",
    },
    "median_pfs_months": {
        "value": {"ICI": 4.13, "non-ICI": 2.70},
        "source": "abstract: median PFS 4.13 vs 2.70 months (all patients, Kaplan-Meier)",
        "tolerance": {"n_20000": {"ICI": 0.25, "non-ICI": 0.12},
                      "n_496": {"ICI": 1.6, "non-ICI": 0.75}},
    },
    "objective_response_rate": {
        "value": {"ICI": 0.295, "non-ICI": 0.101},
        "source": "abstract: ORR 29.5 % vs 10.1 % (RECIST 1.1)",
        "tolerance": {"n_20000": {"ICI": 0.015, "non-ICI": 0.013},
                      "n_496": {"ICI": 0.13, "non-ICI": 0.07}},
    },
    "disease_control_rate": {
        "value": {"ICI": 0.670, "non-ICI": 0.517},
        "source": "abstract: DCR 67.0 % vs 51.7 %",
        "tolerance": {"n_20000": {"ICI": 0.021, "non-ICI": 0.014},
                      "n_496": {"ICI": 0.14, "non-ICI": 0.12}},
    },
    "grade_3_rash_ici": {
        "value": 1,
        "source": "abstract: one grade 3 rash in the 2L-ICIs group",
        "tolerance": "exact at the embedded size",
    },
    "median_pfs_months_after_psm": {
        "value": {"ICI": 4.14, "non-ICI": 2.84},
        "source": "abstract: after 1:1 PSM 4.14 vs 2.84 months",
        "tolerance": "not tested by the generator (an analysis result)",
    },
}


#: The companion study's published figures (abstract, doi:10.3389/fimmu.2025.1666373)
#: the companion population is calibrated to, with the tests' tolerances (4 x
#: the standard deviation across seeds: 200 seeds at 496 reference patients (211
#: companion), 20 at 20,000 (8,508); docs/generator.md). ``ICI`` is the
#: continuation arm (an ICI in the second line), ``non-ICI`` discontinuation.
COMPANION_TARGETS: dict[str, dict[str, Any]] = {
    "arm_sizes": {
        "value": {"ICI": 118, "non-ICI": 93},
        "source": "abstract: 211 patients, ICI continuation 118 vs discontinuation 93",
        "tolerance": "exact (round(N * 118 / 496) and round(N * 211 / 496) in all)",
    },
    "median_pfs_months": {
        "value": {"ICI": 3.92, "non-ICI": 2.15},
        "source": "abstract: median 2L-PFS 3.92 vs 2.15 months, P < 0.001",
        "tolerance": {"n_211": {"ICI": 1.9, "non-ICI": 1.1},
                      "n_8508": {"ICI": 0.30, "non-ICI": 0.20}},
    },
    "median_os_months": {
        "value": {"ICI": 8.66, "non-ICI": 7.90},
        "source": "abstract: median 2L-OS 8.66 vs 7.90 months, P = 0.016",
        "tolerance": {"n_211": {"non-ICI": 2.3}, "n_8508": {"non-ICI": 0.32}},
        "note": ("the continuation arm's OS median is not a calibration target: the OS "
                 "log-rank P is (os_log_rank_p); the model's median is about 9.5 months"),
    },
    "os_log_rank_p": {
        "value": 0.016,
        "source": "abstract: median 2L-OS 8.66 vs 7.90 months, P = 0.016",
        "tolerance": "calibration target of the expected log-rank statistic at 211 patients",
    },
    "objective_response_rate": {
        "value": {"ICI": 0.288, "non-ICI": 0.118},
        "source": "abstract: 2L-ORR 28.8 % vs 11.8 %, P = 0.003",
        "tolerance": {"n_211": {"ICI": 0.17, "non-ICI": 0.14},
                      "n_8508": {"ICI": 0.031, "non-ICI": 0.023}},
    },
    "disease_control_rate": {
        "value": {"ICI": 0.653, "non-ICI": 0.441},
        "source": "abstract: 2L-DCR 65.3 % vs 44.1 %, P = 0.002",
        "tolerance": {"n_211": {"ICI": 0.18, "non-ICI": 0.21},
                      "n_8508": {"ICI": 0.028, "non-ICI": 0.039}},
    },
    "after_psm": {
        "value": {"median_os_months": {"ICI": 10.31, "non-ICI": 8.95},
                  "median_pfs_months": {"ICI": 4.22, "non-ICI": 2.12}},
        "source": "abstract: after 1:1 PSM 2L-OS 10.31 vs 8.95 months (P = 0.027), "
                  "2L-PFS 4.22 vs 2.12 months (P < 0.001)",
        "tolerance": "not tested by the generator (an analysis result)",
    },
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value

"""The one vocabulary of the generator: what each center writes for a drug, an
adverse event, a metastatic site and a tumour response.

The generator writes raw exports from these tables and the terminology seeds
of the dbt project (``seeds/terminology/terminology__*.csv``) from the same
tables, so the two cannot drift apart (a test compares the committed seeds
with :func:`seed_tables`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DRUG_CLASSES: tuple[str, ...] = (
    "platinum",
    "etoposide",
    "topoisomerase_inhibitor",
    "taxane",
    "anti_angiogenic_tki",
    "pd_l1_inhibitor",
    "pd_1_inhibitor",
    "supportive",
)


@dataclass(frozen=True)
class Drug:
    """A drug and its spelling at each center.

    ``center_a`` writes generic names, ``center_b`` brand names, ``center_c``
    pinyin. Supportive drugs appear only in center_b's administrations.
    """

    generic_name: str
    drug_class: str
    center_a: str | None
    center_b: str
    center_c: str | None
    #: Dose per administration in mg for a reference patient, and whether it
    #: scales with body size (weight/BSA) or is a flat dose.
    dose_mg: float
    body_size_dose: bool

    @property
    def is_ici(self) -> bool:
        return self.drug_class in ("pd_l1_inhibitor", "pd_1_inhibitor")

    @property
    def is_cytotoxic(self) -> bool:
        return self.drug_class in ("platinum", "etoposide", "topoisomerase_inhibitor", "taxane")


#: Order matters: the index of a drug here is its integer code in the model.
DRUGS: tuple[Drug, ...] = (
    Drug("cisplatin", "platinum", "cisplatin", "Platinol", "shunbo", 120, True),
    Drug("carboplatin", "platinum", "carboplatin", "Paraplatin", "kabo", 450, True),
    Drug("etoposide", "etoposide", "etoposide", "VePesid", "yituobogan", 170, True),
    Drug("atezolizumab", "pd_l1_inhibitor", "atezolizumab", "Tecentriq", "atilizhu dankang",
         1200, False),
    Drug("durvalumab", "pd_l1_inhibitor", "durvalumab", "Imfinzi", "duvaliyou dankang",
         1500, False),
    Drug("adebrelimab", "pd_l1_inhibitor", "adebrelimab", "AiRuiLi", "adebeili dankang",
         1300, True),
    Drug("serplulimab", "pd_1_inhibitor", "serplulimab", "HanSiZhuang", "siluli dankang",
         300, True),
    Drug("tislelizumab", "pd_1_inhibitor", "tislelizumab", "BaiZeAn", "tileilizhu dankang",
         200, False),
    Drug("toripalimab", "pd_1_inhibitor", "toripalimab", "TuoYi", "teruipuli dankang",
         240, False),
    Drug("sintilimab", "pd_1_inhibitor", "sintilimab", "DaBoShu", "xindili dankang",
         200, False),
    Drug("camrelizumab", "pd_1_inhibitor", "camrelizumab", "AiRuiKa", "karuilizhu dankang",
         200, False),
    Drug("pembrolizumab", "pd_1_inhibitor", "pembrolizumab", "Keytruda", "pabolizhu dankang",
         200, False),
    Drug("nivolumab", "pd_1_inhibitor", "nivolumab", "Opdivo", "nawuliyou dankang",
         360, False),
    Drug("topotecan", "topoisomerase_inhibitor", "topotecan", "Hycamtin", "tuoputikang",
         2.1, True),
    Drug("irinotecan", "topoisomerase_inhibitor", "irinotecan", "Campto", "yilitikang",
         180, True),
    Drug("paclitaxel", "taxane", "paclitaxel", "Taxol", "zishanchun", 280, True),
    Drug("docetaxel", "taxane", "docetaxel", "Taxotere", "duoxitasai", 120, True),
    Drug("anlotinib", "anti_angiogenic_tki", "anlotinib", "FuKeWei", "anluotini", 12, False),
    Drug("ondansetron", "supportive", None, "Zofran", None, 8, False),
    Drug("pegfilgrastim", "supportive", None, "JinYouLi", None, 6, False),
)
DRUG_INDEX: dict[str, int] = {drug.generic_name: index for index, drug in enumerate(DRUGS)}


@dataclass(frozen=True)
class AdverseEventTerm:
    """A treatment-related adverse event as each center writes it."""

    key: str
    ctcae_term: str  # harmonised CTCAE v5 term (also center_a's spelling)
    center_b: str  # lower-case English words
    center_c: str  # Chinese term


ADVERSE_EVENT_TERMS: tuple[AdverseEventTerm, ...] = (
    AdverseEventTerm("neutropenia", "Neutrophil count decreased", "neutropenia", "中性粒细胞减少"),
    AdverseEventTerm("anaemia", "Anemia", "anaemia", "贫血"),
    AdverseEventTerm("thrombocytopenia", "Platelet count decreased", "thrombocytopenia",
                     "血小板减少"),
    AdverseEventTerm("nausea", "Nausea", "nausea", "恶心"),
    AdverseEventTerm("fatigue", "Fatigue", "fatigue", "乏力"),
    AdverseEventTerm("anorexia", "Anorexia", "loss of appetite", "食欲减退"),
    AdverseEventTerm("diarrhoea", "Diarrhea", "diarrhoea", "腹泻"),
    AdverseEventTerm("rash", "Rash maculo-papular", "rash", "皮疹"),
    AdverseEventTerm("hypothyroidism", "Hypothyroidism", "hypothyroidism", "甲状腺功能减退"),
    AdverseEventTerm("pneumonitis", "Pneumonitis", "pneumonitis", "免疫相关性肺炎"),
    AdverseEventTerm("alt_increased", "Alanine aminotransferase increased", "alt increased",
                     "谷丙转氨酶升高"),
)
AE_INDEX: dict[str, int] = {term.key: index for index, term in enumerate(ADVERSE_EVENT_TERMS)}

#: Harmonised site -> (center_a English word, center_c Chinese name). The
#: order is the order sites are listed in a record.
METASTATIC_SITES: dict[str, tuple[str, str]] = {
    "liver": ("liver", "肝"),
    "brain": ("brain", "脑"),
    "bone": ("bone", "骨"),
    "adrenal": ("adrenal", "肾上腺"),
    "lymph_node": ("lymph node", "淋巴结"),
    "lung": ("lung", "肺"),
    "pleura": ("pleura", "胸膜"),
}
SITE_NAMES: tuple[str, ...] = tuple(METASTATIC_SITES)
#: Sites center_b records as their own 0/1 column; the rest are counted in
#: ``other_met_sites``.
CENTER_B_FLAGGED_SITES: tuple[str, ...] = ("liver", "brain", "bone")

RESPONSE_CODES: tuple[str, ...] = ("CR", "PR", "SD", "PD", "NE")
#: RECIST code -> (center_a code, center_b words, center_c Chinese).
RESPONSES: dict[str, tuple[str, str, str]] = {
    "CR": ("CR", "complete response", "完全缓解"),
    "PR": ("PR", "partial response", "部分缓解"),
    "SD": ("SD", "stable disease", "疾病稳定"),
    "PD": ("PD", "progressive disease", "疾病进展"),
    "NE": ("NE", "not evaluable", "无法评估"),
}

#: Other code lists of the exports (documented in docs/raw-exports.md).
CENTER_A_SEX = {"male": "M", "female": "F"}
CENTER_B_GENDER = {"male": "1", "female": "2"}
CENTER_C_SEX = {"male": "男", "female": "女"}
CENTER_C_YES_NO = {True: "是", False: "否"}
CENTER_C_GRADES = ("I", "II", "III", "IV", "V")
#: ECOG -> the Karnofsky scores center_b may record for it (terminology seed
#: terminology__karnofsky_to_ecog maps them back).
ECOG_TO_KARNOFSKY: dict[int, tuple[int, ...]] = {0: (100,), 1: (90, 80), 2: (70, 60),
                                                 3: (50, 40)}


def seed_tables() -> dict[str, pd.DataFrame]:
    """The four terminology seeds, built from this module's vocabulary.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``terminology__drug_names`` (source_name, generic_name, drug_class,
        is_ici), ``terminology__adverse_event_terms`` (source_term, ae_term),
        ``terminology__metastatic_sites`` (source_term, site) and
        ``terminology__recist_responses`` (source_term, response_code,
        is_objective_response, is_disease_control). ``source_name`` and
        ``source_term`` are spelled exactly as a center writes them; staging
        joins on ``lower(trim(...))``, so a spelling shared by two centers up
        to letter case (``Nausea`` / ``nausea``) is listed once, in the first
        center's spelling, to keep the join one-to-one.
    """
    drug_rows = []
    for drug in DRUGS:
        for spelling in (drug.center_a, drug.center_b, drug.center_c):
            if spelling is not None:
                drug_rows.append((spelling, drug.generic_name, drug.drug_class,
                                  "true" if drug.is_ici else "false"))
    ae_rows = []
    for term in ADVERSE_EVENT_TERMS:
        for spelling in (term.ctcae_term, term.center_b, term.center_c):
            ae_rows.append((spelling, term.ctcae_term))
    site_rows = []
    for site, spellings in METASTATIC_SITES.items():
        for spelling in spellings:
            site_rows.append((spelling, site))
    response_rows = []
    for code, spellings in RESPONSES.items():
        for spelling in spellings:
            response_rows.append((spelling, code, _bool(code in ("CR", "PR")),
                                  _bool(code in ("CR", "PR", "SD"))))
    return {
        "terminology__drug_names": _unique_case_insensitive(
            pd.DataFrame(drug_rows, columns=["source_name", "generic_name", "drug_class",
                                             "is_ici"])),
        "terminology__adverse_event_terms": _unique_case_insensitive(
            pd.DataFrame(ae_rows, columns=["source_term", "ae_term"])),
        "terminology__metastatic_sites": _unique_case_insensitive(
            pd.DataFrame(site_rows, columns=["source_term", "site"])),
        "terminology__recist_responses": _unique_case_insensitive(
            pd.DataFrame(response_rows, columns=["source_term", "response_code",
                                                 "is_objective_response",
                                                 "is_disease_control"])),
    }


def write_seeds(directory: Path) -> list[Path]:
    """Write :func:`seed_tables` as CSV seeds into ``directory``.

    Parameters
    ----------
    directory : pathlib.Path
        Target folder, e.g. ``seeds/terminology``; created if missing.

    Returns
    -------
    list of pathlib.Path
        The files written (UTF-8, no BOM, ``\\n`` line ends).
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in seed_tables().items():
        path = directory / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(table.columns)
            writer.writerows(table.itertuples(index=False, name=None))
        written.append(path)
    return written


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _unique_case_insensitive(table: pd.DataFrame) -> pd.DataFrame:
    key = table.iloc[:, 0].str.strip().str.lower()
    return table.loc[~key.duplicated()].reset_index(drop=True)

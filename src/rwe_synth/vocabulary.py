"""What each center writes for a drug, an adverse event, a metastatic site, a
tumour response and its other codes.

The terminology seeds of the dbt project (``seeds/terminology/``) own the
meaning of every source spelling; this module only says which spellings each
simulated hospital writes. :func:`seed_coverage_problems` reads the seeds and
checks that every spelling the generator writes is a seed row with the
meaning the generator gives it, so the exports can always be harmonised and
appending a seed row (a new center's spellings) never breaks anything.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
    pinyin, ``center_d`` (OMOP ``drug_source_value``) its formulary item
    names. Supportive drugs appear only in the administration-level centers
    (center_b, center_d).
    """

    generic_name: str
    drug_class: str
    center_a: str | None
    center_b: str
    center_c: str | None
    center_d: str
    #: Dose per administration in mg for a reference patient, and whether it
    #: scales with body size (weight/BSA) or is a flat dose.
    dose_mg: float
    body_size_dose: bool
    #: Route (OMOP route_source_value): IV, PO (oral) or SC.
    route: str
    #: RxNorm ingredient concept id (OMOP drug_concept_id); 0 where no
    #: public OMOP mapping could be confirmed (docs/generator.md).
    rxnorm_concept_id: int

    @property
    def is_ici(self) -> bool:
        return self.drug_class in ("pd_l1_inhibitor", "pd_1_inhibitor")

    @property
    def is_cytotoxic(self) -> bool:
        return self.drug_class in ("platinum", "etoposide", "topoisomerase_inhibitor", "taxane")


#: Order matters: the index of a drug here is its integer code in the model.
DRUGS: tuple[Drug, ...] = (
    Drug("cisplatin", "platinum", "cisplatin", "Platinol", "shunbo",
         "CISPLATIN INJ 10MG/2ML", 120, True, "IV", 1397599),
    Drug("carboplatin", "platinum", "carboplatin", "Paraplatin", "kabo",
         "CARBOPLATIN INJ 100MG/10ML", 450, True, "IV", 1344905),
    Drug("etoposide", "etoposide", "etoposide", "VePesid", "yituobogan",
         "ETOPOSIDE INJ 100MG/5ML", 170, True, "IV", 1350504),
    Drug("atezolizumab", "pd_l1_inhibitor", "atezolizumab", "Tecentriq", "atilizhu dankang",
         "ATEZOLIZUMAB INJ 1200MG/20ML", 1200, False, "IV", 42629079),
    Drug("durvalumab", "pd_l1_inhibitor", "durvalumab", "Imfinzi", "duvaliyou dankang",
         "DURVALUMAB INJ 500MG/10ML", 1500, False, "IV", 1594034),
    Drug("adebrelimab", "pd_l1_inhibitor", "adebrelimab", "AiRuiLi", "adebeili dankang",
         "ADEBRELIMAB INJ 600MG/12ML", 1300, True, "IV", 0),
    Drug("serplulimab", "pd_1_inhibitor", "serplulimab", "HanSiZhuang", "siluli dankang",
         "SERPLULIMAB INJ 100MG/10ML", 300, True, "IV", 0),
    Drug("tislelizumab", "pd_1_inhibitor", "tislelizumab", "BaiZeAn", "tileilizhu dankang",
         "TISLELIZUMAB INJ 100MG/10ML", 200, False, "IV", 42609339),
    Drug("toripalimab", "pd_1_inhibitor", "toripalimab", "TuoYi", "teruipuli dankang",
         "TORIPALIMAB INJ 240MG/6ML", 240, False, "IV", 0),
    Drug("sintilimab", "pd_1_inhibitor", "sintilimab", "DaBoShu", "xindili dankang",
         "SINTILIMAB INJ 100MG/10ML", 200, False, "IV", 0),
    Drug("camrelizumab", "pd_1_inhibitor", "camrelizumab", "AiRuiKa", "karuilizhu dankang",
         "CAMRELIZUMAB INJ 200MG", 200, False, "IV", 0),
    Drug("pembrolizumab", "pd_1_inhibitor", "pembrolizumab", "Keytruda", "pabolizhu dankang",
         "PEMBROLIZUMAB INJ 100MG/4ML", 200, False, "IV", 45775965),
    Drug("nivolumab", "pd_1_inhibitor", "nivolumab", "Opdivo", "nawuliyou dankang",
         "NIVOLUMAB INJ 100MG/10ML", 360, False, "IV", 45892628),
    Drug("topotecan", "topoisomerase_inhibitor", "topotecan", "Hycamtin", "tuoputikang",
         "TOPOTECAN INJ 4MG", 2.1, True, "IV", 1378509),
    Drug("irinotecan", "topoisomerase_inhibitor", "irinotecan", "Campto", "yilitikang",
         "IRINOTECAN INJ 100MG/5ML", 180, True, "IV", 1367268),
    Drug("paclitaxel", "taxane", "paclitaxel", "Taxol", "zishanchun",
         "PACLITAXEL INJ 30MG/5ML", 280, True, "IV", 1378382),
    Drug("docetaxel", "taxane", "docetaxel", "Taxotere", "duoxitasai",
         "DOCETAXEL INJ 20MG/0.5ML", 120, True, "IV", 1315942),
    Drug("anlotinib", "anti_angiogenic_tki", "anlotinib", "FuKeWei", "anluotini",
         "ANLOTINIB CAP 12MG", 12, False, "PO", 0),
    Drug("ondansetron", "supportive", None, "Zofran", None,
         "ONDANSETRON INJ 8MG/4ML", 8, False, "IV", 1000560),
    Drug("pegfilgrastim", "supportive", None, "JinYouLi", None,
         "PEGFILGRASTIM INJ 6MG/0.6ML", 6, False, "SC", 1325608),
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


#: center_d (OMOP): ICD-10 codes of the metastatic sites
#: (condition_source_value), the primary tumour, the smoking-status words
#: (observation value_source_value) and its local codes of the measurements,
#: observations and procedures it records.
CENTER_D_SITE_CODES: dict[str, str] = {
    "liver": "C78.7",
    "brain": "C79.3",
    "bone": "C79.5",
    "adrenal": "C79.7",
    "lymph_node": "C77.9",
    "lung": "C78.0",
    "pleura": "C78.2",
}
CENTER_D_PRIMARY_DIAGNOSIS = "C34.9"  # malignant neoplasm of bronchus or lung, unspecified
CENTER_D_SEX = {"male": "M", "female": "F"}
CENTER_D_SMOKING = {"never": "never smoker", "former": "former smoker",
                    "current": "current smoker"}
CENTER_D_CODES = {
    "ecog": "PS-ECOG",  # measurement_source_value of an ECOG score (LOINC 89247-1)
    "recist": "RECIST-TPR",  # measurement_source_value of a RECIST 1.1 timepoint response
    "smoking": "SMOKING-STATUS",  # observation_source_value
    "ctcae_grade": "CTCAE-GRADE",  # observation_source_value, linked to the AE's condition
    "thoracic_rt": "RT-THORAX",  # procedure_source_value
    "pci": "RT-PCI",  # procedure_source_value
}

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds" / "terminology"

#: Each terminology seed the exports are harmonised through: its key column
#: (a source spelling, matched lower(trim()) by staging) and the columns that
#: give the spelling its meaning.
SEED_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "terminology__drug_names": ("source_name", ("generic_name", "drug_class", "is_ici")),
    "terminology__adverse_event_terms": ("source_term", ("ae_term",)),
    "terminology__metastatic_sites": ("source_term", ("site",)),
    "terminology__recist_responses": ("source_term", ("response_code",
                                                      "is_objective_response",
                                                      "is_disease_control")),
    "terminology__sex_codes": ("source_term", ("sex",)),
    "terminology__yes_no_codes": ("source_term", ("is_yes",)),
    "terminology__ctcae_grades": ("source_term", ("ctcae_grade",)),
    "terminology__karnofsky_to_ecog": ("karnofsky_score", ("ecog_ps",)),
}


@dataclass(frozen=True)
class WrittenCode:
    """A spelling a center writes, and what it must mean in a seed."""

    center_id: str
    seed: str
    spelling: str
    meaning: tuple[str, ...]


def written_codes(center_ids: Iterable[str]) -> list[WrittenCode]:
    """Every coded spelling the generator writes for these centers, with its meaning.

    The meaning is spelled as in the seed's meaning columns
    (:data:`SEED_COLUMNS`): booleans ``true``/``false``, integers as digits.
    """
    centers = set(center_ids)
    codes: list[WrittenCode] = []

    def add(center: str, seed: str, spelling: str | None, *meaning: object) -> None:
        if center in centers and spelling is not None:
            codes.append(WrittenCode(center, seed, spelling,
                                     tuple(_bool(m) if isinstance(m, bool) else str(m)
                                           for m in meaning)))

    for drug in DRUGS:
        for center in ("center_a", "center_b", "center_c", "center_d"):
            add(center, "terminology__drug_names", getattr(drug, center), drug.generic_name,
                drug.drug_class, drug.is_ici)
    for term in ADVERSE_EVENT_TERMS:
        for center, spelling in (("center_a", term.ctcae_term), ("center_b", term.center_b),
                                 ("center_c", term.center_c), ("center_d", term.ctcae_term)):
            add(center, "terminology__adverse_event_terms", spelling, term.ctcae_term)
    for site, (word_a, word_c) in METASTATIC_SITES.items():
        add("center_a", "terminology__metastatic_sites", word_a, site)
        add("center_c", "terminology__metastatic_sites", word_c, site)
        add("center_d", "terminology__metastatic_sites", CENTER_D_SITE_CODES[site], site)
    for code, (code_a, words_b, words_c) in RESPONSES.items():
        meaning = (code, code in ("CR", "PR"), code in ("CR", "PR", "SD"))
        for center, spelling in (("center_a", code_a), ("center_b", words_b),
                                 ("center_c", words_c), ("center_d", code_a)):
            add(center, "terminology__recist_responses", spelling, *meaning)
    for sex in ("male", "female"):
        for center, table in (("center_a", CENTER_A_SEX), ("center_b", CENTER_B_GENDER),
                              ("center_c", CENTER_C_SEX), ("center_d", CENTER_D_SEX)):
            add(center, "terminology__sex_codes", table[sex], sex)
    for yes in (True, False):
        add("center_a", "terminology__yes_no_codes", "Y" if yes else "N", yes)
        add("center_b", "terminology__yes_no_codes", "1" if yes else "0", yes)
        add("center_c", "terminology__yes_no_codes", CENTER_C_YES_NO[yes], yes)
        add("center_c", "terminology__yes_no_codes", "yes" if yes else "no", yes)
    add("center_c", "terminology__yes_no_codes", "former", True)
    for status, word in CENTER_D_SMOKING.items():
        add("center_d", "terminology__yes_no_codes", word, status != "never")
    for grade in range(1, 6):
        add("center_a", "terminology__ctcae_grades", str(grade), grade)
        add("center_b", "terminology__ctcae_grades", f"G{grade}", grade)
        add("center_c", "terminology__ctcae_grades", CENTER_C_GRADES[grade - 1], grade)
        add("center_d", "terminology__ctcae_grades", str(grade), grade)
    for ecog, scores in ECOG_TO_KARNOFSKY.items():
        for score in scores:
            add("center_b", "terminology__karnofsky_to_ecog", str(score), ecog)
    return codes


def read_seeds(seeds_dir: Path = SEEDS_DIR) -> dict[str, list[dict[str, str]]]:
    """The rows of every seed in :data:`SEED_COLUMNS` (all values as text)."""
    tables = {}
    for seed in SEED_COLUMNS:
        path = Path(seeds_dir) / f"{seed}.csv"
        if not path.is_file():
            raise FileNotFoundError(
                f"terminology seed {path} is missing: the generator checks its spellings "
                f"against the seeds in {seeds_dir} (pass --seeds DIR)")
        with path.open(encoding="utf-8", newline="") as handle:
            tables[seed] = list(csv.DictReader(handle))
    return tables


def seed_coverage_problems(center_ids: Iterable[str], seeds_dir: Path = SEEDS_DIR
                           ) -> list[str]:
    """Spellings the generator writes that the seeds do not map as the generator means.

    Every spelling written for the centers must be a row of its seed
    (matched like staging: ``lower(trim())``, a row with a ``center_id``
    only for that center) whose meaning columns equal
    the generator's meaning. Extra seed rows are fine.

    Returns
    -------
    list of str
        One sentence per problem (empty: the seeds cover the generator).
    """
    seeds = read_seeds(seeds_dir)
    problems = []
    for code in written_codes(center_ids):
        key, meaning_columns = SEED_COLUMNS[code.seed]
        rows = [row for row in seeds[code.seed]
                if row[key].strip().lower() == code.spelling.strip().lower()
                and (row.get("center_id") or "").strip() in ("", code.center_id)]
        expected = dict(zip(meaning_columns, code.meaning, strict=True))
        if not rows:
            problems.append(
                f"{code.center_id} writes {code.spelling!r}, which has no row in "
                f"{code.seed}.csv: append {code.spelling},{','.join(code.meaning)}")
        for row in rows:
            found = {column: row[column].strip().lower() for column in meaning_columns}
            if found != {column: value.lower() for column, value in expected.items()}:
                problems.append(
                    f"{code.center_id} writes {code.spelling!r} meaning {expected}, but "
                    f"{code.seed}.csv maps it to {found}")
    return problems


def require_seed_coverage(center_ids: Iterable[str], seeds_dir: Path = SEEDS_DIR) -> None:
    """Raise ``ValueError`` listing :func:`seed_coverage_problems`, if any."""
    problems = seed_coverage_problems(center_ids, seeds_dir)
    if problems:
        raise ValueError(
            f"The terminology seeds in {seeds_dir} do not cover what the generator writes "
            f"({len(problems)} problem(s)):\n  " + "\n  ".join(problems))


def _bool(value: bool) -> str:
    return "true" if value else "false"

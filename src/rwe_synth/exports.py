"""Center export formats (docs/raw-exports.md), applied to the event tables.

Every value is produced as text (pyarrow string arrays, null = missing), in
the exact file names, column names, codes and date layouts of each center.
Rows are ordered by patient key, then within the patient by line and date;
the export's own row id (record_no, admin_id, ...) is numbered 1..n in file
order when the table is finalised (after dirty rows are inserted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rwe_synth.model import POPULATION_REFERENCE, population_parts, rng_for, with_columns
from rwe_synth.omop_cdm import OMOP_COLUMNS
from rwe_synth.parameters import DAYS_PER_MONTH, ModelParameters
from rwe_synth.vocabulary import (
    ADVERSE_EVENT_TERMS,
    CENTER_A_SEX,
    CENTER_B_FLAGGED_SITES,
    CENTER_B_GENDER,
    CENTER_C_GRADES,
    CENTER_C_SEX,
    CENTER_C_YES_NO,
    DRUGS,
    ECOG_TO_KARNOFSKY,
    METASTATIC_SITES,
    RESPONSES,
    SITE_NAMES,
)

#: Table layout per center: file stem -> (row id column or None, columns).
EXPORT_LAYOUT: dict[str, dict[str, tuple[str | None, tuple[str, ...]]]] = {
    "center_a": {
        "treatment_lines": ("record_no", (
            "record_no", "mrn", "patient_name", "id_card_no", "birth_date", "sex", "ecog",
            "smoking_history", "metastatic_sites", "thoracic_rt", "pci", "line_no", "regimen",
            "line_start_date", "progression_date", "best_response", "death_date",
            "last_contact_date")),
        "adverse_events": ("record_no", (
            "record_no", "mrn", "line_no", "ae_term", "ctcae_grade", "onset_date")),
    },
    "center_b": {
        "patients": (None, (
            "patient_key", "name", "national_id", "dob", "gender", "kps", "smoker",
            "liver_met", "brain_met", "bone_met", "other_met_sites", "thoracic_radiotherapy",
            "pci", "death_date", "last_followup")),
        "drug_administrations": ("admin_id", (
            "admin_id", "patient_key", "admin_date", "drug_name", "dose_mg")),
        "assessments": ("assessment_id", (
            "assessment_id", "patient_key", "assessment_date", "response")),
        "adverse_events": ("ae_id", (
            "ae_id", "patient_key", "ae_date", "ae_description", "grade")),
    },
    "center_c": {
        "lines": (None, (
            "case_no", "patient_name", "id_number", "birth_date", "sex", "ps_score", "smoking",
            "met_sites", "thoracic_rt", "pci", "line_number", "regimen_pinyin", "start_date",
            "pfs_days", "progressed", "os_months", "dead", "response")),
        "adverse_events": ("ae_no", (
            "ae_no", "case_no", "line_number", "ae_name", "grade")),
    },
    # OMOP CDM v5.4: the *_id columns are data (they link the tables), not
    # file row numbers, so no row id column is renumbered
    "center_d": {table: (None, columns) for table, columns in OMOP_COLUMNS.items()},
}

#: Patient key layout per center: (prefix, digits at the documented width).
KEY_LAYOUT: dict[str, tuple[str, int]] = {
    "center_a": ("NX", 6),
    "center_b": ("TJ-", 5),
    "center_c": ("NM", 5),
    "center_d": ("GZ", 7),
}
#: Region codes (first six digits of the national ID) per center.
REGION_CODES: dict[str, tuple[int, ...]] = {
    "center_a": (640104, 640105, 640106, 640121, 640181),
    "center_b": (120101, 120102, 120103, 120104, 120105),
    "center_c": (150102, 150103, 150104, 150105, 150121),
    # not exported (OMOP has no national ID), drawn so the fake people are complete
    "center_d": (440103, 440104, 440105, 440106, 440111),
}
#: Unused patient keys reserved per center for dirty rows of unknown patients
#: (at least this many, and twice the dirty rows per recipe).
GHOST_KEYS = 16
ROW_KEY_STRIDE = 1 << 24

_SURNAMES = (("Wang", "王"), ("Li", "李"), ("Zhang", "张"), ("Liu", "刘"), ("Chen", "陈"),
             ("Yang", "杨"), ("Zhao", "赵"), ("Huang", "黄"), ("Zhou", "周"), ("Wu", "吴"),
             ("Xu", "徐"), ("Sun", "孙"), ("Hu", "胡"), ("Zhu", "朱"), ("Gao", "高"),
             ("Lin", "林"), ("He", "何"), ("Guo", "郭"), ("Ma", "马"), ("Luo", "罗"))
_GIVEN = (("jian", "建"), ("guo", "国"), ("wei", "伟"), ("fang", "芳"), ("min", "敏"),
          ("jing", "静"), ("li", "丽"), ("qiang", "强"), ("lei", "磊"), ("jun", "军"),
          ("yang", "洋"), ("yong", "勇"), ("yan", "艳"), ("jie", "杰"), ("juan", "娟"),
          ("tao", "涛"), ("ming", "明"), ("chao", "超"), ("xiu", "秀"), ("ying", "英"),
          ("hua", "华"), ("hui", "慧"), ("bin", "斌"), ("hong", "红"), ("ping", "平"),
          ("gang", "刚"), ("hai", "海"), ("lin", "林"), ("xia", "霞"), ("feng", "峰"))
_ID_WEIGHTS = np.asarray([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.asarray(list("10X98765432"), dtype=object)


@dataclass
class ExportTable:
    """One export file before it is written.

    ``data`` holds the text columns except the row id; ``sort_key`` orders
    the rows (patient rank, then position within the patient);
    ``patient_index`` ties a row to the model patient (-1 = none).
    """

    center_id: str
    name: str
    row_id_column: str | None
    columns: tuple[str, ...]
    data: pa.Table
    sort_key: np.ndarray
    patient_index: np.ndarray
    #: Dirty rows added on top: (text row, sort key, reason, column).
    dirty: list[tuple[dict[str, str | None], int, str, str]] = field(default_factory=list)


@dataclass
class CenterContext:
    """What the formatters and dirty-row recipes need about one center."""

    center_id: str
    patients: pd.DataFrame  # with identifier columns, indexed by patient_index
    ghost_keys: list[str]
    rank: pd.Series  # patient_index -> rank of the patient key in the center
    #: Per table whose clean ids are not 1..its rows (center_d's person ids
    #: are ranks in the whole center, also when a block holds only some):
    #: the id that dirty copies with a new id come after.
    new_id_floor: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# text helpers
# ---------------------------------------------------------------------------


def text(values, mask=None) -> pa.Array:
    """A pyarrow string array from values; ``mask`` True = missing."""
    array = pa.array(np.asarray(values, dtype=object), type=pa.string())
    if mask is not None:
        array = pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.scalar(None, pa.string()),
                           array)
    return array


def integer_text(values, mask=None) -> pa.Array:
    array = pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())
    if mask is not None:
        array = pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.scalar(None, pa.string()),
                           array)
    return array


def date_text(days, layout: str, mask=None) -> pa.Array:
    """Day numbers as text in a center's date layout (null where ``mask``).

    Dates are formatted once per distinct day and looked up, which is much
    faster than formatting every row.
    """
    unique, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    iso = np.datetime_as_string(unique.astype("datetime64[D]"), unit="D").astype(str)
    if layout == "YYYY-MM-DD":
        formatted = iso
    elif layout == "DD/MM/YYYY":
        formatted = [f"{d[8:10]}/{d[5:7]}/{d[0:4]}" for d in iso]
    elif layout == "YYYYMMDD":
        formatted = [f"{d[0:4]}{d[5:7]}{d[8:10]}" for d in iso]
    elif layout == "YYYY/M/D":
        formatted = [f"{d[0:4]}/{int(d[5:7])}/{int(d[8:10])}" for d in iso]
    else:
        raise ValueError(f"Unknown date layout {layout!r}.")
    array = lookup_text(inverse.reshape(-1), list(formatted))
    if mask is not None:
        array = pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.scalar(None, pa.string()),
                           array)
    return array


def lookup_text(codes: np.ndarray, table: list[str] | np.ndarray) -> pa.Array:
    """Text of integer codes through a small lookup table."""
    return pa.array(np.asarray(table, dtype=object)).take(pa.array(np.asarray(codes)))


def dose_text(dose: np.ndarray) -> pa.Array:
    """Doses: whole numbers without decimals, others with one decimal."""
    whole = np.isclose(dose, np.rint(dose))
    as_int = pa.array(np.rint(dose).astype(np.int64)).cast(pa.string())
    as_decimal = pa.array(np.round(dose, 1)).cast(pa.string())
    return pc.if_else(pa.array(whole), as_int, as_decimal)


def months_text(days: np.ndarray) -> pa.Array:
    """Days as months (30.4375 days) with exactly two decimals."""
    hundredths = np.rint(np.asarray(days) / DAYS_PER_MONTH * 100).astype(np.int64)
    sign = np.where(hundredths < 0, "-", "")
    magnitude = np.abs(hundredths)
    whole = (magnitude // 100).astype(str)
    fraction = np.char.zfill((magnitude % 100).astype(str), 2)
    return text(np.char.add(np.char.add(np.char.add(sign.astype(str), whole), "."), fraction))


def _site_lists(sites: np.ndarray, words: list[str], separator: str) -> pa.Array:
    """Join the words of each row's present sites (SITE_NAMES order)."""
    code = (sites.astype(np.int64) << np.arange(sites.shape[1])).sum(axis=1)
    table = [separator.join(words[j] for j in range(sites.shape[1]) if combination >> j & 1)
             for combination in range(1 << sites.shape[1])]
    return lookup_text(code, table)


def _regimen_text(drugs: np.ndarray, spelling: str, separator: str) -> pa.Array:
    """Each row's drug codes (-1 = none) spelled for a center and joined."""
    unique, inverse = np.unique(drugs, axis=0, return_inverse=True)
    table = [separator.join(getattr(DRUGS[code], spelling) for code in row if code >= 0)
             for row in unique]
    return lookup_text(inverse.reshape(-1), table)


# ---------------------------------------------------------------------------
# identifiers
# ---------------------------------------------------------------------------


@dataclass
class IssuedIdentifiers:
    """The identifiers the earlier blocks of a run gave out, so that a later
    block, simulated on its own, draws none of them again.

    ``digits``: the key digits of every block of a center, from an upper
    bound of the center's keys in the whole run (:func:`key_digits`), so all
    blocks write keys of one width; ``keys``: the key numbers per center
    (ghost keys included); ``national_ids``: the national IDs' 17-digit
    bodies. Held as sorted integers: about 16 bytes per patient of the run.
    """

    digits: dict[str, int]
    keys: dict[str, np.ndarray] = field(default_factory=dict)
    national_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def key_numbers(self, center_id: str) -> np.ndarray:
        """The center's key numbers issued so far, sorted."""
        return self.keys.get(center_id, np.zeros(0, dtype=np.int64))

    def add(self, columns: dict[str, np.ndarray], center_index: np.ndarray,
            center_ids: list[str], ghosts: dict[str, list[str]]) -> None:
        """Record one block's identifier columns (and ghost keys)."""
        for index, center_id in enumerate(center_ids):
            taken = np.concatenate([
                columns["patient_key"][center_index == index],
                np.asarray(ghosts.get(center_id, []), dtype=object)])
            self.keys[center_id] = np.sort(np.concatenate([self.key_numbers(center_id),
                                                           _key_numbers(taken)]))
        self.national_ids = np.sort(np.concatenate([self.national_ids,
                                                    columns["national_id_body"]]))


def _in_sorted(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_values)`` by binary search: no hash table or
    sorted copy of the (millions of) issued identifiers."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def assign_identifiers(patients: pd.DataFrame, seed: int, n_centers: int,
                       params: ModelParameters, issued: IssuedIdentifiers | None = None
                       ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Patient keys, names, birth dates and national IDs.

    Keys are distinct random numbers at the documented width (``NX`` + 6,
    ``TJ-`` + 5, ``NM`` + 5 digits); a center with more patients than half
    its key space gets one more digit per step (only for very large N). The
    reference population's identifiers are drawn first, as always; the
    companion population's from its own stream, avoiding every key (ghost
    keys included) and national ID drawn before.

    ``issued``: in a run of several blocks, what the earlier blocks gave out
    (:class:`IssuedIdentifiers`); this block's keys avoid their keys and its
    national IDs their national IDs, its keys have ``issued.digits``, and
    what it draws is added to ``issued``.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``patients`` with ``patient_key``, ``name_pinyin``, ``name_chinese``,
        ``birth_day`` and ``national_id`` added, and per center a list of
        unused keys for dirty rows of unknown patients.
    """
    # the identifier columns are drawn per population and set once on the
    # whole frame: one copy of ``patients`` instead of one per population
    # plus their concatenation
    columns: dict[str, np.ndarray] = {}
    ghosts: dict[str, list[str]] = {}
    used_keys: dict[str, np.ndarray] = {}
    used_ids = np.zeros(0, dtype=np.int64)
    population = patients["population"].to_numpy()
    for code, rows in population_parts(patients):
        if code == POPULATION_REFERENCE:
            part, ghosts = _identifiers(rows, seed, n_centers, params, issued=issued)
            center_id_values = rows["center_id"].to_numpy()
            for center_id in params.center_ids(n_centers):
                taken = np.concatenate([
                    part["patient_key"][center_id_values == center_id],
                    np.asarray(ghosts[center_id], dtype=object)])
                used_keys[center_id] = _key_numbers(taken)
        else:
            part, _ = _identifiers(rows, seed, n_centers, params, code, used_keys, used_ids,
                                   issued=issued)
        used_ids = np.concatenate([used_ids, part["national_id_body"]])
        if rows is patients:
            columns = part
            break
        for name, values in part.items():
            if name not in columns:
                columns[name] = np.empty(len(patients), dtype=values.dtype)
            columns[name][population == code] = values
    del used_ids, used_keys
    if issued is not None:
        issued.add(columns, patients["center_index"].to_numpy(),
                   params.center_ids(n_centers), ghosts)
    del columns["national_id_body"]
    return with_columns(patients, **columns), ghosts


def _key_numbers(keys: np.ndarray) -> np.ndarray:
    """The numbers of patient keys (the digits at their end)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return pd.Series(keys, dtype=object).str.extract(r"(\d+)$")[0].astype(np.int64).to_numpy()


def _draw_key_numbers(rng: np.random.Generator, digits: int, needed: int, taken: np.ndarray,
                      earlier: np.ndarray) -> np.ndarray:
    """``needed`` distinct key numbers of ``digits`` digits, none in ``taken``
    nor in ``earlier`` (sorted: the earlier blocks' keys)."""
    low = 10 ** (digits - 1)
    space = 9 * low
    if not len(earlier):
        if len(taken) == 0:
            return low + rng.choice(space, size=needed, replace=False)
        numbers = low + rng.choice(space, size=min(space, needed + len(taken)), replace=False)
        return numbers[~np.isin(numbers, taken)][:needed]
    # a later block of a run: ``earlier`` holds millions of keys at
    # 10,000,000 patients; drawing needed + earlier numbers without
    # replacement (above) would shuffle the whole key space, so draw with
    # replacement and keep the first occurrence of each new number (the key
    # digits keep the space at least half free, so few rounds are needed)
    chosen = np.zeros(0, dtype=np.int64)
    while len(chosen) < needed:
        missing = needed - len(chosen)
        candidates = low + rng.integers(0, space, size=missing + missing // 4 + 16)
        candidates = candidates[~(_in_sorted(candidates, earlier)
                                  | pd.Index(candidates).isin(taken))]
        merged = np.concatenate([chosen, candidates])
        chosen = merged[~pd.Series(merged).duplicated().to_numpy()]
    return chosen[:needed]


def _identifiers(patients: pd.DataFrame, seed: int, n_centers: int, params: ModelParameters,
                 population: int = POPULATION_REFERENCE,
                 used_keys: dict[str, np.ndarray] | None = None,
                 used_ids: np.ndarray | None = None,
                 issued: IssuedIdentifiers | None = None,
                 ) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Identifier columns of one population (and ``national_id_body``, the
    national IDs' 17 digits as integers); ``used_keys`` (key numbers per
    center), ``used_ids`` (national-ID bodies) and what earlier blocks
    ``issued`` are avoided, and only the first population (none used) gets
    ghost keys."""
    rng = rng_for(seed, "identifiers", population=population)
    n = len(patients)
    keys = np.empty(n, dtype=object)
    ghosts: dict[str, list[str]] = {}
    center_index = patients["center_index"].to_numpy()
    for index, center_id in enumerate(params.center_ids(n_centers)):
        members = np.flatnonzero(center_index == index)
        prefix, digits = KEY_LAYOUT[center_id]
        earlier = (issued.key_numbers(center_id) if issued is not None
                   else np.zeros(0, dtype=np.int64))
        if used_keys is None:
            n_eligible = int((patients["status"].to_numpy()[members] == "eligible").sum())
            n_ghosts = GHOST_KEYS + 2 * max(1, int(round(params.dirty_rows.rate * n_eligible)))
            needed = len(members) + n_ghosts
            taken = np.zeros(0, dtype=np.int64)
        elif len(members):
            needed = len(members)
            taken = used_keys[center_id]
        else:
            continue
        digits = key_digits(needed + len(taken) + len(earlier), digits)
        if issued is not None:
            digits = max(digits, issued.digits[center_id])
        numbers = _draw_key_numbers(rng, digits, needed, taken, earlier)
        as_text = np.char.add(prefix, numbers.astype(str)).astype(object)
        keys[members] = as_text[: len(members)]
        if used_keys is None:
            ghosts[center_id] = sorted(as_text[len(members):].tolist())

    surname = rng.integers(0, len(_SURNAMES), n)
    given_1 = rng.integers(0, len(_GIVEN), n)
    given_2 = rng.integers(0, len(_GIVEN), n)
    two_syllables = rng.random(n) < 0.7
    # a name is one of few surname / given-name combinations: each distinct
    # name is spelled once and the rows share its string (fixed-width text
    # arrays of every row's name took several GB at 10,000,000 patients)
    n_given = len(_GIVEN)
    combination = (surname * n_given + given_1) * (n_given + 1) + np.where(
        two_syllables, given_2 + 1, 0)
    distinct, row_name = np.unique(combination, return_inverse=True)
    surname_u = distinct // ((n_given + 1) * n_given)
    given_1_u = distinct // (n_given + 1) % n_given
    given_2_u = distinct % (n_given + 1) - 1
    pinyin_surname = np.asarray([s[0] for s in _SURNAMES])[surname_u]
    chinese_surname = np.asarray([s[1] for s in _SURNAMES])[surname_u]
    pinyin_1 = np.asarray([g[0] for g in _GIVEN])[given_1_u]
    pinyin_2 = np.where(given_2_u >= 0, np.asarray([g[0] for g in _GIVEN])[given_2_u], "")
    chinese_1 = np.asarray([g[1] for g in _GIVEN])[given_1_u]
    chinese_2 = np.where(given_2_u >= 0, np.asarray([g[1] for g in _GIVEN])[given_2_u], "")
    given_pinyin = np.char.capitalize(np.char.add(pinyin_1, pinyin_2))
    name_pinyin = np.char.add(np.char.add(pinyin_surname, " "), given_pinyin
                              ).astype(object)[row_name.reshape(-1)]
    name_chinese = np.char.add(np.char.add(chinese_surname, chinese_1), chinese_2
                               ).astype(object)[row_name.reshape(-1)]

    start_year = (patients["second_line_start_day"].to_numpy().astype("datetime64[D]")
                  .astype("datetime64[Y]").astype(np.int64) + 1970)
    birth_year = start_year - patients["age_years"].to_numpy()
    january_first = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    year_length = ((birth_year + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
                   - january_first).astype(np.int64)
    birth_day = (january_first.astype(np.int64)
                 + np.floor(rng.random(n) * year_length).astype(np.int64))

    region_choice = rng.integers(0, 5, n)
    region = np.zeros(n, dtype=np.int64)
    for index, center_id in enumerate(params.center_ids(n_centers)):
        codes = np.asarray(REGION_CODES[center_id])
        members = center_index == index
        region[members] = codes[region_choice[members]]
    birth = birth_day.astype("datetime64[D]")
    y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    d = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    male = patients["is_male"].to_numpy().astype(np.int64)
    sequence = 2 * rng.integers(0, 500, n) + male
    date_part = region * 10 ** 11 + y * 10 ** 7 + m * 10 ** 5 + d * 10 ** 3
    body = date_part + sequence
    earlier_ids = (issued.national_ids if issued is not None
                   else np.zeros(0, dtype=np.int64))
    if used_ids is not None or len(earlier_ids):
        # a person must not share a national ID with anyone drawn before (a
        # later population, and any population of a later block): the
        # warehouse would link the two records as one person. A later
        # population's IDs are also distinct among themselves; the first
        # population's are drawn as they always were.
        def clashes(values: np.ndarray) -> np.ndarray:
            clash = _in_sorted(values, earlier_ids)
            if used_ids is not None:
                clash |= (pd.Index(values).isin(pd.Index(used_ids))
                          | pd.Series(values).duplicated().to_numpy())
            return clash

        clash = clashes(body)
        while clash.any():
            sequence[clash] = 2 * rng.integers(0, 500, int(clash.sum())) + male[clash]
            body = date_part + sequence
            clash = clashes(body)

    columns = {
        "patient_key": keys,
        "name_pinyin": name_pinyin,
        "name_chinese": name_chinese,
        "birth_day": birth_day,
        "national_id": _national_id(body),
        "karnofsky": _karnofsky(rng, patients["ecog_ps"].to_numpy()),
        "national_id_body": body,
    }
    return columns, ghosts


def _national_id(body: np.ndarray) -> np.ndarray:
    """18-character national IDs: 17 digits and the ISO 7064 check character."""
    # digit by digit: a patients x 17 digit matrix took GBs at 10,000,000
    weighted = np.zeros(len(body), dtype=np.int64)
    for position, weight in enumerate(_ID_WEIGHTS):
        weighted += (body // 10 ** (16 - position)) % 10 * weight
    check = _ID_CHECK[weighted % 11]
    return np.char.add(body.astype(str), check.astype(str)).astype(object)


def key_digits(n_keys: int, documented_digits: int) -> int:
    """Digits of a center's key numbers: the documented width, plus one per
    step while the keys would fill more than half of the key space."""
    digits = documented_digits
    while 2 * n_keys > 9 * 10 ** (digits - 1):
        digits += 1
    return digits


def _karnofsky(rng: np.random.Generator, ecog: np.ndarray) -> np.ndarray:
    pick = rng.integers(0, 2, len(ecog))
    table = np.asarray([[ECOG_TO_KARNOFSKY[e][min(k, len(ECOG_TO_KARNOFSKY[e]) - 1)]
                         for k in (0, 1)] for e in sorted(ECOG_TO_KARNOFSKY)])
    return table[np.minimum(ecog, 3), pick]


def center_context(patients: pd.DataFrame, center_id: str, ghosts: dict[str, list[str]]
                   ) -> CenterContext:
    """The patients of one center, ranked by population, then patient key.

    A registry appends: the companion population's records come after the
    reference population's, so every reference row keeps its position (and
    row number) in the export.
    """
    rank = center_ranks(patients, center_id)
    members = patients.iloc[np.flatnonzero(
        patients["center_id"].to_numpy() == center_id)].set_index("patient_index", drop=False)
    return CenterContext(center_id, members.reindex(rank.index), ghosts[center_id], rank)


def center_ranks(patients: pd.DataFrame, center_id: str) -> pd.Series:
    """``patient_index`` -> rank of one center's patients in file order
    (population, then the number of the patient key), from the three columns
    it needs (a copy of the center's rows is GBs at 10,000,000 patients)."""
    members = np.flatnonzero(patients["center_id"].to_numpy() == center_id)
    population = patients["population"].to_numpy()[members]
    key_number = _key_numbers(patients["patient_key"].to_numpy()[members])
    order = np.lexsort((key_number, population))
    return pd.Series(np.arange(len(members)),
                     index=patients["patient_index"].to_numpy()[members][order])


def _row_keys(context: CenterContext, patient_index: np.ndarray, order: np.ndarray
              ) -> np.ndarray:
    rank = context.rank.reindex(patient_index).to_numpy()
    return rank.astype(np.int64) * ROW_KEY_STRIDE + np.asarray(order, dtype=np.int64) * 4


def _patient_column(context: CenterContext, patient_index: np.ndarray, column: str
                    ) -> np.ndarray:
    return context.patients[column].reindex(patient_index).to_numpy()


# ---------------------------------------------------------------------------
# center A: one row per line, generic names, ISO dates
# ---------------------------------------------------------------------------


def center_a_tables(context: CenterContext, lines: pd.DataFrame, events: pd.DataFrame
                    ) -> dict[str, ExportTable]:
    """``treatment_lines`` and ``adverse_events`` of center_a."""
    lines = lines.loc[lines["patient_index"].isin(context.rank.index)]
    pidx = lines["patient_index"].to_numpy()
    column = lambda name: _patient_column(context, pidx, name)  # noqa: E731
    sites = lines[[f"site_{site}" for site in SITE_NAMES]].to_numpy()
    start = lines["start_day"].to_numpy()
    progression = lines["progression_offset"].to_numpy()
    is_dead = lines["is_dead"].to_numpy()
    vital = start + lines["vital_offset"].to_numpy()
    data = pa.table({
        "mrn": text(column("patient_key")),
        "patient_name": text(column("name_pinyin")),
        "id_card_no": text(column("national_id")),
        "birth_date": date_text(column("birth_day"), "YYYY-MM-DD"),
        "sex": text(np.where(column("is_male"), CENTER_A_SEX["male"], CENTER_A_SEX["female"])),
        "ecog": integer_text(lines["ecog_ps"]),
        "smoking_history": text(np.where(column("is_ever_smoker"), "Y", "N")),
        "metastatic_sites": _site_lists(sites, [w[0] for w in METASTATIC_SITES.values()], ";"),
        "thoracic_rt": text(np.where(lines["had_thoracic_radiotherapy"], "Y", "N")),
        "pci": text(np.where(lines["had_prophylactic_cranial_irradiation"], "Y", "N")),
        "line_no": integer_text(lines["line_number"]),
        "regimen": _regimen_text(lines[["drug_1", "drug_2", "drug_3"]].to_numpy(), "center_a",
                                 " + "),
        "line_start_date": date_text(start, "YYYY-MM-DD"),
        "progression_date": date_text(start + progression, "YYYY-MM-DD", mask=progression < 0),
        "best_response": text(lines["best_response"].to_numpy()),
        "death_date": date_text(vital, "YYYY-MM-DD", mask=~is_dead),
        "last_contact_date": date_text(vital, "YYYY-MM-DD"),
    })
    tables = {"treatment_lines": export_table(context, "treatment_lines", data, pidx,
                                         lines["line_number"].to_numpy())}
    ae = events.loc[events["patient_index"].isin(context.rank.index)]
    apidx = ae["patient_index"].to_numpy()
    ae_data = pa.table({
        "mrn": text(_patient_column(context, apidx, "patient_key")),
        "line_no": integer_text(ae["line_number"]),
        "ae_term": lookup_text(ae["term_index"].to_numpy(),
                               [t.ctcae_term for t in ADVERSE_EVENT_TERMS]),
        "ctcae_grade": integer_text(ae["grade"]),
        "onset_date": date_text(ae["day"], "YYYY-MM-DD"),
    })
    tables["adverse_events"] = export_table(context, "adverse_events", ae_data, apidx,
                                       ae["order"].to_numpy())
    return tables


# ---------------------------------------------------------------------------
# center B: patients + administrations + assessments + AEs, DD/MM/YYYY
# ---------------------------------------------------------------------------


def center_b_tables(context: CenterContext, administrations: pd.DataFrame,
                    assessments: pd.DataFrame, events: pd.DataFrame
                    ) -> dict[str, ExportTable]:
    """``patients``, ``drug_administrations``, ``assessments`` and
    ``adverse_events`` of center_b."""
    patients = context.patients
    pidx = patients["patient_index"].to_numpy()
    flagged = [f"has_{site}_metastases" for site in CENTER_B_FLAGGED_SITES]
    others = [f"site_{site}" for site in SITE_NAMES if site not in CENTER_B_FLAGGED_SITES]
    is_dead = patients["is_dead"].to_numpy()
    data = pa.table({
        "patient_key": text(patients["patient_key"]),
        "name": text(patients["name_pinyin"]),
        "national_id": text(patients["national_id"]),
        "dob": date_text(patients["birth_day"], "DD/MM/YYYY"),
        "gender": text(np.where(patients["is_male"], CENTER_B_GENDER["male"],
                                CENTER_B_GENDER["female"])),
        "kps": integer_text(patients["karnofsky"]),
        "smoker": text(np.where(patients["is_ever_smoker"], "1", "0")),
        "liver_met": text(np.where(patients[flagged[0]], "1", "0")),
        "brain_met": text(np.where(patients[flagged[1]], "1", "0")),
        "bone_met": text(np.where(patients[flagged[2]], "1", "0")),
        "other_met_sites": integer_text(patients[others].to_numpy().sum(axis=1)),
        "thoracic_radiotherapy": text(np.where(patients["had_thoracic_radiotherapy"], "1", "0")),
        "pci": text(np.where(patients["had_prophylactic_cranial_irradiation"], "1", "0")),
        "death_date": date_text(patients["vital_end_day"], "DD/MM/YYYY", mask=~is_dead),
        "last_followup": date_text(patients["vital_end_day"], "DD/MM/YYYY"),
    })
    tables = {"patients": export_table(context, "patients", data, pidx, np.zeros(len(pidx)))}

    admin = administrations.loc[administrations["patient_index"].isin(context.rank.index)]
    apidx = admin["patient_index"].to_numpy()
    tables["drug_administrations"] = export_table(context, "drug_administrations", pa.table({
        "patient_key": text(_patient_column(context, apidx, "patient_key")),
        "admin_date": date_text(admin["day"], "DD/MM/YYYY"),
        "drug_name": lookup_text(admin["drug"].to_numpy(), [d.center_b for d in DRUGS]),
        "dose_mg": dose_text(admin["dose_mg"].to_numpy()),
    }), apidx, admin["order"].to_numpy())

    assess = assessments.loc[assessments["patient_index"].isin(context.rank.index)]
    spidx = assess["patient_index"].to_numpy()
    words = {code: spellings[1] for code, spellings in RESPONSES.items()}
    tables["assessments"] = export_table(context, "assessments", pa.table({
        "patient_key": text(_patient_column(context, spidx, "patient_key")),
        "assessment_date": date_text(assess["day"], "DD/MM/YYYY"),
        "response": text(pd.Series(assess["response"].to_numpy()).map(words).to_numpy()),
    }), spidx, assess["order"].to_numpy())

    ae = events.loc[events["patient_index"].isin(context.rank.index)]
    epidx = ae["patient_index"].to_numpy()
    tables["adverse_events"] = export_table(context, "adverse_events", pa.table({
        "patient_key": text(_patient_column(context, epidx, "patient_key")),
        "ae_date": date_text(ae["day"], "DD/MM/YYYY"),
        "ae_description": lookup_text(ae["term_index"].to_numpy(),
                                      [t.center_b for t in ADVERSE_EVENT_TERMS]),
        "grade": text(np.char.add("G", ae["grade"].to_numpy().astype(str))),
    }), epidx, ae["order"].to_numpy())
    return tables


# ---------------------------------------------------------------------------
# center C: one row per line, Chinese codes, pinyin, relative times
# ---------------------------------------------------------------------------


def center_c_tables(context: CenterContext, lines: pd.DataFrame, events: pd.DataFrame
                    ) -> dict[str, ExportTable]:
    """``lines`` and ``adverse_events`` of center_c."""
    lines = lines.loc[lines["patient_index"].isin(context.rank.index)]
    pidx = lines["patient_index"].to_numpy()
    column = lambda name: _patient_column(context, pidx, name)  # noqa: E731
    sites = lines[[f"site_{site}" for site in SITE_NAMES]].to_numpy()
    progression = lines["progression_offset"].to_numpy()
    vital_offset = lines["vital_offset"].to_numpy()
    smoker = column("is_ever_smoker").astype(bool)
    former = column("is_former_smoker").astype(bool)
    responses = {code: spellings[2] for code, spellings in RESPONSES.items()}
    data = pa.table({
        "case_no": text(column("patient_key")),
        "patient_name": text(column("name_chinese")),
        "id_number": text(column("national_id")),
        "birth_date": date_text(column("birth_day"), "YYYY/M/D"),
        "sex": text(np.where(column("is_male"), CENTER_C_SEX["male"], CENTER_C_SEX["female"])),
        "ps_score": integer_text(lines["ecog_ps"]),
        "smoking": text(np.where(former, "former", np.where(smoker, "yes", "no"))),
        "met_sites": _site_lists(sites, [w[1] for w in METASTATIC_SITES.values()], "、"),
        "thoracic_rt": text(np.where(lines["had_thoracic_radiotherapy"], CENTER_C_YES_NO[True],
                                     CENTER_C_YES_NO[False])),
        "pci": text(np.where(lines["had_prophylactic_cranial_irradiation"],
                             CENTER_C_YES_NO[True], CENTER_C_YES_NO[False])),
        "line_number": text(np.char.add(lines["line_number"].to_numpy().astype(str), "L")),
        "regimen_pinyin": _regimen_text(lines[["drug_1", "drug_2", "drug_3"]].to_numpy(),
                                        "center_c", "+"),
        "start_date": date_text(lines["start_day"], "YYYYMMDD"),
        "pfs_days": integer_text(np.where(progression >= 0, progression, vital_offset)),
        "progressed": text(np.where(progression >= 0, "1", "0")),
        "os_months": months_text(vital_offset),
        "dead": text(np.where(lines["is_dead"], "1", "0")),
        "response": text(pd.Series(lines["best_response"].to_numpy()).map(responses)
                         .to_numpy()),
    })
    tables = {"lines": export_table(context, "lines", data, pidx, lines["line_number"].to_numpy())}
    ae = events.loc[events["patient_index"].isin(context.rank.index)]
    apidx = ae["patient_index"].to_numpy()
    tables["adverse_events"] = export_table(context, "adverse_events", pa.table({
        "case_no": text(_patient_column(context, apidx, "patient_key")),
        "line_number": text(np.char.add(ae["line_number"].to_numpy().astype(str), "L")),
        "ae_name": lookup_text(ae["term_index"].to_numpy(),
                               [t.center_c for t in ADVERSE_EVENT_TERMS]),
        "grade": lookup_text(ae["grade"].to_numpy() - 1, list(CENTER_C_GRADES)),
    }), apidx, ae["order"].to_numpy())
    return tables


def export_table(context: CenterContext, name: str, data: pa.Table,
                 patient_index: np.ndarray, order: np.ndarray) -> ExportTable:
    """An export of a center in its layout, rows keyed by patient rank and ``order``."""
    row_id, columns = EXPORT_LAYOUT[context.center_id][name]
    return ExportTable(context.center_id, name, row_id, columns, data,
                       _row_keys(context, patient_index, order),
                       np.asarray(patient_index, dtype=np.int64))


__all__ = [
    "EXPORT_LAYOUT",
    "ExportTable",
    "IssuedIdentifiers",
    "assign_identifiers",
    "center_a_tables",
    "center_b_tables",
    "center_c_tables",
    "center_context",
    "center_ranks",
    "export_table",
]

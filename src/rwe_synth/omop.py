"""center_d: a hospital network's export in OMOP CDM v5.4 tables.

center_d (``--centers 4``) writes ``person``, ``observation_period``,
``drug_exposure``, ``condition_occurrence``, ``measurement``, ``observation``,
``procedure_occurrence`` and ``death`` with exactly the columns of OMOP CDM
v5.4, in its column order (``OMOP_COLUMNS``), ISO dates. What goes where
(docs/generator.md, "center_d"):

* ``person``: ``person_source_value`` is the hospital's patient key; no name
  and no national ID (the CDM has no column for them), year and month of
  birth only.
* ``drug_exposure``: one row per drug and administration day (IV, SC), or per
  dispensed course (anlotinib capsules, days 1-14); etoposide on days 1-3.
  ``drug_source_value`` is the formulary item name, ``drug_concept_id`` the
  RxNorm ingredient (0 where no public mapping was confirmed).
* ``condition_occurrence``: the primary tumour (ICD-10 ``C34.9``), each
  metastatic site (ICD-10 ``C77``-``C79`` codes, dated when first seen) and
  each adverse event (its CTCAE v5 term).
* ``observation``: smoking status, and the CTCAE grade of each adverse event,
  linked to its condition row (``observation_event_id`` = the
  ``condition_occurrence_id``, ``obs_event_field_concept_id`` = 1147127).
* ``measurement``: ECOG before each line (LOINC 89247-1, concept 36305384,
  ``value_as_number``) and every RECIST 1.1 timepoint response
  (``value_source_value`` CR/PR/SD/PD/NE).
* ``procedure_occurrence``: thoracic radiotherapy and PCI (local codes).
* ``death`` and ``observation_period`` (diagnosis to last contact or death).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from rwe_synth.exports import (
    CenterContext,
    ExportTable,
    date_text,
    dose_text,
    export_table,
    integer_text,
    lookup_text,
    text,
)
from rwe_synth.model import rng_for
from rwe_synth.omop_cdm import OMOP_COLUMNS
from rwe_synth.parameters import ModelParameters
from rwe_synth.vocabulary import (
    ADVERSE_EVENT_TERMS,
    CENTER_D_CODES,
    CENTER_D_PRIMARY_DIAGNOSIS,
    CENTER_D_SEX,
    CENTER_D_SITE_CODES,
    CENTER_D_SMOKING,
    DRUGS,
    SITE_NAMES,
)

#: Standard concepts (OMOP vocabularies; docs/generator.md gives the sources).
GENDER_CONCEPTS = {"male": 8507, "female": 8532}
TYPE_EHR = 32817
TYPE_EHR_ADMINISTRATION = 32818
TYPE_EHR_DISPENSING = 32825
ROUTE_CONCEPTS = {"IV": 4171047, "PO": 4132161, "SC": 4142048}
ECOG_SCORE_CONCEPT = 36305384  # LOINC 89247-1 ECOG Performance Status score
CONDITION_OCCURRENCE_ID_FIELD = 1147127  # condition_occurrence.condition_occurrence_id

_ROUTE = np.asarray([drug.route for drug in DRUGS], dtype=object)
_ETOPOSIDE = next(i for i, drug in enumerate(DRUGS) if drug.generic_name == "etoposide")
_ANLOTINIB = next(i for i, drug in enumerate(DRUGS) if drug.generic_name == "anlotinib")


def expand_administrations(administrations: pd.DataFrame, lines: pd.DataFrame,
                           params: ModelParameters) -> pd.DataFrame:
    """center_d's administration detail on top of the cycle days.

    Etoposide is given on days 1 to ``etoposide_days_per_cycle`` of a cycle
    and anlotinib dispensed for days 1 to ``anlotinib_days_per_cycle``
    (``end_day``); neither reaches the line's ``admin_end_offset``
    (progression, death or the day after the last contact).

    Returns
    -------
    pandas.DataFrame
        The administrations with ``end_day`` (the last day a row covers),
        ``order`` renumbered.
    """
    fourth = params.fourth_center
    keys = ["patient_index", "line_number"]
    rows = administrations.merge(lines[keys + ["start_day", "admin_end_offset"]], on=keys,
                                 how="left", validate="many_to_one")
    last_day = rows["start_day"] + rows["admin_end_offset"] - 1
    etoposide = rows.loc[rows["drug"] == _ETOPOSIDE]
    extra = [etoposide.assign(day=etoposide["day"] + k, order=etoposide["order"] + 0.1 * k)
             for k in range(1, fourth.etoposide_days_per_cycle)]
    rows = pd.concat([rows, *extra], ignore_index=True)
    rows = rows.loc[rows["day"] <= rows["start_day"] + rows["admin_end_offset"] - 1]
    last_day = rows["start_day"] + rows["admin_end_offset"] - 1
    course_end = rows["day"] + fourth.anlotinib_days_per_cycle - 1
    rows = rows.assign(end_day=np.where(rows["drug"] == _ANLOTINIB,
                                        np.minimum(course_end, last_day), rows["day"]))
    rows = rows.sort_values(["patient_index", "day", "order"], kind="stable", ignore_index=True)
    rows["order"] = rows.groupby("patient_index").cumcount().to_numpy()
    return rows[list(administrations.columns) + ["end_day"]]


def center_d_tables(context: CenterContext, lines: pd.DataFrame,
                    administrations: pd.DataFrame, assessments: pd.DataFrame,
                    events: pd.DataFrame, seed: int, params: ModelParameters
                    ) -> dict[str, ExportTable]:
    """The OMOP tables of center_d (``administrations`` from
    :func:`expand_administrations`, all frames restricted to its patients)."""
    fourth = params.fourth_center
    rng = rng_for(seed, "omop_center", 1)
    patients = context.patients
    pidx = patients["patient_index"].to_numpy()
    n = len(pidx)
    person_id = pd.Series(context.rank.reindex(pidx).to_numpy() + 1, index=pidx)
    diagnosis = pd.Series(
        patients["first_line_start_day"].to_numpy()
        - rng.integers(fourth.diagnosis_before_first_line_days[0],
                       fourth.diagnosis_before_first_line_days[1] + 1, n), index=pidx)
    lines = lines.loc[lines["patient_index"].isin(pidx)]
    tables: dict[str, ExportTable] = {}

    birth = patients["birth_day"].to_numpy().astype("datetime64[D]")
    is_male = patients["is_male"].to_numpy()
    tables["person"] = _table(context, "person", pidx, np.zeros(n), {
        "person_id": integer_text(person_id[pidx]),
        "gender_concept_id": integer_text(np.where(is_male, GENDER_CONCEPTS["male"],
                                                   GENDER_CONCEPTS["female"])),
        "year_of_birth": integer_text(birth.astype("datetime64[Y]").astype(np.int64) + 1970),
        "month_of_birth": integer_text(birth.astype("datetime64[M]").astype(np.int64) % 12 + 1),
        "race_concept_id": _constant(n, 0),
        "ethnicity_concept_id": _constant(n, 0),
        "person_source_value": text(patients["patient_key"]),
        "gender_source_value": text(np.where(is_male, CENTER_D_SEX["male"],
                                             CENTER_D_SEX["female"])),
        "gender_source_concept_id": _constant(n, 0),
        "race_source_concept_id": _constant(n, 0),
        "ethnicity_source_concept_id": _constant(n, 0),
    })
    tables["observation_period"] = _table(context, "observation_period", pidx, np.zeros(n), {
        "observation_period_id": integer_text(person_id[pidx]),
        "person_id": integer_text(person_id[pidx]),
        "observation_period_start_date": date_text(diagnosis[pidx], "YYYY-MM-DD"),
        "observation_period_end_date": date_text(patients["vital_end_day"], "YYYY-MM-DD"),
        "period_type_concept_id": _constant(n, TYPE_EHR),
    })
    tables["drug_exposure"] = _drug_exposure(context, administrations, person_id)
    conditions, ae_condition_id = _conditions(context, lines, events, diagnosis, person_id, rng,
                                              params)
    tables["condition_occurrence"] = conditions
    tables["measurement"] = _measurements(context, lines, assessments, person_id, rng, params)
    tables["observation"] = _observations(context, events, ae_condition_id, diagnosis,
                                          person_id)
    tables["procedure_occurrence"] = _procedures(context, lines, person_id, params)
    dead = patients.loc[patients["is_dead"]]
    dead_idx = dead["patient_index"].to_numpy()
    tables["death"] = _table(context, "death", dead_idx, np.zeros(len(dead)), {
        "person_id": integer_text(person_id[dead_idx]),
        "death_date": date_text(dead["vital_end_day"], "YYYY-MM-DD"),
        "death_type_concept_id": _constant(len(dead), TYPE_EHR),
    })
    return tables


def _drug_exposure(context: CenterContext, administrations: pd.DataFrame,
                   person_id: pd.Series) -> ExportTable:
    admin = administrations.sort_values(["patient_index", "order"], kind="stable")
    admin = _in_file_order(context, admin)
    apidx = admin["patient_index"].to_numpy()
    drug = admin["drug"].to_numpy()
    route = _ROUTE[drug]
    oral = route == "PO"
    days = admin["end_day"].to_numpy() - admin["day"].to_numpy() + 1
    n = len(admin)
    return _table(context, "drug_exposure", apidx, admin["order"].to_numpy(), {
        "drug_exposure_id": integer_text(np.arange(1, n + 1)),
        "person_id": integer_text(person_id[apidx]),
        "drug_concept_id": lookup_text(drug, [str(d.rxnorm_concept_id) for d in DRUGS]),
        "drug_exposure_start_date": date_text(admin["day"], "YYYY-MM-DD"),
        "drug_exposure_end_date": date_text(admin["end_day"], "YYYY-MM-DD"),
        "drug_type_concept_id": integer_text(np.where(oral, TYPE_EHR_DISPENSING,
                                                      TYPE_EHR_ADMINISTRATION)),
        # injections: the amount of ingredient given (mg); capsules: how many
        "quantity": pa.array(np.where(oral, pd.Series(days).astype(str).to_numpy(),
                                      dose_text(admin["dose_mg"].to_numpy()).to_numpy(
                                          zero_copy_only=False)), type=pa.string()),
        "days_supply": integer_text(days, mask=~oral),
        "route_concept_id": lookup_text(drug, [str(ROUTE_CONCEPTS[d.route]) for d in DRUGS]),
        "drug_source_value": lookup_text(drug, [d.center_d for d in DRUGS]),
        "drug_source_concept_id": _constant(n, 0),
        "route_source_value": text(route),
        "dose_unit_source_value": text(np.where(oral, "capsule", "mg")),
    })


def _conditions(context: CenterContext, lines: pd.DataFrame, events: pd.DataFrame,
                diagnosis: pd.Series, person_id: pd.Series, rng: np.random.Generator,
                params: ModelParameters) -> tuple[ExportTable, pd.Series]:
    """Primary tumour, metastatic sites (dated when first seen) and adverse events."""
    fourth = params.fourth_center
    pidx = context.patients["patient_index"].to_numpy()
    primary = pd.DataFrame({"patient_index": pidx, "day": diagnosis[pidx].to_numpy(),
                            "kind": 0, "source": CENTER_D_PRIMARY_DIAGNOSIS, "event": -1})
    site_rows = []
    for site in SITE_NAMES:
        seen = lines.loc[lines[f"site_{site}"], ["patient_index", "line_number", "start_day"]]
        first = seen.sort_values(["patient_index", "line_number"]).drop_duplicates(
            "patient_index")
        site_rows.append(first.assign(source=CENTER_D_SITE_CODES[site]))
    sites = pd.concat(site_rows, ignore_index=True)
    before = rng.integers(fourth.site_before_line_start_days[0],
                          fourth.site_before_line_start_days[1] + 1, len(sites))
    sites = pd.DataFrame({
        "patient_index": sites["patient_index"].to_numpy(),
        "day": np.where(sites["line_number"] == 1,
                        diagnosis.reindex(sites["patient_index"]).to_numpy(),
                        sites["start_day"].to_numpy() - before),
        "kind": 1, "source": sites["source"].to_numpy(), "event": -1})
    ae = events.reset_index(drop=True)
    adverse = pd.DataFrame({
        "patient_index": ae["patient_index"].to_numpy(), "day": ae["day"].to_numpy(),
        "kind": 2, "source": [ADVERSE_EVENT_TERMS[t].ctcae_term for t in ae["term_index"]],
        "event": np.arange(len(ae))})
    rows = pd.concat([primary, sites, adverse], ignore_index=True)
    rows = _in_file_order(context, rows, ["day", "kind", "source"])
    n = len(rows)
    condition_id = np.arange(1, n + 1)
    is_ae = rows["event"].to_numpy() >= 0
    ae_condition_id = pd.Series(condition_id[is_ae], index=rows["event"].to_numpy()[is_ae])
    cpidx = rows["patient_index"].to_numpy()
    table = _table(context, "condition_occurrence", cpidx, rows["order"].to_numpy(), {
        "condition_occurrence_id": integer_text(condition_id),
        "person_id": integer_text(person_id[cpidx]),
        "condition_concept_id": _constant(n, 0),
        "condition_start_date": date_text(rows["day"], "YYYY-MM-DD"),
        "condition_type_concept_id": _constant(n, TYPE_EHR),
        "condition_source_value": text(rows["source"]),
        "condition_source_concept_id": _constant(n, 0),
    })
    return table, ae_condition_id.sort_index()


def _measurements(context: CenterContext, lines: pd.DataFrame, assessments: pd.DataFrame,
                  person_id: pd.Series, rng: np.random.Generator, params: ModelParameters
                  ) -> ExportTable:
    """ECOG before each line start and every RECIST 1.1 timepoint response."""
    low, high = params.fourth_center.ecog_before_line_start_days
    ecog = pd.DataFrame({
        "patient_index": lines["patient_index"].to_numpy(),
        "day": lines["start_day"].to_numpy() - rng.integers(low, high + 1, len(lines)),
        "kind": 0, "value": lines["ecog_ps"].astype(str).to_numpy()})
    recist = pd.DataFrame({
        "patient_index": assessments["patient_index"].to_numpy(),
        "day": assessments["day"].to_numpy(), "kind": 1,
        "value": assessments["response"].astype(str).to_numpy()})
    rows = _in_file_order(context, pd.concat([ecog, recist], ignore_index=True),
                          ["day", "kind"])
    is_ecog = rows["kind"].to_numpy() == 0
    n = len(rows)
    mpidx = rows["patient_index"].to_numpy()
    return _table(context, "measurement", mpidx, rows["order"].to_numpy(), {
        "measurement_id": integer_text(np.arange(1, n + 1)),
        "person_id": integer_text(person_id[mpidx]),
        "measurement_concept_id": integer_text(np.where(is_ecog, ECOG_SCORE_CONCEPT, 0)),
        "measurement_date": date_text(rows["day"], "YYYY-MM-DD"),
        "measurement_type_concept_id": _constant(n, TYPE_EHR),
        "value_as_number": text(rows["value"], mask=~is_ecog),
        # a categorical result without a mapped concept is 0; a number has none
        "value_as_concept_id": text(np.full(n, "0"), mask=is_ecog),
        "measurement_source_value": text(np.where(is_ecog, CENTER_D_CODES["ecog"],
                                                  CENTER_D_CODES["recist"])),
        "measurement_source_concept_id": _constant(n, 0),
        "value_source_value": text(rows["value"]),
    })


def _observations(context: CenterContext, events: pd.DataFrame, ae_condition_id: pd.Series,
                  diagnosis: pd.Series, person_id: pd.Series) -> ExportTable:
    """Smoking status at diagnosis, and the CTCAE grade of each adverse event."""
    patients = context.patients
    pidx = patients["patient_index"].to_numpy()
    status = np.where(~patients["is_ever_smoker"].to_numpy(), CENTER_D_SMOKING["never"],
                      np.where(patients["is_former_smoker"].to_numpy(),
                               CENTER_D_SMOKING["former"], CENTER_D_SMOKING["current"]))
    smoking = pd.DataFrame({"patient_index": pidx, "day": diagnosis[pidx].to_numpy(), "kind": 0,
                            "value": status, "grade": 0, "event": -1})
    ae = events.reset_index(drop=True)
    grades = pd.DataFrame({"patient_index": ae["patient_index"].to_numpy(),
                           "day": ae["day"].to_numpy(), "kind": 1, "value": "",
                           "grade": ae["grade"].to_numpy(), "event": np.arange(len(ae))})
    rows = _in_file_order(context, pd.concat([smoking, grades], ignore_index=True),
                          ["day", "kind", "event"])
    is_grade = rows["kind"].to_numpy() == 1
    n = len(rows)
    opidx = rows["patient_index"].to_numpy()
    linked = ae_condition_id.reindex(rows["event"].to_numpy()).fillna(0).to_numpy(np.int64)
    grade = rows["grade"].to_numpy()
    return _table(context, "observation", opidx, rows["order"].to_numpy(), {
        "observation_id": integer_text(np.arange(1, n + 1)),
        "person_id": integer_text(person_id[opidx]),
        "observation_concept_id": _constant(n, 0),
        "observation_date": date_text(rows["day"], "YYYY-MM-DD"),
        "observation_type_concept_id": _constant(n, TYPE_EHR),
        "value_as_number": integer_text(grade, mask=~is_grade),
        "value_as_string": text(rows["value"], mask=is_grade),
        "value_as_concept_id": text(np.full(n, "0"), mask=is_grade),
        "observation_source_value": text(np.where(is_grade, CENTER_D_CODES["ctcae_grade"],
                                                  CENTER_D_CODES["smoking"])),
        "observation_source_concept_id": _constant(n, 0),
        "value_source_value": text(np.where(is_grade, np.char.add("Grade ", grade.astype(str)),
                                            rows["value"].to_numpy().astype(str))),
        "observation_event_id": integer_text(linked, mask=~is_grade),
        "obs_event_field_concept_id": text(np.full(n, str(CONDITION_OCCURRENCE_ID_FIELD)),
                                           mask=~is_grade),
    })


def _procedures(context: CenterContext, lines: pd.DataFrame, person_id: pd.Series,
                params: ModelParameters) -> ExportTable:
    """Thoracic radiotherapy after the first-line induction, PCI two weeks
    later, both before first-line progression."""
    cycle = params.treatment.cycle_days
    first = lines.loc[lines["line_number"] == 1].set_index("patient_index")
    patients = context.patients
    frames = []
    for kind, (flag, code, delay) in enumerate((
            ("had_thoracic_radiotherapy", CENTER_D_CODES["thoracic_rt"], 0),
            ("had_prophylactic_cranial_irradiation", CENTER_D_CODES["pci"], 14))):
        given = patients.loc[patients[flag], "patient_index"].to_numpy()
        line = first.reindex(given)
        end = line["admin_end_offset"].to_numpy()
        cycles = np.minimum(line["chemo_cycles"].to_numpy(), -(-end // cycle))
        offset = np.minimum(cycle * cycles + delay, end - 1)
        frames.append(pd.DataFrame({"patient_index": given,
                                    "day": line["start_day"].to_numpy() + offset,
                                    "kind": kind, "source": code}))
    rows = _in_file_order(context, pd.concat(frames, ignore_index=True), ["day", "kind"])
    n = len(rows)
    ppidx = rows["patient_index"].to_numpy()
    return _table(context, "procedure_occurrence", ppidx, rows["order"].to_numpy(), {
        "procedure_occurrence_id": integer_text(np.arange(1, n + 1)),
        "person_id": integer_text(person_id[ppidx]),
        "procedure_concept_id": _constant(n, 0),
        "procedure_date": date_text(rows["day"], "YYYY-MM-DD"),
        "procedure_type_concept_id": _constant(n, TYPE_EHR),
        "procedure_source_value": text(rows["source"]),
        "procedure_source_concept_id": _constant(n, 0),
    })


def _in_file_order(context: CenterContext, rows: pd.DataFrame,
                   within: list[str] | None = None) -> pd.DataFrame:
    """Rows by patient key, then ``within``; ``order`` numbers them per patient."""
    rank = context.rank.reindex(rows["patient_index"].to_numpy()).to_numpy()
    rows = rows.assign(_rank=rank)
    if within is not None:
        rows = rows.sort_values(["_rank", *within], kind="stable", ignore_index=True)
        rows["order"] = rows.groupby("_rank").cumcount().to_numpy()
    else:
        rows = rows.sort_values(["_rank", "order"], kind="stable", ignore_index=True)
    return rows.drop(columns="_rank")


def _constant(n: int, value: int) -> pa.Array:
    return text(np.full(n, str(value)))


def _table(context: CenterContext, name: str, patient_index: np.ndarray, order: np.ndarray,
           values: dict[str, pa.Array]) -> ExportTable:
    """An ExportTable with every OMOP column; columns not given are empty."""
    n = len(patient_index)
    columns = {column: values.get(column, pa.nulls(n, pa.string()))
               for column in OMOP_COLUMNS[name]}
    return export_table(context, name, pa.table(columns), np.asarray(patient_index),
                   np.asarray(order))

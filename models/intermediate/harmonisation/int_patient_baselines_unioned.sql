{#- One row per patient: baseline attributes and vital status. Line-level
    centers record them per line, so the second-line record is the baseline
    (attributes at the index date); administration-level centers record
    them once per patient. -#}
with

line_records as (
    select * from {{ ref('int_line_records_classified') }}
    where quarantine_reason is null and line_number = 2
),

patient_records as (
    select * from ({{ union_center_models('patients') }}) as center_patients
    where quarantine_reason is null
),

from_line_records as (
    select
        patient_id,
        person_link_id,
        center_id,
        birth_year,
        sex,
        ecog_ps,
        is_ever_smoker,
        has_liver_metastases,
        has_brain_metastases,
        has_bone_metastases,
        metastatic_site_count,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        death_date,
        last_contact_date
    from line_records
),

from_patient_records as (
    select
        patient_id,
        person_link_id,
        center_id,
        birth_year,
        sex,
        ecog_ps,
        is_ever_smoker,
        has_liver_metastases,
        has_brain_metastases,
        has_bone_metastases,
        metastatic_site_count,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        death_date,
        last_contact_date
    from patient_records
),

unioned as (
    select * from from_line_records
    union all
    select * from from_patient_records
)

select * from unioned

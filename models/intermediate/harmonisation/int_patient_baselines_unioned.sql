{#- One row per patient: baseline attributes and vital status. Line-level
    centers record them per line, so the second-line record is the baseline
    (attributes at the index date); center B records them once per patient. -#}
with

line_records as (
    select * from {{ ref('int_line_records_classified') }}
    where quarantine_reason is null and line_number = 2
),

center_b_patients as (
    select * from {{ ref('stg_center_b__patients') }}
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
    from center_b_patients
),

unioned as (
    select * from from_line_records
    union all
    select * from from_patient_records
)

select * from unioned

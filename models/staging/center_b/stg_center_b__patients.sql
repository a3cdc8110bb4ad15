{#- Center B: one row per patient, baseline attributes at diagnosis and vital
    status. Karnofsky is mapped to ECOG through a terminology seed. Direct
    identifiers stop here. -#}
with

source as (
    select * from {{ source('center_b', 'patients') }}
),

sex_codes as (
    select * from {{ ref('terminology__sex_codes') }}
),

yes_no_codes as (
    select * from {{ ref('terminology__yes_no_codes') }}
),

karnofsky_to_ecog as (
    select * from {{ ref('terminology__karnofsky_to_ecog') }}
),

parsed as (
    select
        ---------- provenance
        source.source_file_name,
        cast(source.source_row_number as {{ dbt.type_int() }}) as source_row_number,
        ---------- keys
        nullif(trim(source.patient_key), '') as center_patient_key,
        ---------- raw text kept for the quality ladder below
        source.dob as dob_text,
        source.death_date as death_date_text,
        source.last_followup as last_followup_text,
        source.kps as kps_text,
        source.other_met_sites as other_met_sites_text,
        nullif(upper(replace(replace(trim(source.national_id), ' ', ''), '-', '')), '')
            as national_id_normalised,
        ---------- recoded attributes
        sex_codes.sex,
        karnofsky_to_ecog.ecog_ps,
        smoker.is_yes as is_ever_smoker,
        liver.is_yes as has_liver_metastases,
        brain.is_yes as has_brain_metastases,
        bone.is_yes as has_bone_metastases,
        {{ safe_cast_whole_number('source.other_met_sites') }} as other_metastatic_site_count,
        thoracic_rt.is_yes as had_thoracic_radiotherapy,
        pci.is_yes as had_prophylactic_cranial_irradiation,
        ---------- dates
        cast(extract(year from {{ parse_date('source.dob', 'DD/MM/YYYY') }}) as {{ dbt.type_int() }}) as birth_year,
        {{ parse_date('source.death_date', 'DD/MM/YYYY') }} as death_date,
        {{ parse_date('source.last_followup', 'DD/MM/YYYY') }} as last_contact_date,
        ---------- duplicates: one row per patient, so the patient key is the row id
        {{ duplicate_row_columns('source.patient_key', [
            'source.patient_key', 'source.name', 'source.national_id', 'source.dob',
            'source.gender', 'source.kps', 'source.smoker', 'source.liver_met', 'source.brain_met',
            'source.bone_met', 'source.other_met_sites', 'source.thoracic_radiotherapy',
            'source.pci', 'source.death_date', 'source.last_followup']) }}
    from source
    left join sex_codes
        on lower(trim(source.gender)) = lower(sex_codes.source_term)
    {#- kps compared as a number: '70.4' matches no score instead of rounding to 70 -#}
    left join karnofsky_to_ecog
        on {{ dbt.safe_cast('source.kps', type_double()) }} = karnofsky_to_ecog.karnofsky_score
    left join yes_no_codes as smoker
        on lower(trim(source.smoker)) = lower(smoker.source_term)
    left join yes_no_codes as liver
        on lower(trim(source.liver_met)) = lower(liver.source_term)
    left join yes_no_codes as brain
        on lower(trim(source.brain_met)) = lower(brain.source_term)
    left join yes_no_codes as bone
        on lower(trim(source.bone_met)) = lower(bone.source_term)
    left join yes_no_codes as thoracic_rt
        on lower(trim(source.thoracic_radiotherapy)) = lower(thoracic_rt.source_term)
    left join yes_no_codes as pci
        on lower(trim(source.pci)) = lower(pci.source_term)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'patient_key', "parsed.center_patient_key is null"),
            ('missing_required_value', 'last_followup', "nullif(trim(parsed.last_followup_text), '') is null"),
            ('unparseable_date', 'dob', "parsed.birth_year is null and nullif(trim(parsed.dob_text), '') is not null"),
            ('unparseable_date', 'death_date', "parsed.death_date is null and nullif(trim(parsed.death_date_text), '') is not null"),
            ('unparseable_date', 'last_followup', "parsed.last_contact_date is null"),
            ('date_after_build_date', 'dob', "parsed.birth_year > extract(year from " ~ build_date() ~ ")"),
            ('date_after_build_date', 'death_date', "parsed.death_date > " ~ build_date()),
            ('date_after_build_date', 'last_followup', "parsed.last_contact_date > " ~ build_date()),
            ('unknown_code', 'gender', "parsed.sex is null"),
            ('unknown_code', 'kps', "nullif(trim(parsed.kps_text), '') is not null and parsed.ecog_ps is null"),
            ('unknown_code', 'smoker', "parsed.is_ever_smoker is null"),
            ('unknown_code', 'liver_met', "parsed.has_liver_metastases is null"),
            ('unknown_code', 'brain_met', "parsed.has_brain_metastases is null"),
            ('unknown_code', 'bone_met', "parsed.has_bone_metastases is null"),
            ('unknown_code', 'thoracic_radiotherapy', "parsed.had_thoracic_radiotherapy is null"),
            ('unknown_code', 'pci', "parsed.had_prophylactic_cranial_irradiation is null"),
            ('unknown_code', 'other_met_sites', "parsed.other_metastatic_site_count is null or parsed.other_metastatic_site_count not between 0 and 10"),
            ('date_order_violation', 'death_date', "extract(year from parsed.death_date) < parsed.birth_year"),
            ('conflicting_row_id', 'patient_key', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'patient_key', "parsed.copy_number > 1"),
        ]) }}
    from parsed
),

final as (
    select
        ---------- keys
        {{ pseudonymise('center_b', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_b', 'center_patient_key') }} as folded_patient_id,
        {{ person_link_columns('national_id_normalised', 'prc_resident_id', 'national_id') }},
        ---------- provenance
        'center_b' as center_id,
        'patients' as source_table,
        source_file_name,
        source_row_number,
        ---------- patient attributes
        birth_year,
        sex,
        ecog_ps,
        is_ever_smoker,
        has_liver_metastases,
        has_brain_metastases,
        has_bone_metastases,
        (case when has_liver_metastases then 1 else 0 end)
        + (case when has_brain_metastases then 1 else 0 end)
        + (case when has_bone_metastases then 1 else 0 end)
        + other_metastatic_site_count as metastatic_site_count,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        ---------- dates
        death_date,
        last_contact_date,
        ---------- data quality
        quarantine_reason,
        failing_column
    from checked
)

select * from final

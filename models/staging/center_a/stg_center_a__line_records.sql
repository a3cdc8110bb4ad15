{#- Center A: one row per treatment line. Direct identifiers (name, national
    ID, birth date) stop here: only a keyed pseudonym and the birth year leave. -#}
with

source as (
    select * from {{ source('center_a', 'treatment_lines') }}
),

sex_codes as (
    select * from {{ ref('terminology__sex_codes') }}
),

yes_no_codes as (
    select * from {{ ref('terminology__yes_no_codes') }}
),

responses as (
    select * from {{ ref('terminology__recist_responses') }}
),

parsed as (
    select
        ---------- provenance
        source.source_file_name,
        cast(source.source_row_number as {{ dbt.type_int() }}) as source_row_number,
        ---------- keys
        nullif(trim(source.mrn), '') as center_patient_key,
        ---------- raw text kept for the quality ladder below
        source.birth_date as birth_date_text,
        source.line_start_date as line_start_date_text,
        source.progression_date as progression_date_text,
        source.death_date as death_date_text,
        source.last_contact_date as last_contact_date_text,
        source.sex as sex_text,
        source.ecog as ecog_text,
        source.line_no as line_number_text,
        source.best_response as best_response_text,
        source.smoking_history as smoking_history_text,
        source.thoracic_rt as thoracic_rt_text,
        source.pci as pci_text,
        nullif(upper(replace(replace(trim(source.id_card_no), ' ', ''), '-', '')), '')
            as national_id_normalised,
        ---------- recoded attributes
        sex_codes.sex,
        smoking.is_yes as is_ever_smoker,
        thoracic_rt.is_yes as had_thoracic_radiotherapy,
        pci.is_yes as had_prophylactic_cranial_irradiation,
        {{ safe_cast_whole_number('source.ecog') }} as ecog_ps,
        {{ safe_cast_whole_number('source.line_no') }} as line_number,
        responses.response_code as best_response,
        lower(trim(source.regimen)) as regimen_text,
        lower(trim(source.metastatic_sites)) as metastatic_sites_text,
        ---------- dates
        cast(extract(year from {{ parse_date('source.birth_date', 'YYYY-MM-DD') }}) as {{ dbt.type_int() }}) as birth_year,
        {{ parse_date('source.line_start_date', 'YYYY-MM-DD') }} as line_start_date,
        {{ parse_date('source.progression_date', 'YYYY-MM-DD') }} as progression_date,
        {{ parse_date('source.death_date', 'YYYY-MM-DD') }} as death_date,
        {{ parse_date('source.last_contact_date', 'YYYY-MM-DD') }} as last_contact_date,
        ---------- duplicates: every column but the export's row id
        {{ duplicate_row_columns('source.record_no', [
            'source.mrn', 'source.patient_name', 'source.id_card_no', 'source.birth_date',
            'source.sex', 'source.ecog', 'source.smoking_history', 'source.metastatic_sites',
            'source.thoracic_rt', 'source.pci', 'source.line_no', 'source.regimen',
            'source.line_start_date', 'source.progression_date', 'source.best_response',
            'source.death_date', 'source.last_contact_date']) }}
    from source
    left join sex_codes
        on lower(trim(source.sex)) = lower(sex_codes.source_term)
    left join yes_no_codes as smoking
        on lower(trim(source.smoking_history)) = lower(smoking.source_term)
    left join yes_no_codes as thoracic_rt
        on lower(trim(source.thoracic_rt)) = lower(thoracic_rt.source_term)
    left join yes_no_codes as pci
        on lower(trim(source.pci)) = lower(pci.source_term)
    left join responses
        on lower(trim(source.best_response)) = lower(responses.source_term)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'mrn', "parsed.center_patient_key is null"),
            ('missing_required_value', 'line_start_date', "nullif(trim(parsed.line_start_date_text), '') is null"),
            ('missing_required_value', 'line_no', "nullif(trim(parsed.line_number_text), '') is null"),
            ('unparseable_date', 'line_start_date', "parsed.line_start_date is null"),
            ('unparseable_date', 'birth_date', "parsed.birth_year is null and nullif(trim(parsed.birth_date_text), '') is not null"),
            ('unparseable_date', 'progression_date', "parsed.progression_date is null and nullif(trim(parsed.progression_date_text), '') is not null"),
            ('unparseable_date', 'death_date', "parsed.death_date is null and nullif(trim(parsed.death_date_text), '') is not null"),
            ('unparseable_date', 'last_contact_date', "parsed.last_contact_date is null and nullif(trim(parsed.last_contact_date_text), '') is not null"),
            ('date_after_build_date', 'birth_date', "parsed.birth_year > extract(year from " ~ build_date() ~ ")"),
            ('date_after_build_date', 'line_start_date', "parsed.line_start_date > " ~ build_date()),
            ('date_after_build_date', 'progression_date', "parsed.progression_date > " ~ build_date()),
            ('date_after_build_date', 'death_date', "parsed.death_date > " ~ build_date()),
            ('date_after_build_date', 'last_contact_date', "parsed.last_contact_date > " ~ build_date()),
            ('unknown_code', 'line_no', "parsed.line_number is null or parsed.line_number < 1"),
            ('unknown_code', 'sex', "parsed.sex is null"),
            ('unknown_code', 'ecog', "nullif(trim(parsed.ecog_text), '') is not null and (parsed.ecog_ps is null or parsed.ecog_ps not between 0 and 4)"),
            ('unknown_code', 'best_response', "parsed.best_response is null and nullif(trim(parsed.best_response_text), '') is not null"),
            ('unknown_code', 'smoking_history', "parsed.is_ever_smoker is null and nullif(trim(parsed.smoking_history_text), '') is not null"),
            ('unknown_code', 'thoracic_rt', "parsed.had_thoracic_radiotherapy is null and nullif(trim(parsed.thoracic_rt_text), '') is not null"),
            ('unknown_code', 'pci', "parsed.had_prophylactic_cranial_irradiation is null and nullif(trim(parsed.pci_text), '') is not null"),
            ('date_order_violation', 'progression_date', "parsed.progression_date < parsed.line_start_date"),
            ('date_order_violation', 'death_date', "parsed.death_date < parsed.line_start_date"),
            ('date_order_violation', 'last_contact_date', "parsed.last_contact_date < parsed.line_start_date"),
            ('conflicting_row_id', 'record_no', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'record_no', "parsed.copy_number > 1"),
        ]) }}
    from parsed
),

final as (
    select
        ---------- keys
        {{ pseudonymise('center_a', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_a', 'center_patient_key') }} as folded_patient_id,
        {{ person_link_columns('national_id_normalised', 'prc_resident_id', 'id_card_no') }},
        ---------- provenance
        'center_a' as center_id,
        'treatment_lines' as source_table,
        source_file_name,
        source_row_number,
        ---------- patient attributes
        birth_year,
        sex,
        is_ever_smoker,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        ---------- line attributes
        line_number,
        ecog_ps,
        {#- lists are normalised to '|'-separated lower-case tokens -#}
        replace(regimen_text, ' + ', '|') as regimen_drug_list,
        replace(metastatic_sites_text, ';', '|') as metastatic_site_list,
        best_response,
        ---------- dates
        line_start_date,
        progression_date,
        cast(null as date) as last_progression_free_date,
        death_date,
        last_contact_date,
        ---------- data quality
        quarantine_reason,
        failing_column,
        ---------- raw column names of the lists, for quarantine messages
        'regimen' as regimen_source_column,
        'metastatic_sites' as metastatic_sites_source_column
    from checked
)

select * from final

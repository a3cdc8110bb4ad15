{#- Center B: one row per adverse event, dated but not tied to a line; the
    line is assigned downstream from the derived line dates. -#}
with

source as (
    select * from {{ source('center_b', 'adverse_events') }}
),

ae_terms as (
    select * from {{ ref('terminology__adverse_event_terms') }}
),

grades as (
    select * from {{ ref('terminology__ctcae_grades') }}
),

parsed as (
    select
        source.source_file_name,
        cast(source.source_row_number as {{ dbt.type_int() }}) as source_row_number,
        nullif(trim(source.patient_key), '') as center_patient_key,
        source.ae_date as ae_date_text,
        ae_terms.ae_term,
        grades.ctcae_grade,
        {{ parse_date('source.ae_date', 'DD/MM/YYYY') }} as ae_onset_date,
        {{ duplicate_row_columns('source.ae_id', [
            'source.patient_key', 'source.ae_date', 'source.ae_description', 'source.grade']) }}
    from source
    left join ae_terms
        on lower(trim(source.ae_description)) = lower(ae_terms.source_term)
    left join grades
        on lower(trim(source.grade)) = lower(grades.source_term)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'patient_key', "parsed.center_patient_key is null"),
            ('missing_required_value', 'ae_date', "nullif(trim(parsed.ae_date_text), '') is null"),
            ('unparseable_date', 'ae_date', "parsed.ae_onset_date is null"),
            ('date_after_build_date', 'ae_date', "parsed.ae_onset_date > " ~ build_date()),
            ('unknown_code', 'ae_description', "parsed.ae_term is null"),
            ('unknown_code', 'grade', "parsed.ctcae_grade is null"),
            ('conflicting_row_id', 'ae_id', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'ae_id', "parsed.copy_number > 1"),
        ]) }}
    from parsed
),

final as (
    select
        {{ pseudonymise('center_b', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_b', 'center_patient_key') }} as folded_patient_id,
        'center_b' as center_id,
        'adverse_events' as source_table,
        source_file_name,
        source_row_number,
        cast(null as {{ dbt.type_int() }}) as line_number,
        ae_term,
        ctcae_grade,
        ae_onset_date,
        quarantine_reason,
        failing_column,
        'patient_key' as patient_key_source_column
    from checked
)

select * from final

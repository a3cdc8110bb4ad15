{#- Center A: one row per adverse event on a line, English CTCAE terms. -#}
with

source as (
    select * from {{ source('center_a', 'adverse_events') }}
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
        nullif(trim(source.mrn), '') as center_patient_key,
        source.onset_date as onset_date_text,
        source.ae_term as ae_term_text,
        source.ctcae_grade as grade_text,
        ae_terms.ae_term,
        grades.ctcae_grade,
        {{ safe_cast_whole_number('source.line_no') }} as line_number,
        {{ parse_date('source.onset_date', 'YYYY-MM-DD') }} as ae_onset_date,
        {{ duplicate_row_columns('source.record_no', [
            'source.mrn', 'source.line_no', 'source.ae_term', 'source.ctcae_grade',
            'source.onset_date']) }}
    from source
    left join ae_terms
        on lower(trim(source.ae_term)) = lower(ae_terms.source_term)
    left join grades
        on lower(trim(source.ctcae_grade)) = lower(grades.source_term)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'mrn', "parsed.center_patient_key is null"),
            ('unknown_code', 'line_no', "parsed.line_number is null or parsed.line_number < 1"),
            ('unknown_code', 'ae_term', "parsed.ae_term is null"),
            ('unknown_code', 'ctcae_grade', "parsed.ctcae_grade is null"),
            ('unparseable_date', 'onset_date', "parsed.ae_onset_date is null and nullif(trim(parsed.onset_date_text), '') is not null"),
            ('date_after_build_date', 'onset_date', "parsed.ae_onset_date > " ~ build_date()),
            ('conflicting_row_id', 'record_no', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'record_no', "parsed.copy_number > 1"),
        ]) }}
    from parsed
),

final as (
    select
        {{ pseudonymise('center_a', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_a', 'center_patient_key') }} as folded_patient_id,
        'center_a' as center_id,
        'adverse_events' as source_table,
        source_file_name,
        source_row_number,
        line_number,
        ae_term,
        ctcae_grade,
        ae_onset_date,
        quarantine_reason,
        failing_column,
        'mrn' as patient_key_source_column
    from checked
)

select * from final

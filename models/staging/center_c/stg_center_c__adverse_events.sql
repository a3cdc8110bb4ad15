{#- Center C: one row per adverse event on a line, Chinese terms and roman
    grades. -#}
with

source as (
    select * from {{ source('center_c', 'adverse_events') }}
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
        nullif(trim(source.case_no), '') as center_patient_key,
        ae_terms.ae_term,
        grades.ctcae_grade,
        {{ safe_cast_whole_number("replace(upper(trim(source.line_number)), 'L', '')") }} as line_number,
        {{ duplicate_row_columns('source.ae_no', [
            'source.case_no', 'source.line_number', 'source.ae_name', 'source.grade']) }}
    from source
    left join ae_terms
        on trim(source.ae_name) = ae_terms.source_term
    left join grades
        on lower(trim(source.grade)) = lower(grades.source_term)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'case_no', "parsed.center_patient_key is null"),
            ('unknown_code', 'line_number', "parsed.line_number is null or parsed.line_number < 1"),
            ('unknown_code', 'ae_name', "parsed.ae_term is null"),
            ('unknown_code', 'grade', "parsed.ctcae_grade is null"),
            ('conflicting_row_id', 'ae_no', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'ae_no', "parsed.copy_number > 1"),
        ]) }}
    from parsed
),

final as (
    select
        {{ pseudonymise('center_c', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_c', 'center_patient_key') }} as folded_patient_id,
        'center_c' as center_id,
        'adverse_events' as source_table,
        source_file_name,
        source_row_number,
        line_number,
        ae_term,
        ctcae_grade,
        cast(null as date) as ae_onset_date,
        quarantine_reason,
        failing_column,
        'case_no' as patient_key_source_column
    from checked
)

select * from final

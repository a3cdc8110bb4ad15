{#- Center B: one row per tumour assessment, response words recoded to
    RECIST 1.1 codes. -#}
with

source as (
    select * from {{ source('center_b', 'assessments') }}
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
        nullif(trim(source.patient_key), '') as center_patient_key,
        ---------- raw text kept for the quality ladder below
        source.assessment_date as assessment_date_text,
        source.response as response_text,
        ---------- recoded attributes
        responses.response_code,
        ---------- dates
        {{ parse_date('source.assessment_date', 'DD/MM/YYYY') }} as assessment_date,
        {{ duplicate_row_columns('source.assessment_id', [
            'source.patient_key', 'source.assessment_date', 'source.response']) }}
    from source
    left join responses
        on lower(trim(source.response)) = lower(responses.source_term)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'patient_key', "parsed.center_patient_key is null"),
            ('missing_required_value', 'assessment_date', "nullif(trim(parsed.assessment_date_text), '') is null"),
            ('unparseable_date', 'assessment_date', "parsed.assessment_date is null"),
            ('date_after_build_date', 'assessment_date', "parsed.assessment_date > " ~ build_date()),
            ('unknown_code', 'response', "parsed.response_code is null"),
            ('conflicting_row_id', 'assessment_id', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'assessment_id', "parsed.copy_number > 1"),
        ]) }}
    from parsed
),

final as (
    select
        ---------- keys
        {{ pseudonymise('center_b', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_b', 'center_patient_key') }} as folded_patient_id,
        ---------- provenance
        'center_b' as center_id,
        'assessments' as source_table,
        source_file_name,
        source_row_number,
        ---------- assessment
        response_code,
        assessment_date,
        ---------- data quality
        quarantine_reason,
        failing_column,
        'patient_key' as patient_key_source_column
    from checked
)

select * from final

{#- Center B: one row per drug given on a day; brand names are recoded to
    generic names and classes through the drug terminology seed. -#}
with

source as (
    select * from {{ source('center_b', 'drug_administrations') }}
),

drug_names as (
    select * from {{ ref('terminology__drug_names') }}
),

parsed as (
    select
        ---------- provenance
        source.source_file_name,
        cast(source.source_row_number as {{ dbt.type_int() }}) as source_row_number,
        ---------- keys
        nullif(trim(source.patient_key), '') as center_patient_key,
        ---------- raw text kept for the quality ladder below
        source.admin_date as administration_date_text,
        source.drug_name as drug_name_text,
        ---------- recoded attributes
        drug_names.generic_name as drug_generic_name,
        drug_names.drug_class,
        drug_names.is_ici,
        ---------- dates
        {{ parse_date('source.admin_date', 'DD/MM/YYYY') }} as administration_date,
        {{ duplicate_row_columns('source.admin_id', [
            'source.patient_key', 'source.admin_date', 'source.drug_name', 'source.dose_mg']) }}
    from source
    left join drug_names
        on lower(trim(source.drug_name)) = lower(drug_names.source_name)
),

checked as (
    select
        parsed.*,
        {{ first_quality_failure([
            ('missing_required_value', 'patient_key', "parsed.center_patient_key is null"),
            ('missing_required_value', 'admin_date', "nullif(trim(parsed.administration_date_text), '') is null"),
            ('missing_required_value', 'drug_name', "nullif(trim(parsed.drug_name_text), '') is null"),
            ('unparseable_date', 'admin_date', "parsed.administration_date is null"),
            ('date_after_build_date', 'admin_date', "parsed.administration_date > " ~ build_date()),
            ('unknown_drug', 'drug_name', "parsed.drug_generic_name is null"),
            ('conflicting_row_id', 'admin_id', "parsed.has_conflicting_row_id"),
            ('duplicate_row', 'admin_id', "parsed.copy_number > 1"),
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
        'drug_administrations' as source_table,
        source_file_name,
        source_row_number,
        ---------- drug
        drug_generic_name,
        drug_class,
        is_ici,
        ---------- dates
        administration_date,
        ---------- data quality
        quarantine_reason,
        failing_column,
        'patient_key' as patient_key_source_column
    from checked
)

select * from final

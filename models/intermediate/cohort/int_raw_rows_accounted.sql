{#- Every raw row of every export, exactly once, with what became of it:
    quarantined (invalid, with the failing column), excluded (valid but not
    used by the study, with the reason) or published. An administration,
    assessment or adverse event whose patient key has no patient record is
    quarantined here (no_patient_record): only here are all exports of a
    center seen together. The national-ID status of rows that carry one is
    kept for the delivery checks. -#}
with

line_records as (
    select * from {{ ref('int_line_records_classified') }}
),

adverse_events as (
    select * from {{ ref('int_adverse_events_lined') }}
),

patients as (
    {#- the study whose eligibility decides a patient's row outcome and the
        delivery measures (var accounting_study_id) -#}
    select * from {{ ref('int_study_patients_indexed') }}
    where study_id = '{{ var("accounting_study_id") }}'
),

patient_keys as (
    select * from {{ ref('int_patient_keys_checked') }}
),

drug_administrations as (
    {{ union_center_models('drug_administrations') }}
),

assessments as (
    {{ union_center_models('assessments') }}
),

patient_records as (
    {{ union_center_models('patients') }}
),

rows_with_row_rules as (
    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        cast(null as {{ dbt.type_string() }}) as patient_key_source_column,
        national_id_status,
        national_id_source_column,
        case when line_number > 2 then 'later_line_not_analysed' end as row_exclusion_reason
    from line_records

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        patient_key_source_column,
        cast(null as {{ dbt.type_string() }}) as national_id_status,
        cast(null as {{ dbt.type_string() }}) as national_id_source_column,
        case
            when line_number is null or line_number != 2 then 'adverse_event_not_on_second_line'
        end as row_exclusion_reason
    from adverse_events

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        patient_key_source_column,
        cast(null as {{ dbt.type_string() }}) as national_id_status,
        cast(null as {{ dbt.type_string() }}) as national_id_source_column,
        case when drug_class = 'supportive' then 'supportive_medication' end
            as row_exclusion_reason
    from drug_administrations

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        patient_key_source_column,
        cast(null as {{ dbt.type_string() }}) as national_id_status,
        cast(null as {{ dbt.type_string() }}) as national_id_source_column,
        cast(null as {{ dbt.type_string() }}) as row_exclusion_reason
    from assessments

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        cast(null as {{ dbt.type_string() }}) as patient_key_source_column,
        national_id_status,
        national_id_source_column,
        cast(null as {{ dbt.type_string() }}) as row_exclusion_reason
    from patient_records
    {#- raw rows that no row of the kinds above stands for (an omop_cdm
        center's ECOG, sites, grades, death ...): they follow their patient -#}
    {%- for relation in center_refs('attribute_rows') %}

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        patient_key_source_column,
        cast(null as {{ dbt.type_string() }}) as national_id_status,
        cast(null as {{ dbt.type_string() }}) as national_id_source_column,
        row_exclusion_reason
    from {{ relation }}
    {%- endfor %}
),

patient_outcomes as (
    {#- what a raw row's patient decides, one row per patient id, so each
        raw row is joined once -#}
    select
        coalesce(patient_keys.patient_id, patients.patient_id) as patient_id,
        coalesce(patient_keys.has_patient_record, false) as has_patient_record,
        patients.patient_id is not null as is_study_patient,
        patients.exclusion_reason
    from patient_keys
    full outer join patients
        on patient_keys.patient_id = patients.patient_id
),

rows_with_key_rule as (
    select
        rows_with_row_rules.center_id,
        rows_with_row_rules.source_table,
        rows_with_row_rules.source_file_name,
        rows_with_row_rules.source_row_number,
        case
            when rows_with_row_rules.quarantine_reason is not null
                then rows_with_row_rules.quarantine_reason
            when
                rows_with_row_rules.patient_key_source_column is not null
                and not coalesce(patient_outcomes.has_patient_record, false)
                then 'no_patient_record'
        end as quarantine_reason,
        case
            when rows_with_row_rules.quarantine_reason is not null
                then rows_with_row_rules.failing_column
            when
                rows_with_row_rules.patient_key_source_column is not null
                and not coalesce(patient_outcomes.has_patient_record, false)
                then rows_with_row_rules.patient_key_source_column
        end as failing_column,
        coalesce(patient_outcomes.is_study_patient, false) as is_study_patient,
        patient_outcomes.exclusion_reason as patient_exclusion_reason,
        rows_with_row_rules.row_exclusion_reason,
        rows_with_row_rules.national_id_status,
        rows_with_row_rules.national_id_source_column
    from rows_with_row_rules
    left join patient_outcomes
        on rows_with_row_rules.patient_id = patient_outcomes.patient_id
),

final as (
    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        failing_column,
        case
            when quarantine_reason is not null then 'quarantined'
            when
                not is_study_patient
                or patient_exclusion_reason is not null
                or row_exclusion_reason is not null then 'excluded'
            else 'published'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when not is_study_patient then 'unknown_patient'
            when patient_exclusion_reason is not null then patient_exclusion_reason
            when row_exclusion_reason is not null then row_exclusion_reason
            else 'published'
        end as reason,
        national_id_status,
        national_id_source_column
    from rows_with_key_rule
)

select * from final

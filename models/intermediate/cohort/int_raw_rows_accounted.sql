{#- Every raw row of every export, exactly once, with what became of it:
    quarantined (invalid, with the failing column), excluded (valid but not
    used by the study, with the reason) or published. -#}
with

line_records as (
    select * from {{ ref('int_line_records_classified') }}
),

adverse_events as (
    select * from {{ ref('int_adverse_events_lined') }}
),

patients as (
    select * from {{ ref('int_patients_indexed_to_second_line') }}
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
        case when drug_class = 'supportive' then 'supportive_medication' end
            as row_exclusion_reason
    from {{ ref('stg_center_b__drug_administrations') }}

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        cast(null as {{ dbt.type_string() }}) as row_exclusion_reason
    from {{ ref('stg_center_b__assessments') }}

    union all

    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        patient_id,
        quarantine_reason,
        failing_column,
        cast(null as {{ dbt.type_string() }}) as row_exclusion_reason
    from {{ ref('stg_center_b__patients') }}
),

final as (
    select
        rows_with_row_rules.center_id,
        rows_with_row_rules.source_table,
        rows_with_row_rules.source_file_name,
        rows_with_row_rules.source_row_number,
        rows_with_row_rules.failing_column,
        case
            when rows_with_row_rules.quarantine_reason is not null then 'quarantined'
            when
                patients.patient_id is null
                or patients.exclusion_reason is not null
                or rows_with_row_rules.row_exclusion_reason is not null then 'excluded'
            else 'published'
        end as row_status,
        case
            when rows_with_row_rules.quarantine_reason is not null
                then rows_with_row_rules.quarantine_reason
            when patients.patient_id is null then 'unknown_patient'
            when patients.exclusion_reason is not null then patients.exclusion_reason
            when rows_with_row_rules.row_exclusion_reason is not null
                then rows_with_row_rules.row_exclusion_reason
            else 'published'
        end as reason
    from rows_with_row_rules
    left join patients
        on rows_with_row_rules.patient_id = patients.patient_id
)

select * from final

{#- PFS and OS from the second-line start for every eligible patient of
    every study, at the study's data cut-off (its spec).
    PFS event: progression or death, whichever is first. OS event: death.
    An event after the data cut-off is not an event: the patient is censored
    at the cut-off. Without an event, PFS is censored at the last known
    progression-free date (center export) or else the last contact, and OS
    at the last contact; neither later than the cut-off.
    Months are days / 30.4375. -#}
with

indexed as (
    select * from {{ ref('int_study_patients_indexed') }}
    where exclusion_reason is null
),

dated as (
    select
        study_id,
        patient_id,
        second_line_start_date,
        case study_id
            {%- for spec in study_specs() %}
                when '{{ spec["study_id"] }}'
                    then cast('{{ spec["eligibility"]["data_cutoff_date"] }}' as date)
            {%- endfor %}
        end as data_cutoff_date,
        case
            when second_line_progression_date is null then death_date
            when death_date is null then second_line_progression_date
            when death_date < second_line_progression_date then death_date
            else second_line_progression_date
        end as pfs_event_date,
        death_date,
        coalesce(second_line_last_progression_free_date, last_contact_date)
            as last_progression_free_date,
        last_contact_date
    from indexed
),

ends as (
    select
        study_id,
        patient_id,
        second_line_start_date,
        pfs_event_date is not null and pfs_event_date <= data_cutoff_date as is_pfs_event,
        death_date is not null and death_date <= data_cutoff_date as is_os_event,
        {#- an event after the cut-off means event-free at the cut-off, even
            when the last contact before it was earlier -#}

        case
            when pfs_event_date <= data_cutoff_date then pfs_event_date
            when pfs_event_date > data_cutoff_date then data_cutoff_date
            when last_progression_free_date is null or last_progression_free_date > data_cutoff_date
                then data_cutoff_date
            else last_progression_free_date
        end as pfs_end_date,
        case
            when death_date <= data_cutoff_date then death_date
            when death_date > data_cutoff_date then data_cutoff_date
            when last_contact_date is null or last_contact_date > data_cutoff_date
                then data_cutoff_date
            else last_contact_date
        end as os_end_date
    from dated
),

final as (
    select
        study_id,
        patient_id,
        is_pfs_event,
        is_os_event,
        pfs_end_date,
        os_end_date,
        {{ dbt.datediff('second_line_start_date', 'pfs_end_date', 'day') }} as pfs_days,
        {{ dbt.datediff('second_line_start_date', 'os_end_date', 'day') }} as os_days,
        {{ days_to_months(dbt.datediff('second_line_start_date', 'pfs_end_date', 'day')) }}
            as pfs_months,
        {{ days_to_months(dbt.datediff('second_line_start_date', 'os_end_date', 'day')) }}
            as os_months
    from ends
)

select * from final

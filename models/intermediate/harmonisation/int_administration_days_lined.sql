{#- Lines of therapy derived from drug administrations (centers that export
    administrations, not lines). Rule, applied per patient to administration
    days in date order (supportive drugs ignored):
      a day starts a new line when it is the patient's first day, or when it
      comes more than line_gap_days after the previous day, or when a
      progression ('PD' assessment) was documented after the previous day and
      on or before this one AND this day gives a drug the previous day did not
      (a switch) or comes at least line_restart_after_progression_days after
      the previous day (a restart, e.g. a platinum re-challenge, with the same
      drugs). The rule against published ones: docs/line-of-therapy.md.
    The two parameters are the center's own (its mapping's line_derivation,
    else the vars: center_line_derivation in macros/centers.sql), carried on
    each administration so every center is derived with its own.
    One row per patient per administration day, with its line number. -#}
with

administrations as (
    {% for center_id in centers_with_kind('drug_administrations') %}
        {%- set line_derivation = center_line_derivation(center_id) %}
        select
            patient_id,
            center_id,
            administration_date,
            source_file_name,
            source_row_number,
            drug_generic_name,
            {{ line_derivation['line_gap_days'] }} as line_gap_days,
            {{ line_derivation['line_restart_after_progression_days'] }}
                as line_restart_after_progression_days
        from {{ center_ref(center_id, 'drug_administrations') }}
        where quarantine_reason is null and drug_class != 'supportive'
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

progressions as (
    select
        patient_id,
        assessment_date
    from ({{ union_center_models('assessments') }}) as center_assessments
    where quarantine_reason is null and response_code = 'PD' and assessment_date is not null
),

day_files as (
    select
        patient_id,
        center_id,
        administration_date,
        line_gap_days,
        line_restart_after_progression_days,
        source_file_name,
        min(source_row_number) as first_source_row_number
    from administrations
    group by
        patient_id,
        center_id,
        administration_date,
        line_gap_days,
        line_restart_after_progression_days,
        source_file_name
),

administration_days as (
    {#- a table delivered as several files numbers rows per file: the day's
        first record is the first row of its first file -#}
    select
        patient_id,
        center_id,
        administration_date,
        line_gap_days,
        line_restart_after_progression_days,
        min(source_file_name) as first_source_file_name,
        min(case when source_file_name = day_first_file_name then first_source_row_number end)
            as first_source_row_number
    from (
        select
            day_files.*,
            min(source_file_name) over (
                partition by patient_id, administration_date
            ) as day_first_file_name
        from day_files
    ) as day_files_ranked
    group by
        patient_id,
        center_id,
        administration_date,
        line_gap_days,
        line_restart_after_progression_days
),

{#- administration days and PD assessments in one date-ordered stream per
    patient, a PD before an administration of the same date: the PDs after
    the previous administration day and on or before this one are the
    running count at this day minus the running count at the previous one -#}
events as (
    select
        patient_id,
        center_id,
        administration_date as event_date,
        1 as is_administration_day,
        0 as is_progression,
        line_gap_days,
        line_restart_after_progression_days,
        first_source_file_name,
        first_source_row_number
    from administration_days
    union all
    select
        patient_id,
        cast(null as {{ dbt.type_string() }}) as center_id,
        assessment_date as event_date,
        0 as is_administration_day,
        1 as is_progression,
        cast(null as {{ dbt.type_int() }}) as line_gap_days,
        cast(null as {{ dbt.type_int() }}) as line_restart_after_progression_days,
        cast(null as {{ dbt.type_string() }}) as first_source_file_name,
        cast(null as {{ dbt.type_int() }}) as first_source_row_number
    from progressions
),

progressions_counted as (
    select
        events.*,
        sum(is_progression) over (
            partition by patient_id
            order by event_date, is_administration_day
            rows between unbounded preceding and current row
        ) as progressions_so_far
    from events
),

days_sequenced as (
    select
        patient_id,
        center_id,
        event_date as administration_date,
        line_gap_days,
        line_restart_after_progression_days,
        first_source_file_name,
        first_source_row_number,
        progressions_so_far,
        lag(event_date) over (
            partition by patient_id order by event_date
        ) as previous_administration_date,
        lag(progressions_so_far) over (
            partition by patient_id order by event_date
        ) as previous_progressions_so_far
    from progressions_counted
    where is_administration_day = 1
),

{#- a drug is new on a day when the last day it was given before is not the
    patient's previous administration day -#}
day_drugs as (
    select distinct
        patient_id,
        administration_date,
        drug_generic_name
    from administrations
),

drugs_sequenced as (
    select
        day_drugs.*,
        lag(administration_date) over (
            partition by patient_id, drug_generic_name
            order by administration_date
        ) as drug_previous_date
    from day_drugs
),

flagged as (
    select
        days_sequenced.patient_id,
        days_sequenced.center_id,
        days_sequenced.administration_date,
        days_sequenced.first_source_file_name,
        days_sequenced.first_source_row_number,
        case
            when days_sequenced.previous_administration_date is null then 1
            when
                {{ dbt.datediff(
                    'days_sequenced.previous_administration_date',
                    'days_sequenced.administration_date',
                    'day'
                ) }}
                > days_sequenced.line_gap_days then 1
            when
                days_sequenced.progressions_so_far > days_sequenced.previous_progressions_so_far
                and max(
                    case
                        when drugs_sequenced.drug_previous_date is null
                            or drugs_sequenced.drug_previous_date
                            < days_sequenced.previous_administration_date then 1
                        else 0
                    end
                ) = 1 then 1
            when
                days_sequenced.progressions_so_far > days_sequenced.previous_progressions_so_far
                and {{ dbt.datediff(
                    'days_sequenced.previous_administration_date',
                    'days_sequenced.administration_date',
                    'day'
                ) }}
                >= days_sequenced.line_restart_after_progression_days then 1
            else 0
        end as starts_new_line
    from days_sequenced
    inner join drugs_sequenced
        on
            days_sequenced.patient_id = drugs_sequenced.patient_id
            and days_sequenced.administration_date = drugs_sequenced.administration_date
    group by
        days_sequenced.patient_id,
        days_sequenced.center_id,
        days_sequenced.administration_date,
        days_sequenced.first_source_file_name,
        days_sequenced.first_source_row_number,
        days_sequenced.previous_administration_date,
        days_sequenced.line_gap_days,
        days_sequenced.line_restart_after_progression_days,
        days_sequenced.progressions_so_far,
        days_sequenced.previous_progressions_so_far
),

numbered as (
    select
        patient_id,
        center_id,
        administration_date,
        first_source_file_name,
        first_source_row_number,
        starts_new_line = 1 as is_line_start,
        sum(starts_new_line) over (
            partition by patient_id
            order by administration_date
            rows between unbounded preceding and current row
        ) as line_number
    from flagged
)

select * from numbered

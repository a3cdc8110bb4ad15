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
{#- the graph that says which centers deliver lines in several files exists
    only when executing -#}
{%- set split_centers = centers_with_split_line_source() if execute else [] %}
{%- set administration_centers = centers_with_kind('drug_administrations') %}
with

{# Read three times (the days, today's drugs, the previous day's): a filter of
    the staging tables, which costs less scanned again per reader than held
    (13.5 million rows at 1,000,000 patients; benchmarks/NOTES.md), unless a
    split center's window (the day's first file) is in it, which is worth
    holding (macros/adapters/cte_not_materialized.sql). #}
administrations as {{ '' if administration_centers | select('in', split_centers) | list
    else cte_not_materialized() }} (
    {% for center_id in administration_centers %}
        {%- set line_derivation = center_line_derivation(center_id) %}
        {%- set day_first_file_name = 'min(source_file_name) over (partition by patient_id, administration_date)'
            if center_id in split_centers else 'source_file_name' %}
        select
            patient_id,
            center_id,
            administration_date,
            source_file_name,
            source_row_number,
            {#- a table delivered as several files numbers rows per file: the
                day's first record is the first row of its first file; a table
                delivered as one file (as its mapping says) has one file name,
                so no window over every administration is needed -#}
            {{ day_first_file_name }} as day_first_file_name,
            drug_generic_name,
            {{ line_derivation['line_gap_days'] }} as line_gap_days,
            {{ line_derivation['line_restart_after_progression_days'] }}
                as line_restart_after_progression_days
        from {{ center_ref(center_id, 'drug_administrations') }}
        where quarantine_reason is null and drug_class != 'supportive'
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

assessments as (
    select * from ({{ union_center_models('assessments') }}) as center_assessments
    where quarantine_reason is null
),

administration_days as (
    select
        patient_id,
        center_id,
        administration_date,
        line_gap_days,
        line_restart_after_progression_days,
        min(source_file_name) as first_source_file_name,
        min(case when source_file_name = day_first_file_name then source_row_number end)
            as first_source_row_number
    from administrations
    group by
        patient_id,
        center_id,
        administration_date,
        line_gap_days,
        line_restart_after_progression_days
),

days_sequenced as (
    select
        administration_days.*,
        lag(administration_date) over (
            partition by patient_id order by administration_date
        ) as previous_administration_date
    from administration_days
),

drugs_new_on_day as (
    select
        todays.patient_id,
        todays.administration_date,
        count(*) as new_drug_count
    from administrations as todays
    inner join days_sequenced
        on
            todays.patient_id = days_sequenced.patient_id
            and todays.administration_date = days_sequenced.administration_date
    left join administrations as previous_day
        on
            todays.patient_id = previous_day.patient_id
            and days_sequenced.previous_administration_date = previous_day.administration_date
            and todays.drug_generic_name = previous_day.drug_generic_name
    where
        previous_day.patient_id is null
        and days_sequenced.previous_administration_date is not null
    group by todays.patient_id, todays.administration_date
),

progressions_since_previous_day as (
    select
        days_sequenced.patient_id,
        days_sequenced.administration_date,
        count(*) as progression_count
    from days_sequenced
    inner join assessments
        on
            days_sequenced.patient_id = assessments.patient_id
            and assessments.response_code = 'PD'
            and days_sequenced.previous_administration_date < assessments.assessment_date
            and days_sequenced.administration_date >= assessments.assessment_date
    group by days_sequenced.patient_id, days_sequenced.administration_date
),

flagged as (
    select
        days_sequenced.*,
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
                progressions_since_previous_day.progression_count > 0
                and drugs_new_on_day.new_drug_count > 0 then 1
            when
                progressions_since_previous_day.progression_count > 0
                and {{ dbt.datediff(
                    'days_sequenced.previous_administration_date',
                    'days_sequenced.administration_date',
                    'day'
                ) }}
                >= days_sequenced.line_restart_after_progression_days then 1
            else 0
        end as starts_new_line
    from days_sequenced
    left join drugs_new_on_day
        on
            days_sequenced.patient_id = drugs_new_on_day.patient_id
            and days_sequenced.administration_date = drugs_new_on_day.administration_date
    left join progressions_since_previous_day
        on
            days_sequenced.patient_id = progressions_since_previous_day.patient_id
            and days_sequenced.administration_date
            = progressions_since_previous_day.administration_date
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
